import Synchronization

/// The operator's request to stop a run: the first Ctrl-C or SIGTERM sets it, and the engine
/// stops starting steps. Waiting polls, so that a run that ends without a stop leaves no waiter.
public final class StopSignal: Sendable {
    private let requested = Atomic<Bool>(false)

    public init() {}

    public func request() { requested.store(true, ordering: .releasing) }

    public var isRequested: Bool { requested.load(ordering: .acquiring) }

    /// Waits until a stop is requested (true) or `finished` says the run is over (false).
    func wait(until finished: @Sendable () -> Bool) async -> Bool {
        while !finished() {
            if isRequested { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
