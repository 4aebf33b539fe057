import Foundation

/// Whether a stage may start at a given moment, from the runbook's window and freezes.
public enum WindowVerdict: Sendable, Equatable, Codable {
    /// The runbook has no window and no freeze is on.
    case unrestricted
    /// Inside the window, which closes at `closes`; no new stage may start after `closes - cutoff`.
    case open(closes: Date, lastStageStart: Date)
    /// Outside the window; it next opens at `nextOpens` (nil when it never opens again).
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

/// Evaluates windows and freezes against a moment. Pure: the moment is an argument.
public struct WindowCalendar: Sendable {
    public var window: Window?
    public var freezes: [Freeze]

    public init(window: Window?, freezes: [Freeze]) {
        self.window = window
        self.freezes = freezes
    }

    public init(runbook: Runbook) {
        self.init(window: runbook.window, freezes: runbook.freezes)
    }

    /// The verdict at `now`. A freeze wins over an open window; within the window's cutoff a
    /// stage may not start, which reads as closed until the next opening.
    public func verdict(at now: Date) -> WindowVerdict {
        if let freeze = freezes.first(where: { $0.start <= now && now < $0.end }) {
            return .frozen(until: freeze.end, reason: freeze.reason)
        }
        guard let window else { return .unrestricted }
        if let current = opening(containing: now, in: window) {
            let lastStart = current.end.addingTimeInterval(-window.cutoff.timeInterval)
            if now < lastStart { return .open(closes: current.end, lastStageStart: lastStart) }
        }
        return .closed(nextOpens: nextOpening(after: now))
    }

    /// The next moment after `now` at which a stage could start: inside a window, outside every
    /// freeze, before the cutoff. Looks up to 400 days ahead.
    public func nextOpening(after now: Date) -> Date? {
        guard let window else {
            return freezes.filter { $0.start <= now && now < $0.end }.map(\.end).max()
        }
        var candidates = openings(from: now.addingTimeInterval(-86_400 * 2), days: 400, in: window)
        candidates.sort { $0.start < $1.start }
        for period in candidates {
            let lastStart = period.end.addingTimeInterval(-window.cutoff.timeInterval)
            var start = max(period.start, now)
            // Step past freezes that cover the start.
            while let freeze = freezes.first(where: { $0.start <= start && start < $0.end }) { start = freeze.end }
            // `start` is never before `now`; equal means `now` is already open, which is not "next".
            if start > now, start < lastStart { return start }
        }
        return nil
    }

    private func opening(containing now: Date, in window: Window) -> DateInterval? {
        openings(from: now.addingTimeInterval(-86_400 * 2), days: 4, in: window).first { $0.start <= now && now < $0.end }
    }

    /// Every opening of the window that starts within `days` days from `start`.
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
    /// forward to the first moment that exists; `24:00` is the next midnight.
    private static func time(_ time: TimeOfDay, on day: Date, in calendar: Calendar) -> Date? {
        if time.hour == 24 { return calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: day)) }
        return calendar.date(bySettingHour: time.hour, minute: time.minute, second: 0, of: day, matchingPolicy: .nextTime, repeatedTimePolicy: .first, direction: .forward)
    }
}

extension Duration {
    /// The duration in seconds, as Foundation counts time.
    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
