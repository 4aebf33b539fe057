import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore

/// What the commands that read a runbook start with (plan, apply, resume, approve, windows): a
/// valid runbook, its variables' values, a run row, the approval verdict.
enum RunbookInputs {
    /// Loads and validates the runbook at `path`, printing every diagnostic; exits 2 when it is
    /// invalid.
    static func load(_ path: String, style: TerminalStyle) throws -> Runbook {
        let loaded = RunbookLoader().load(path: path)
        for diagnostic in loaded.diagnostics { Console.error(diagnostic, style: style) }
        guard let runbook = loaded.validRunbook else {
            Console.error("\(path): invalid; fix the errors above and try again")
            throw ExitCode(2)
        }
        return runbook
    }

    /// Loads the runbook at `path` with the shared calendar's freezes added to its own
    /// (``FreezeCalendar/binding(_:)``); exits 2 when either file is invalid.
    static func load(_ path: String, calendar: CalendarOptions, style: TerminalStyle) throws -> Runbook {
        let runbook = try load(path, style: style)
        guard let calendarPath = calendar.resolvedCalendarPath else { return runbook }
        return try loadCalendar(calendarPath, style: style).binding(runbook)
    }

    /// Loads the calendar file at `path`, printing every diagnostic; exits 2 when it is invalid.
    static func loadCalendar(_ path: String, style: TerminalStyle) throws -> FreezeCalendar {
        let loaded = FreezeCalendarLoader().load(path: path)
        for diagnostic in loaded.diagnostics { Console.error(diagnostic, style: style) }
        guard let calendar = loaded.validCalendar else {
            Console.error("\(path): invalid calendar file; fix the errors above, or point --calendar or SLUICE_CALENDAR at another file")
            throw ExitCode(2)
        }
        return calendar
    }

    /// Reads every variable's value; exits 2 naming the variable that cannot be read.
    static func variables(of runbook: Runbook) throws -> ResolvedVariables {
        do {
            return try runbook.resolveVariables(environment: ProcessInfo.processInfo.environment)
        } catch {
            Console.error("\(error)")
            throw ExitCode(2)
        }
    }
}
