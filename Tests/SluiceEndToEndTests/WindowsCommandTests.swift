import Foundation
import SluiceTesting
import Testing

@Suite("Windows, freezes and the shared calendar, run as a program", .ownThread)
struct WindowsCommandTests {
    static let weekendNights = """
        window: { days: [sat, sun], from: "01:00", to: "05:00", timezone: Europe/Amsterdam, cutoff: 15m }
        """

    @Test func windowsListsTheNextWindowsCutAroundTheCalendarsFreezes() throws {
        // Given weekend nights in Amsterdam and a calendar freezing part of Saturday's night
        let world = try GatesWorld(extra: Self.weekendNights)
        try world.folder.write("calendar.yaml", """
            freeze:
              - { start: 2026-11-21T01:30:00Z, end: 2026-11-21T02:30:00Z, reason: db maintenance }

            """)
        // When the next three windows are listed from Friday noon
        let result = try world.run(["windows", "runbook.yaml", "--calendar", "calendar.yaml", "--from", "2026-11-20T12:00:00Z", "--count", "3"])
        // Then Saturday's window comes in two parts, each naming the freeze and where it is declared
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "Windows for gates: every sat, sun 01:00-05:00 Europe/Amsterdam, cutoff 15m; 1 freeze (1 from the calendar file)")
        #expect(lines.contains("From 2026-11-20T13:00:00+01:00: the window is closed; it next opens 2026-11-21T01:00:00+01:00."))
        #expect(lines.contains("2026-11-21T01:00:00+01:00  2026-11-21T02:30:00+01:00  2026-11-21T02:15:00+01:00  cut by freeze `db maintenance` (calendar.yaml:2:5)"))
        #expect(lines.contains("2026-11-21T03:30:00+01:00  2026-11-21T05:00:00+01:00  2026-11-21T04:45:00+01:00  after freeze `db maintenance` (calendar.yaml:2:5)"))
        #expect(lines.last == "2026-11-22T01:00:00+01:00  2026-11-22T05:00:00+01:00  2026-11-22T04:45:00+01:00")
    }

    @Test func windowsAsJSONGivesUTCTimesAndTheFreezes() throws {
        let world = try GatesWorld(extra: Self.weekendNights)
        try world.folder.write("calendar.yaml", "freeze:\n  - { start: 2026-11-21T01:30:00Z, end: 2026-11-21T02:30:00Z, reason: db maintenance }\n")
        let result = try world.run(["windows", "runbook.yaml", "--from", "2026-11-21T00:30:00Z", "--count", "2", "--json"], environment: ["SLUICE_CALENDAR": "calendar.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["start_allowed_now"] as? Bool == true)
        let windows = try #require(document["windows"] as? [[String: Any]])
        #expect(windows.map { $0["start"] as? String } == ["2026-11-21T00:00:00Z", "2026-11-21T02:30:00Z"])
        #expect(windows.map { $0["last_stage_start"] as? String } == ["2026-11-21T01:15:00Z", "2026-11-21T03:45:00Z"])
        #expect(windows.map { $0["open_now"] as? Bool } == [true, false])
        #expect((windows[0]["before_freeze"] as? [String: Any])?["declared_at"] as? String == "calendar.yaml:2:5")
        #expect((document["freezes"] as? [[String: Any]])?.count == 1)
    }

    @Test func withoutAWindowItSaysSoAndListsTheFreezesAhead() throws {
        let world = try GatesWorld(extra: "freeze:\n  - { start: 2026-12-20T00:00:00Z, end: 2027-01-04T00:00:00Z, reason: year end }")
        let result = try world.run(["windows", "runbook.yaml", "--from", "2026-11-20T12:00:00Z"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Windows for gates: no window; 1 freeze\n"))
        #expect(result.stdout.contains("From 2026-11-20T12:00:00Z: no window or freeze applies."))
        #expect(result.stdout.contains("Without a window, apply may start a stage at any time outside freezes."))
        #expect(result.stdout.contains("  2026-12-20T00:00:00Z to 2027-01-04T00:00:00Z  year end  (runbook.yaml:"))
    }

    @Test func aWindowThatNeverOpensInTheNext400DaysIsSaidPlainly() throws {
        let world = try GatesWorld(extra: "window: { start: 2020-01-01T00:00:00Z, end: 2020-01-02T00:00:00Z }")
        let result = try world.run(["windows", "runbook.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("the window is closed and does not open again in the next 400 days."))
        #expect(result.stdout.contains("No window opens in the next 400 days; apply refuses unless --override-window --reason TEXT."))
    }

    @Test func aBadCalendarFileIsReportedAtItsPlaceAndStopsPlanApplyAndWindows() throws {
        // Given a calendar file with a date that has no time or zone
        let world = try GatesWorld()
        try world.folder.write("calendar.yaml", "freeze:\n  - { start: 2026-12-20, end: 2027-01-04T00:00:00Z }\n")
        for arguments in [["windows", "runbook.yaml"], ["plan", "runbook.yaml"], ["apply", "runbook.yaml", "--yes"]] {
            // When any of them is given the calendar
            let result = try world.run(arguments + ["--calendar", "calendar.yaml"])
            // Then it exits 2 naming the file, line and column, and says what to do
            #expect(result.status == 2, "\(arguments): \(result.stdout)\(result.stderr)")
            #expect(result.stderr.contains("calendar.yaml:2:14: error: the freeze's `start` must be an RFC 3339 time with a zone, such as 2026-11-21T08:00:00Z, not `2026-12-20`"))
            #expect(result.stderr.contains("calendar.yaml: invalid calendar file; fix the errors above, or point --calendar or SLUICE_CALENDAR at another file"))
        }
        #expect(world.read("log") == nil)
        // And a calendar named in SLUICE_CALENDAR that is not there is an error, not "no freezes"
        let missing = try world.run(["plan", "runbook.yaml"], environment: ["SLUICE_CALENDAR": "nowhere.yaml"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nowhere.yaml:1:1: error: calendar file does not exist; check the path given by --calendar or SLUICE_CALENDAR"))
    }

    @Test func aCalendarFreezeBindsEveryRunbookAndAnOverrideIsRecordedWithActorAndReason() throws {
        // Given a calendar (from SLUICE_CALENDAR) with a freeze that is on now
        let world = try GatesWorld()
        let calendar = try world.folder.write("calendar.yaml", "freeze:\n  - { start: 2020-01-01T00:00:00Z, end: 2099-01-01T00:00:00Z, reason: change freeze }\n")
        let environment = ["SLUICE_CALENDAR": calendar]

        // When it is planned and applied
        let plan = try world.run(["plan", "runbook.yaml"], environment: environment)
        let refused = try world.apply(environment: environment)

        // Then plan reports the freeze, and apply refuses naming it and where it is declared
        #expect(plan.stdout.contains("frozen until 2099-01-01T00:00:00Z (change freeze) (apply would refuse unless --override-window)"), "\(plan.stdout)")
        #expect(refused.status == 4)
        #expect(refused.stderr.contains("refused: a freeze is on until 2099-01-01T00:00:00Z (change freeze; declared at \(calendar):2:5)."))
        #expect(world.read("log") == nil)

        // When dave overrides it with a reason
        let overridden = try world.apply(["--override-window", "--reason", "incident 4711: restore service", "--as", "dave"], environment: environment)

        // Then the change runs, and window.overridden records dave, the reason and what was overridden
        #expect(overridden.status == 0, "\(overridden.stdout)\(overridden.stderr)")
        #expect(world.read("log") == "deploy web1\ndeploy web2\n")
        let override = try #require(try world.events().first { $0["kind"] as? String == "window.overridden" })
        #expect(override["actor"] as? String == "dave")
        let detail = GatesWorld.detail(override)
        #expect(detail["reason"] as? String == "incident 4711: restore service")
        #expect((detail["window"] as? String)?.contains("declared at \(calendar):2:5") == true)
    }
}
