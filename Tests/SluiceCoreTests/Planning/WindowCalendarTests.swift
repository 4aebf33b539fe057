import Foundation
import Testing
@testable import SluiceCore

@Suite("Windows and freezes")
struct WindowCalendarTests {
    static let here = SourceLocation(file: "t", line: 1, column: 1)

    static func date(_ text: String) -> Date {
        RFC3339.parse(text) ?? Date(timeIntervalSince1970: 0)
    }

    static let weekendNights = Window(
        schedule: .recurring(days: [.sat, .sun], from: TimeOfDay("01:00")!, to: TimeOfDay("05:00")!, timeZone: "Europe/Amsterdam"),
        cutoff: .seconds(900), location: here)

    @Test func oneOffWindowOpenClosedAndCutoff() {
        let calendar = WindowCalendar(window: Window(schedule: .once(start: Self.date("2026-11-21T08:00:00Z"), end: Self.date("2026-11-21T10:00:00Z")), cutoff: .seconds(900), location: Self.here), freezes: [])
        #expect(calendar.verdict(at: Self.date("2026-11-21T07:00:00Z")) == .closed(nextOpens: Self.date("2026-11-21T08:00:00Z")))
        #expect(calendar.verdict(at: Self.date("2026-11-21T09:00:00Z")) == .open(closes: Self.date("2026-11-21T10:00:00Z"), lastStageStart: Self.date("2026-11-21T09:45:00Z")))
        #expect(calendar.verdict(at: Self.date("2026-11-21T09:50:00Z")) == .closed(nextOpens: nil))
    }

    @Test func recurringWindowInWinterTime() {
        // 2026-11-21 is a Saturday; Amsterdam is UTC+1 in November.
        let calendar = WindowCalendar(window: Self.weekendNights, freezes: [])
        #expect(calendar.verdict(at: Self.date("2026-11-21T00:30:00Z")) == .open(closes: Self.date("2026-11-21T04:00:00Z"), lastStageStart: Self.date("2026-11-21T03:45:00Z")))
        #expect(calendar.verdict(at: Self.date("2026-11-21T05:00:00Z")) == .closed(nextOpens: Self.date("2026-11-22T00:00:00Z")))
        #expect(calendar.verdict(at: Self.date("2026-11-23T12:00:00Z")) == .closed(nextOpens: Self.date("2026-11-28T00:00:00Z")))
    }

    @Test func recurringWindowAcrossBothDaylightSavingChanges() {
        let calendar = WindowCalendar(window: Self.weekendNights, freezes: [])
        // Sunday 2027-03-28: clocks go from 02:00 to 03:00, so 01:00-05:00 local is 00:00Z-03:00Z.
        #expect(calendar.verdict(at: Self.date("2027-03-28T02:30:00Z")) == .open(closes: Self.date("2027-03-28T03:00:00Z"), lastStageStart: Self.date("2027-03-28T02:45:00Z")))
        // Sunday 2026-10-25: clocks go from 03:00 back to 02:00, so 01:00-05:00 local is 23:00Z-04:00Z.
        #expect(calendar.verdict(at: Self.date("2026-10-25T03:30:00Z")) == .open(closes: Self.date("2026-10-25T04:00:00Z"), lastStageStart: Self.date("2026-10-25T03:45:00Z")))
        #expect(calendar.verdict(at: Self.date("2026-10-24T23:30:00Z")) == .open(closes: Self.date("2026-10-25T04:00:00Z"), lastStageStart: Self.date("2026-10-25T03:45:00Z")))
    }

    @Test func freezeOverlappingAWindowWins() {
        let freeze = Freeze(start: Self.date("2026-11-21T00:00:00Z"), end: Self.date("2026-11-22T02:00:00Z"), reason: "release weekend", location: Self.here)
        let calendar = WindowCalendar(window: Self.weekendNights, freezes: [freeze])
        #expect(calendar.verdict(at: Self.date("2026-11-21T01:00:00Z")) == .frozen(until: Self.date("2026-11-22T02:00:00Z"), reason: "release weekend"))
        // The next opening is Sunday's window, after the freeze ends.
        #expect(calendar.nextOpening(after: Self.date("2026-11-21T01:00:00Z")) == Self.date("2026-11-22T02:00:00Z"))
    }

    @Test func noWindowIsUnrestricted() {
        #expect(WindowCalendar(window: nil, freezes: []).verdict(at: Date()) == .unrestricted)
    }
}

/// Windows on the nights Europe/Amsterdam changes its clocks (2026: summer time starts Sunday
/// 29 March at 02:00, ends Sunday 25 October at 03:00), and windows cut by freezes.
@Suite("Windows across daylight saving, and freezes cutting them")
struct WindowDaylightSavingTests {
    static let here = SourceLocation(file: "t", line: 1, column: 1)

    static func date(_ text: String) -> Date { WindowCalendarTests.date(text) }

    static func weekly(_ days: Set<Weekday>, _ from: String, _ to: String, cutoff: Duration = .zero) -> Window {
        Window(schedule: .recurring(days: days, from: TimeOfDay(from)!, to: TimeOfDay(to)!, timeZone: "Europe/Amsterdam"), cutoff: cutoff, location: here)
    }

    @Test func twoToFourOnTheNightSummerTimeStartsIsOneHourLong() {
        // Given Sunday 02:00-04:00 local: 02:00 does not exist on 29 March, so it opens at 03:00 CEST
        let calendar = WindowCalendar(window: Self.weekly([.sun], "02:00", "04:00"), freezes: [])
        // When the next three windows are listed from the Saturday before
        let periods = calendar.openPeriods(from: Self.date("2026-03-21T12:00:00Z"), limit: 3)
        // Then the week before is CET, the night itself is one hour, the week after is CEST
        #expect(periods.map(\.start) == ["2026-03-22T01:00:00Z", "2026-03-29T01:00:00Z", "2026-04-05T00:00:00Z"].map(Self.date))
        #expect(periods.map(\.end) == ["2026-03-22T03:00:00Z", "2026-03-29T02:00:00Z", "2026-04-05T02:00:00Z"].map(Self.date))
        // 01:30 CET, before the jump: still closed; 03:30 CEST: open until 04:00 CEST
        #expect(calendar.verdict(at: Self.date("2026-03-29T00:30:00Z")) == .closed(nextOpens: Self.date("2026-03-29T01:00:00Z")))
        #expect(calendar.verdict(at: Self.date("2026-03-29T01:30:00Z")) == .open(closes: Self.date("2026-03-29T02:00:00Z"), lastStageStart: Self.date("2026-03-29T02:00:00Z")))
    }

    @Test func twoToFourOnTheNightSummerTimeEndsIsThreeHoursLong() {
        // Given Sunday 02:00-04:00 local: on 25 October 02:00-03:00 happens twice
        let calendar = WindowCalendar(window: Self.weekly([.sun], "02:00", "04:00"), freezes: [])
        let periods = calendar.openPeriods(from: Self.date("2026-10-18T12:00:00Z"), limit: 3)
        // Then it opens at the first 02:00 (CEST) and closes at 04:00 CET
        #expect(periods.map(\.start) == ["2026-10-25T00:00:00Z", "2026-11-01T01:00:00Z", "2026-11-08T01:00:00Z"].map(Self.date))
        #expect(periods.map(\.end) == ["2026-10-25T03:00:00Z", "2026-11-01T03:00:00Z", "2026-11-08T03:00:00Z"].map(Self.date))
        // 02:30 on the second pass (CET) is inside
        #expect(calendar.verdict(at: Self.date("2026-10-25T01:30:00Z")) == .open(closes: Self.date("2026-10-25T03:00:00Z"), lastStageStart: Self.date("2026-10-25T03:00:00Z")))
        #expect(calendar.verdict(at: Self.date("2026-10-25T03:00:00Z")) == .closed(nextOpens: Self.date("2026-11-01T01:00:00Z")))
    }

    @Test func tenToTwoAcrossMidnightOnTheNightSummerTimeStarts() {
        // Given Saturday 22:00 to Sunday 02:00 local, with a 30 minute cutoff
        let calendar = WindowCalendar(window: Self.weekly([.sat], "22:00", "02:00", cutoff: .seconds(1800)), freezes: [])
        let periods = calendar.openPeriods(from: Self.date("2026-03-21T12:00:00Z"), limit: 3)
        // Then on 28 March it opens at 22:00 CET and closes when 02:00 would be, 03:00 CEST: four real hours
        #expect(periods.map(\.start) == ["2026-03-21T21:00:00Z", "2026-03-28T21:00:00Z", "2026-04-04T20:00:00Z"].map(Self.date))
        #expect(periods.map(\.end) == ["2026-03-22T01:00:00Z", "2026-03-29T01:00:00Z", "2026-04-05T00:00:00Z"].map(Self.date))
        #expect(periods.map(\.lastStageStart) == ["2026-03-22T00:30:00Z", "2026-03-29T00:30:00Z", "2026-04-04T23:30:00Z"].map(Self.date))
        // Just after midnight, on the Sunday, it is still Saturday's window
        #expect(calendar.verdict(at: Self.date("2026-03-28T23:30:00Z")) == .open(closes: Self.date("2026-03-29T01:00:00Z"), lastStageStart: Self.date("2026-03-29T00:30:00Z")))
    }

    @Test func tenToTwoAcrossMidnightOnTheNightSummerTimeEnds() {
        let calendar = WindowCalendar(window: Self.weekly([.sat], "22:00", "02:00", cutoff: .seconds(1800)), freezes: [])
        let periods = calendar.openPeriods(from: Self.date("2026-10-17T12:00:00Z"), limit: 3)
        // On 24 October it opens at 22:00 CEST and closes at the first 02:00 (CEST)
        #expect(periods.map(\.start) == ["2026-10-17T20:00:00Z", "2026-10-24T20:00:00Z", "2026-10-31T21:00:00Z"].map(Self.date))
        #expect(periods.map(\.end) == ["2026-10-18T00:00:00Z", "2026-10-25T00:00:00Z", "2026-11-01T01:00:00Z"].map(Self.date))
        // 01:45 CEST is within the cutoff: closed until next Saturday, 22:00 CET
        #expect(calendar.verdict(at: Self.date("2026-10-24T23:45:00Z")) == .closed(nextOpens: Self.date("2026-10-31T21:00:00Z")))
    }

    @Test func aFreezeInsideAWindowCutsItAndTheCutoffAppliesBeforeTheFreeze() {
        // Given Saturday 01:00-05:00 Amsterdam (00:00Z-04:00Z in November), cutoff 15m, and a
        // freeze from 01:30Z to 02:30Z
        let freeze = Freeze(start: Self.date("2026-11-21T01:30:00Z"), end: Self.date("2026-11-21T02:30:00Z"), reason: "db maintenance", location: Self.here)
        let calendar = WindowCalendar(window: WindowCalendarTests.weekendNights, freezes: [freeze])
        // Then the window is open until the freeze, with the cutoff before it
        #expect(calendar.verdict(at: Self.date("2026-11-21T00:30:00Z")) == .open(closes: Self.date("2026-11-21T01:30:00Z"), lastStageStart: Self.date("2026-11-21T01:15:00Z")))
        #expect(calendar.verdict(at: Self.date("2026-11-21T01:20:00Z")) == .closed(nextOpens: Self.date("2026-11-21T02:30:00Z")))
        #expect(calendar.verdict(at: Self.date("2026-11-21T02:00:00Z")) == .frozen(until: Self.date("2026-11-21T02:30:00Z"), reason: "db maintenance"))
        #expect(calendar.verdict(at: Self.date("2026-11-21T02:40:00Z")) == .open(closes: Self.date("2026-11-21T04:00:00Z"), lastStageStart: Self.date("2026-11-21T03:45:00Z")))
        // And the listing shows the window in two parts, each naming the freeze
        let periods = calendar.openPeriods(from: Self.date("2026-11-20T12:00:00Z"), limit: 3)
        #expect(periods == [
            OpenPeriod(start: Self.date("2026-11-21T00:00:00Z"), end: Self.date("2026-11-21T01:30:00Z"), lastStageStart: Self.date("2026-11-21T01:15:00Z"), before: freeze),
            OpenPeriod(start: Self.date("2026-11-21T02:30:00Z"), end: Self.date("2026-11-21T04:00:00Z"), lastStageStart: Self.date("2026-11-21T03:45:00Z"), after: freeze),
            OpenPeriod(start: Self.date("2026-11-22T00:00:00Z"), end: Self.date("2026-11-22T04:00:00Z"), lastStageStart: Self.date("2026-11-22T03:45:00Z")),
        ])
    }

    @Test func aFreezeCoveringWholeWindowsSkipsThem() {
        // Given a freeze over the whole weekend of 21-22 November
        let freeze = Freeze(start: Self.date("2026-11-20T00:00:00Z"), end: Self.date("2026-11-23T00:00:00Z"), reason: "release weekend", location: Self.here)
        let calendar = WindowCalendar(window: WindowCalendarTests.weekendNights, freezes: [freeze])
        // Then the next window is the weekend after
        #expect(calendar.openPeriods(from: Self.date("2026-11-19T12:00:00Z"), limit: 1).map(\.start) == [Self.date("2026-11-28T00:00:00Z")])
        #expect(calendar.verdict(at: Self.date("2026-11-19T12:00:00Z")) == .closed(nextOpens: Self.date("2026-11-28T00:00:00Z")))
    }

    @Test func overlappingFreezesReadAsOneUntilTheLastEnds() {
        // Given no window and two freezes that overlap
        let first = Freeze(start: Self.date("2026-12-01T10:00:00Z"), end: Self.date("2026-12-01T12:00:00Z"), reason: "audit", location: Self.here)
        let second = Freeze(start: Self.date("2026-12-01T11:00:00Z"), end: Self.date("2026-12-01T14:00:00Z"), reason: "release", location: Self.here)
        let calendar = WindowCalendar(window: nil, freezes: [second, first])
        // Then a stage may not start until the second ends, and both reasons are given
        #expect(calendar.verdict(at: Self.date("2026-12-01T10:30:00Z")) == .frozen(until: Self.date("2026-12-01T14:00:00Z"), reason: "audit; release"))
        #expect(calendar.nextOpening(after: Self.date("2026-12-01T10:30:00Z")) == Self.date("2026-12-01T14:00:00Z"))
        #expect(calendar.verdict(at: Self.date("2026-12-01T14:00:00Z")) == .unrestricted)
        #expect(calendar.upcomingFreezes(from: Self.date("2026-12-01T11:30:00Z")) == [first, second])
    }

    @Test func aOneOffWindowInThePastNeverOpensAgain() {
        let window = Window(schedule: .once(start: Self.date("2020-01-01T00:00:00Z"), end: Self.date("2020-01-02T00:00:00Z")), location: Self.here)
        let calendar = WindowCalendar(window: window, freezes: [])
        #expect(calendar.openPeriods(from: Self.date("2026-01-01T00:00:00Z")).isEmpty)
        #expect(calendar.verdict(at: Self.date("2026-01-01T00:00:00Z")) == .closed(nextOpens: nil))
    }
}
