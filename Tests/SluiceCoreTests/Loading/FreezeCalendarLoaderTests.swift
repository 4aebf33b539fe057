import Foundation
import Testing
@testable import SluiceCore

@Suite("Calendar files: shared freezes")
struct FreezeCalendarLoaderTests {
    static func lines(_ result: FreezeCalendarLoadResult) -> [String] {
        result.diagnostics.map { "\($0.location):\($0.severity.rawValue): \($0.message)" }
    }

    @Test func aValidCalendarListsItsFreezesWithTheirPlaces() throws {
        let result = FreezeCalendarLoader().load(text: """
            # Freezes every team observes.
            freeze:
              - { start: 2026-12-20T00:00:00Z, end: 2027-01-04T00:00:00Z, reason: year-end freeze }
              - start: 2026-11-27T18:00:00+01:00
                end: 2026-11-30T08:00:00+01:00

            """, file: "calendar.yaml")
        let calendar = try #require(result.validCalendar)
        #expect(calendar.freezes.map(\.reason) == ["year-end freeze", nil])
        #expect(calendar.freezes.map(\.location.description) == ["calendar.yaml:3:5", "calendar.yaml:4:5"])
        #expect(calendar.freezes[1].start == WindowCalendarTests.date("2026-11-27T17:00:00Z"))
    }

    @Test func anEmptyListIsAValidCalendar() {
        #expect(FreezeCalendarLoader().load(text: "freeze: []\n", file: "c.yaml").validCalendar == FreezeCalendar(file: "c.yaml", freezes: []))
    }

    @Test(arguments: [
        ("freeze:\n  - { start: 2026-12-20, end: 2027-01-04T00:00:00Z }\n",
         ["c.yaml:2:14:error: the freeze's `start` must be an RFC 3339 time with a zone, such as 2026-11-21T08:00:00Z, not `2026-12-20`"]),
        ("freeze:\n  - { start: 2026-12-20T00:00:00Z, end: 2026-12-01T00:00:00Z }\n",
         ["c.yaml:2:41:error: the freeze's `end` must be after its `start`"]),
        ("freezes:\n  - { start: 2026-12-20T00:00:00Z, end: 2027-01-04T00:00:00Z }\n",
         ["c.yaml:1:1:error: unknown key `freezes` in the calendar file; did you mean `freeze`?",
          "c.yaml:1:1:error: the calendar file is missing the required key `freeze`"]),
        ("freeze:\n  - { start: 2026-12-20T00:00:00Z, until: 2027-01-04T00:00:00Z }\n  - { end: 2027-01-04T00:00:00Z }\n",
         ["c.yaml:2:5:error: a freeze is missing the required key `end`", "c.yaml:2:36:error: unknown key `until` in a freeze",
          "c.yaml:3:5:error: a freeze is missing the required key `start`"]),
        ("", ["c.yaml:1:1:error: calendar file is empty; list freezes under `freeze:`"]),
        ("freeze: [ { start: 2026-12-20T00:00:00Z\n", ["c.yaml:2:1:error: YAML syntax: did not find expected ',' or '}' (while parsing a flow mapping at line 1, column 11)"]),
    ])
    func problemsAreReportedAtTheirPlace(_ text: String, _ expected: [String]) {
        let result = FreezeCalendarLoader().load(text: text, file: "c.yaml")
        #expect(result.validCalendar == nil)
        #expect(Self.lines(result) == expected)
    }

    @Test func aMissingFileSaysWhereToLook() {
        let result = FreezeCalendarLoader().load(path: "/nonexistent/calendar.yaml")
        #expect(Self.lines(result) == ["/nonexistent/calendar.yaml:1:1:error: calendar file does not exist; check the path given by --calendar or SLUICE_CALENDAR"])
    }

    @Test func theCalendarsFreezesBindARunbookBesideItsOwn() throws {
        // Given a runbook with a window and a freeze of its own, and a calendar with another freeze
        let fixture = try RunbookFixture()
        let runbook = try #require(fixture.load("""
            sluice: 1
            id: bound
            window: { days: [sat, sun], from: "01:00", to: "05:00", timezone: Europe/Amsterdam }
            freeze:
              - { start: 2026-12-20T00:00:00Z, end: 2027-01-04T00:00:00Z, reason: year end }
            targets: [{ name: a }]
            steps: [{ name: s, run: echo s }]
            """).validRunbook)
        let calendar = try #require(FreezeCalendarLoader().load(text: """
            freeze:
              - { start: 2026-11-21T00:00:00Z, end: 2026-11-22T00:00:00Z, reason: release weekend }
            """, file: "calendar.yaml").validCalendar)
        // When the calendar binds the runbook
        let bound = calendar.binding(runbook)
        let window = WindowCalendar(runbook: bound)
        // Then both freezes apply: inside Saturday's window the calendar's freeze is on, naming its file
        let saturday = WindowCalendarTests.date("2026-11-21T01:00:00Z")
        #expect(WindowCalendar(runbook: runbook).verdict(at: saturday).allowsStart)
        #expect(window.verdict(at: saturday) == .frozen(until: WindowCalendarTests.date("2026-11-22T00:00:00Z"), reason: "release weekend"))
        #expect(window.freezes(at: saturday).map(\.location.description) == ["calendar.yaml:2:5"])
        #expect(window.verdict(at: WindowCalendarTests.date("2026-12-26T01:00:00Z")) == .frozen(until: WindowCalendarTests.date("2027-01-04T00:00:00Z"), reason: "year end"))
        // And Sunday's window is still open
        #expect(window.verdict(at: WindowCalendarTests.date("2026-11-22T01:00:00Z")).allowsStart)
    }
}
