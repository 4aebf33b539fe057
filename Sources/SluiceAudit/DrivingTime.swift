import SluiceCore

/// The driving time of a run: what `sluice runs` shows as TOOK. A pure function of the run's
/// events, shared by every store.
public enum DrivingTime {
    /// How long runners drove one run, in milliseconds, from its events in chain order (each
    /// event's kind, `nil` for one this version does not know, and its ``Timestamp`` text), as
    /// ``RunCatalog/drivenMilliseconds(of:)`` defines it; `nil` when no driving began.
    public static func milliseconds(_ events: [(kind: EventKind?, time: String)]) -> Int64? {
        let begins: Set<EventKind> = [.runStarted, .runResumed, .rollbackRequested]
        // What the next driver records before its `run.resumed` or `rollback.requested` is not
        // the dead driver's time.
        let takingOver: Set<EventKind> = [.lockAcquired, .lockForced, .runInterrupted, .processTerminated, .windowOverridden]
        var total: Int64 = 0
        var counted = false
        var driving: (start: Int64, last: Int64)?
        for event in events {
            guard let time = Timestamp.milliseconds(event.time) else { continue }
            guard let kind = event.kind else { continue }  // a kind a newer Sluice wrote
            if begins.contains(kind) {
                if let open = driving { total += open.last - open.start }  // its runner died
                driving = (time, time)
                counted = true
            } else if var open = driving, !takingOver.contains(kind) {
                open.last = time
                driving = kind == .runFinished ? nil : open
                if kind == .runFinished { total += open.last - open.start }
            }
        }
        if let open = driving { total += open.last - open.start }
        return counted ? total : nil
    }
}
