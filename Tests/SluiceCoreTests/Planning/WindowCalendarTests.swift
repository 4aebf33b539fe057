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
