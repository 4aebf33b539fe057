import Foundation

/// Whether a stage may start at a given moment, from the runbook's window and freezes.
public enum WindowVerdict: Sendable, Equatable, Codable {
    /// The runbook has no window and no freeze is on.
    case unrestricted
    /// Inside the window, which closes at `closes` (or a freeze begins then); no new stage may
    /// start after `closes - cutoff`.
    case open(closes: Date, lastStageStart: Date)
    /// Outside the window; it next opens at `nextOpens` (nil when it does not open within ``horizonDays`` days).
    case closed(nextOpens: Date?)
    /// A freeze is on until `until`.
    case frozen(until: Date, reason: String?)

    /// The last moment a stage may start, when the run is inside its window.
    public var lastStageStart: Date? {
        if case .open(_, let lastStageStart) = self { lastStageStart } else { nil }
    }

    /// Whether a new stage may start now.
    public var allowsStart: Bool {
        switch self {
        case .unrestricted, .open: true
        case .closed, .frozen: false
        }
    }
}

/// A stretch of time in which a stage may start: part of one opening of the window, outside
/// every freeze.
public struct OpenPeriod: Sendable, Equatable {
    /// When the period begins: the window opens, or a freeze that covered the opening ends.
    public var start: Date
    /// When it ends: the window closes, or a freeze begins.
    public var end: Date
    /// No new stage may start at or after this moment: `end` less the window's cutoff.
    public var lastStageStart: Date
    /// The freeze that ends at `start`, when the period begins after the window opened.
    public var after: Freeze?
    /// The freeze that begins at `end`, when the period ends before the window closes.
    public var before: Freeze?

    /// A period; ``WindowCalendar/openPeriods(from:limit:)`` makes them, with `lastStageStart`
    /// after `start`.
    public init(start: Date, end: Date, lastStageStart: Date, after: Freeze? = nil, before: Freeze? = nil) {
        self.start = start
        self.end = end
        self.lastStageStart = lastStageStart
        self.after = after
        self.before = before
    }
}

/// Evaluates windows and freezes against a moment. Pure: the moment is an argument.
///
/// Freezes cut windows: a freeze that begins inside an opening ends that stretch of it, and the
/// cutoff applies before the freeze begins just as before the window closes, because a stage
/// started just before a freeze would run on into it.
public struct WindowCalendar: Sendable {
    /// The window; nil: a stage may start whenever no freeze is on.
    public var window: Window?
    /// Every freeze that binds the runbook, its own and a shared calendar's.
    public var freezes: [Freeze]

    /// How far ahead openings are looked for.
    public static let horizonDays = 400

    /// A calendar of `window` cut by `freezes`.
    public init(window: Window?, freezes: [Freeze]) {
        self.window = window
        self.freezes = freezes
    }

    /// The runbook's window and freezes; a shared calendar's freezes are merged into the
    /// runbook when it is loaded (``FreezeCalendar/binding(_:)``).
    public init(runbook: Runbook) {
        self.init(window: runbook.window, freezes: runbook.freezes)
    }

    /// The verdict at `now`. A freeze wins over an open window; within the cutoff before the
    /// window closes or a freeze begins, a stage may not start, which reads as closed until the
    /// next opening.
    public func verdict(at now: Date) -> WindowVerdict {
        if let span = freezeSpan(containing: now) {
            return .frozen(until: span.end, reason: span.reason)
        }
        guard let window else { return .unrestricted }
        let nearby = openings(from: now.addingTimeInterval(-2 * Self.day), days: 4, in: window)
        if let period = periods(in: nearby, cutoff: window.cutoff).first(where: { $0.start <= now && now < $0.end }),
            now < period.lastStageStart
        {
            return .open(closes: period.end, lastStageStart: period.lastStageStart)
        }
        return .closed(nextOpens: nextOpening(after: now))
    }

    /// The next moment after `now` at which a stage could start: inside a window, outside every
    /// freeze, before the cutoff. Looks up to ``horizonDays`` days ahead. Without a window, the
    /// end of the freeze that is on, if any.
    public func nextOpening(after now: Date) -> Date? {
        guard window != nil else { return freezeSpan(containing: now)?.end }
        // A period already open at `now` is not "next".
        return openPeriods(from: now).first { $0.start > now }?.start
    }

    /// The periods in which a stage may start, in order, from the one open at `now` (if any)
    /// up to ``horizonDays`` days ahead; at most `limit` of them. Empty without a window: then
    /// nothing but freezes restricts a start.
    ///
    /// A period open at `now` keeps its real start, which is before `now`. Periods too short to
    /// start a stage in (no longer than the cutoff) and periods whose last stage start is past
    /// are left out.
    public func openPeriods(from now: Date, limit: Int = .max) -> [OpenPeriod] {
        guard let window, limit > 0 else { return [] }
        let candidates = openings(from: now.addingTimeInterval(-2 * Self.day), days: Self.horizonDays + 2, in: window)
        var result: [OpenPeriod] = []
        for period in periods(in: candidates, cutoff: window.cutoff) where period.lastStageStart > now {
            result.append(period)
            if result.count == limit { break }
        }
        return result
    }

    /// The freezes in effect at `now` (several when they overlap).
    public func freezes(at now: Date) -> [Freeze] {
        freezes.filter { $0.start <= now && now < $0.end }
    }

    /// Freezes that have not ended by `now`, in order of start, up to the horizon.
    public func upcomingFreezes(from now: Date) -> [Freeze] {
        let horizon = now.addingTimeInterval(Double(Self.horizonDays) * Self.day)
        return freezes.filter { $0.end > now && $0.start < horizon }.sorted { ($0.start, $0.end) < ($1.start, $1.end) }
    }

    // MARK: Freezes

    /// Overlapping or touching freezes, merged: nothing may start from `start` to `end`.
    struct FreezeSpan {
        var start: Date
        var end: Date
        var members: [Freeze]

        /// Every distinct reason, in order of start.
        var reason: String? {
            var seen = Set<String>()
            let reasons = members.compactMap(\.reason).filter { seen.insert($0).inserted }
            return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
        }
    }

    var freezeSpans: [FreezeSpan] {
        var spans: [FreezeSpan] = []
        for freeze in freezes.sorted(by: { ($0.start, $0.end) < ($1.start, $1.end) }) {
            if let last = spans.last, freeze.start <= last.end {
                spans[spans.count - 1].end = max(last.end, freeze.end)
                spans[spans.count - 1].members.append(freeze)
            } else {
                spans.append(FreezeSpan(start: freeze.start, end: freeze.end, members: [freeze]))
            }
        }
        return spans
    }

    /// The merged freeze covering `now`, so that a chain of freezes reads as one "until".
    func freezeSpan(containing now: Date) -> FreezeSpan? {
        freezeSpans.first { $0.start <= now && now < $0.end }
    }

    /// Each opening less the freezes, as periods with their last stage start; periods too short
    /// for any stage to start are dropped.
    func periods(in openings: [DateInterval], cutoff: Duration) -> [OpenPeriod] {
        let spans = freezeSpans
        var result: [OpenPeriod] = []
        func append(_ start: Date, _ end: Date, after: Freeze?, before: Freeze?) {
            let lastStart = end.addingTimeInterval(-cutoff.timeInterval)
            guard lastStart > start else { return }
            result.append(OpenPeriod(start: start, end: end, lastStageStart: lastStart, after: after, before: before))
        }
        for opening in openings.sorted(by: { $0.start < $1.start }) {
            var start = opening.start
            var after: Freeze?
            for span in spans where span.end > start && span.start < opening.end {
                if span.start > start {
                    let first = span.members.min { $0.start < $1.start }
                    append(start, span.start, after: after, before: first)
                }
                start = max(start, span.end)
                after = span.members.max { $0.end < $1.end }
            }
            if start < opening.end { append(start, opening.end, after: after, before: nil) }
        }
        return result
    }

    // MARK: Openings

    private static let day: TimeInterval = 86_400

    /// Every opening of the window that starts within `days` days from `start`.
    ///
    /// Times are wall-clock times in the window's zone. On a night when the clocks go forward a
    /// time that does not exist moves to the first moment after the gap (02:30 becomes 03:00);
    /// on a night when they go back a time that happens twice means its first occurrence. So a
    /// 02:00-04:00 window is one hour long the night summer time starts and three hours the
    /// night it ends: it covers what the wall clock shows.
    func openings(from start: Date, days: Int, in window: Window) -> [DateInterval] {
        switch window.schedule {
        case .once(let begin, let end):
            return [DateInterval(start: begin, end: end)]
        case .recurring(let weekdays, let from, let to, let zoneName):
            guard let zone = TimeZone(identifier: zoneName) else { return [] }
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            var result: [DateInterval] = []
            let firstDay = calendar.startOfDay(for: start)
            for offset in 0..<days {
                guard let day = calendar.date(byAdding: .day, value: offset, to: firstDay),
                    let weekday = Self.weekday(of: day, in: calendar), weekdays.contains(weekday),
                    let opens = Self.time(from, on: day, in: calendar)
                else { continue }
                let closingDay = (to.hour, to.minute) <= (from.hour, from.minute)
                    ? calendar.date(byAdding: .day, value: 1, to: day) : day
                guard let closingDay, let closes = Self.time(to, on: closingDay, in: calendar), opens < closes else { continue }
                result.append(DateInterval(start: opens, end: closes))
            }
            return result
        }
    }

    private static func weekday(of day: Date, in calendar: Calendar) -> Weekday? {
        // Calendar counts Sunday as 1.
        let names: [Weekday] = [.sun, .mon, .tue, .wed, .thu, .fri, .sat]
        let index = calendar.component(.weekday, from: day) - 1
        return names.indices.contains(index) ? names[index] : nil
    }

    /// `time` on `day` in the calendar's zone. A time skipped by a daylight-saving change moves
    /// forward to the first moment that exists; a repeated one is its first occurrence; `24:00`
    /// is the next midnight.
    private static func time(_ time: TimeOfDay, on day: Date, in calendar: Calendar) -> Date? {
        if time.hour == 24 { return calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: day)) }
        return calendar.date(bySettingHour: time.hour, minute: time.minute, second: 0, of: day, matchingPolicy: .nextTime, repeatedTimePolicy: .first, direction: .forward)
    }
}

extension Duration {
    /// The duration in seconds, as Foundation counts time.
    package var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
