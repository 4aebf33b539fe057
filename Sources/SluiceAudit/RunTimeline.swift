/// A run's events arranged for people: by stage, then target, with each `*.started` event
/// merged with the matching `*.finished` event (same stage, target and step) into one entry.
///
/// Built from the event chain alone, so it shows what was recorded even when the run's row is
/// missing or out of date.
public struct RunTimeline: Sendable, Encodable {
    /// One action or occurrence on the timeline.
    public struct Entry: Sendable, Encodable, Hashable {
        /// The event kind without `.started`/`.finished` for merged entries and steps (`step`,
        /// `rollback.step`, `stage`, `run`), else the full kind (`lock.acquired`).
        public var kind: String
        /// The step's name, if any.
        public var step: String?
        /// When it started (or happened).
        public var time: String
        /// When it finished, for merged entries that finished.
        public var finishedAt: String?
        /// Its status, if recorded.
        public var status: String?
        /// The command's exit status, if recorded.
        public var exitCode: Int?
        /// How long it took, in milliseconds, if recorded.
        public var durationMilliseconds: Int64?
        /// The rendered command, from the detail's `command`.
        public var command: String?
        /// The output tail, from the detail's `output`.
        public var output: String?
        /// Other detail members (reason, outcome, …), as the values they are.
        public var notes: [String: JSONValue]
        /// Whether this is a started step with no finished event: it may or may not have run to
        /// completion (SPEC section 4 calls such a step in doubt).
        public var inDoubt: Bool
        /// The seqs of the events this entry came from.
        public var seqs: [Int64]

        /// snake_case, as every JSON Sluice writes.
        enum CodingKeys: String, CodingKey {
            case kind, step, time, status, command, output, notes, seqs
            case finishedAt = "finished_at", exitCode = "exit_code", durationMilliseconds = "duration_ms", inDoubt = "in_doubt"
        }
    }

    /// The entries about one target (or about no target) within a section.
    public struct Track: Sendable, Encodable, Hashable {
        /// The target, or `nil` for stage- or run-level events.
        public var target: String?
        /// Its entries, in chain order.
        public var entries: [Entry]
    }

    /// The events of one stage, or of no stage (run-level events).
    public struct Section: Sendable, Encodable, Hashable {
        /// The stage, or `nil` for events outside stages.
        public var stage: String?
        /// Its tracks, in order of first appearance; the target-less track first.
        public var tracks: [Track]
    }

    /// The run's row, when recorded.
    public var run: RunRecord?
    /// The sections in order of first appearance.
    public var sections: [Section]

    /// Builds the timeline of `events` (the events of one run, in chain order).
    public init(run: RunRecord?, events: [RecordedEvent]) {
        self.run = run
        var sections: [Section] = []
        var sectionIndex: [String?: Int] = [:]
        var trackIndex: [SlotKey: Int] = [:]
        var openEntries: [OpenKey: (section: Int, track: Int, entry: Int)] = [:]

        for event in events {
            let section: Int
            if let existing = sectionIndex[event.stage] {
                section = existing
            } else {
                section = sections.count
                sectionIndex[event.stage] = section
                sections.append(Section(stage: event.stage, tracks: []))
            }
            let slot = SlotKey(stage: event.stage, target: event.target)
            let track: Int
            if let existing = trackIndex[slot] {
                track = existing
            } else {
                track = sections[section].tracks.count
                trackIndex[slot] = track
                sections[section].tracks.append(Track(target: event.target, entries: []))
            }

            let detail: [String: JSONValue] = if case .object(let members)? = JSONValue(json: event.detail) { members } else { [:] }
            if event.kind.hasSuffix(".finished") {
                let base = String(event.kind.dropLast(".finished".count))
                let key = OpenKey(base: base, stage: event.stage, target: event.target, step: event.step)
                if let open = openEntries.removeValue(forKey: key) {
                    var entry = sections[open.section].tracks[open.track].entries[open.entry]
                    entry.kind = base
                    entry.finishedAt = event.time
                    entry.inDoubt = false
                    Self.merge(event, detail: detail, into: &entry)
                    sections[open.section].tracks[open.track].entries[open.entry] = entry
                    continue
                }
            }
            var entry = Entry(
                kind: event.kind, step: event.step, time: event.time, finishedAt: nil, status: nil, exitCode: nil,
                durationMilliseconds: nil, command: nil, output: nil, notes: [:], inDoubt: false, seqs: [])
            Self.merge(event, detail: detail, into: &entry)
            if event.kind.hasSuffix(".started") {
                let base = String(event.kind.dropLast(".started".count))
                // Only a step can be in doubt; a stage or run that never finished keeps its
                // `*.started` kind, which says as much.
                if event.step != nil {
                    entry.kind = base
                    entry.inDoubt = true
                }
                openEntries[OpenKey(base: base, stage: event.stage, target: event.target, step: event.step)] =
                    (section, track, sections[section].tracks[track].entries.count)
            } else if event.step != nil, event.kind.hasSuffix(".finished") {
                entry.kind = String(event.kind.dropLast(".finished".count))
            }
            sections[section].tracks[track].entries.append(entry)
        }
        // Run-level events first, then stages in order; within a section, target-less first.
        let arranged = sections.map { section in
            var arranged = section
            arranged.tracks = section.tracks.filter { $0.target == nil } + section.tracks.filter { $0.target != nil }
            return arranged
        }
        self.sections = arranged.filter { $0.stage == nil } + arranged.filter { $0.stage != nil }
    }

    private struct SlotKey: Hashable {
        let stage: String?
        let target: String?
    }

    private struct OpenKey: Hashable {
        let base: String
        let stage: String?
        let target: String?
        let step: String?
    }

    private static func merge(_ event: RecordedEvent, detail: [String: JSONValue], into entry: inout Entry) {
        entry.seqs.append(event.seq)
        entry.status = event.status ?? entry.status
        entry.exitCode = event.exitCode ?? entry.exitCode
        entry.durationMilliseconds = event.durationMilliseconds ?? entry.durationMilliseconds
        for (key, value) in detail {
            switch (key, value) {
            case ("command", .string(let text)): entry.command = text
            case ("output", .string(let text)): entry.output = text
            default: entry.notes[key] = value
            }
        }
    }
}
