import ArgumentParser
import Foundation
import SluiceCore
import SluiceRuns

/// `sluice windows RUNBOOK`: when apply could next start, from the runbook's window and the
/// freezes of the runbook and the shared calendar.
struct WindowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "windows",
        abstract: "List the next times apply may start a stage: the window, cut around freezes.",
        discussion: """
            Each window is listed with its start, its end and the last moment a stage may start \
            (the end less the window's cutoff). Freezes from the runbook and from the calendar file \
            (--calendar, else $SLUICE_CALENDAR) cut windows short or remove them; the cutoff applies \
            before a freeze begins as before the window closes. Without a window, apply may start \
            at any time outside freezes, and the freezes ahead are listed instead. Looks 400 days \
            ahead. Times are shown in the window's time zone (--json: UTC).
            Exit status: 0; 2 invalid runbook or calendar file.
            """
    )

    @Argument(help: ArgumentHelp("The runbook whose windows to list.", valueName: "runbook"))
    var runbook: String

    @Option(name: .long, help: ArgumentHelp("How many windows to list.", valueName: "n"))
    var count: Int = 5

    @Option(name: .long, help: ArgumentHelp("List windows from this time (RFC 3339) instead of now.", valueName: "time"))
    var from: String?

    @Flag(name: .long, help: "Print the windows as JSON.")
    var json = false

    @OptionGroup var calendarOptions: CalendarOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1.") }
        if let from, RFC3339.parse(from) == nil {
            throw ValidationError("--from must be an RFC 3339 time with a zone, such as 2026-11-21T08:00:00Z, not `\(from)`.")
        }
    }

    func run() async throws {
        let style = TerminalStyle(enabled: output.useColor)
        let runbookValue = try RunbookInputs.load(runbook, calendar: calendarOptions, style: style)
        let now = from.flatMap(RFC3339.parse) ?? Date()
        let calendar = WindowCalendar(runbook: runbookValue)
        let report = WindowsReport(
            runbook: runbookValue, now: now, verdict: calendar.verdict(at: now),
            periods: calendar.openPeriods(from: now, limit: count), freezes: calendar.upcomingFreezes(from: now))
        if json {
            Console.write(try Console.jsonText(report.document))
        } else {
            Console.write(report.text(style: style))
        }
    }
}

/// What `sluice windows` prints.
struct WindowsReport {
    let runbook: Runbook
    let now: Date
    let verdict: WindowVerdict
    let periods: [OpenPeriod]
    let freezes: [Freeze]
    /// Times in the window's own zone for a recurring window, UTC otherwise; made once.
    private let formatter: ISO8601DateFormatter

    init(runbook: Runbook, now: Date, verdict: WindowVerdict, periods: [OpenPeriod], freezes: [Freeze]) {
        self.runbook = runbook
        self.now = now
        self.verdict = verdict
        self.periods = periods
        self.freezes = freezes
        formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if case .recurring(_, _, _, let name) = runbook.window?.schedule, let zone = TimeZone(identifier: name) {
            formatter.timeZone = zone
        } else {
            formatter.timeZone = TimeZone(identifier: "UTC") ?? .current
        }
    }

    func time(_ date: Date) -> String {
        formatter.string(from: date)
    }

    var windowDescription: String? {
        guard let window = runbook.window else { return nil }
        let cutoff = window.cutoff == .zero ? "" : ", cutoff \(RunbookDuration.format(window.cutoff))"
        switch window.schedule {
        case .once(let start, let end):
            return "once, \(time(start)) to \(time(end))\(cutoff)"
        case .recurring(let days, let from, let to, let zone):
            let dayList = Weekday.allCases.filter(days.contains).map(\.rawValue).joined(separator: ", ")
            return "every \(dayList) \(from)-\(to) \(zone)\(cutoff)"
        }
    }

    /// The report, what it quotes from the runbook and calendars (freeze reasons, where they are
    /// declared) escaped for the terminal.
    func text(style: TerminalStyle) -> String {
        var lines: [String] = []
        let fromRunbook = runbook.freezes.filter { $0.location.file == runbook.file }.count
        let fromCalendars = runbook.freezes.count - fromRunbook
        let freezeCount = "\(runbook.freezes.count) freeze\(runbook.freezes.count == 1 ? "" : "s")"
            + (fromCalendars > 0 ? " (\(fromCalendars) from the calendar file)" : "")
        lines.append(style.bold("Windows for \(runbook.id)") + ": " + (windowDescription ?? "no window").escapedForTerminal + "; \(freezeCount)")
        lines.append(("From \(time(now)): " + WindowText.describe(verdict, runbook: runbook, at: now, time: time) + ".").escapedForTerminal)
        guard runbook.window != nil else {
            lines.append("Without a window, apply may start a stage at any time outside freezes.")
            if freezes.isEmpty {
                lines.append("No freeze in the next \(WindowCalendar.horizonDays) days.")
            } else {
                lines.append("Freezes ahead:")
                for freeze in freezes { lines.append("  " + describe(freeze).escapedForTerminal) }
            }
            return lines.joined(separator: "\n") + "\n"
        }
        guard !periods.isEmpty else {
            lines.append(style.yellow("No window opens in the next \(WindowCalendar.horizonDays) days") + "; apply refuses unless --override-window --reason TEXT.")
            return lines.joined(separator: "\n") + "\n"
        }
        let width = time(now).count
        func pad(_ text: String) -> String { text + String(repeating: " ", count: max(width - text.count, 0)) }
        lines.append("")
        lines.append(style.bold(pad("start") + "  " + pad("end") + "  last stage start"))
        for period in periods {
            var notes: [String] = []
            if period.start <= now { notes.append("open now") }
            if let freeze = period.after { notes.append("after freeze" + label(freeze)) }
            if let freeze = period.before { notes.append("cut by freeze" + label(freeze)) }
            lines.append(pad(time(period.start)) + "  " + pad(time(period.end)) + "  " + pad(time(period.lastStageStart))
                + (notes.isEmpty ? "" : "  " + notes.joined(separator: "; ").escapedForTerminal))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func label(_ freeze: Freeze) -> String {
        (freeze.reason.map { " `\($0)`" } ?? "") + " (\(freeze.location))"
    }

    private func describe(_ freeze: Freeze) -> String {
        "\(time(freeze.start)) to \(time(freeze.end))" + (freeze.reason.map { "  \($0)" } ?? "") + "  (\(freeze.location))"
    }

    // MARK: JSON

    struct Document: Encodable {
        struct Period: Encodable {
            var start: Date
            var end: Date
            var lastStageStart: Date
            var openNow: Bool
            var afterFreeze: FreezeEntry?
            var beforeFreeze: FreezeEntry?

            enum CodingKeys: String, CodingKey {
                case start, end, lastStageStart = "last_stage_start", openNow = "open_now", afterFreeze = "after_freeze"
                case beforeFreeze = "before_freeze"
            }
        }

        struct FreezeEntry: Encodable {
            var start: Date
            var end: Date
            var reason: String?
            var declaredAt: String

            enum CodingKeys: String, CodingKey { case start, end, reason, declaredAt = "declared_at" }
        }

        var runbook: String
        var from: Date
        /// The window in words, or nil without one.
        var window: String?
        var startAllowedNow: Bool
        var now: String
        var horizonDays: Int
        var windows: [Period]
        var freezes: [FreezeEntry]

        enum CodingKeys: String, CodingKey {
            case runbook, from, window, startAllowedNow = "start_allowed_now", now, horizonDays = "horizon_days", windows
            case freezes
        }
    }

    var document: Document {
        func entry(_ freeze: Freeze) -> Document.FreezeEntry {
            Document.FreezeEntry(start: freeze.start, end: freeze.end, reason: freeze.reason, declaredAt: freeze.location.description)
        }
        return Document(
            runbook: runbook.id, from: now, window: windowDescription, startAllowedNow: verdict.allowsStart,
            now: WindowText.describe(verdict, runbook: runbook, at: now), horizonDays: WindowCalendar.horizonDays,
            windows: periods.map { period in
                Document.Period(
                    start: period.start, end: period.end, lastStageStart: period.lastStageStart, openNow: period.start <= now,
                    afterFreeze: period.after.map(entry), beforeFreeze: period.before.map(entry))
            },
            freezes: freezes.map(entry))
    }
}
