import ArgumentParser
import Foundation
import SluiceCore

/// `sluice validate RUNBOOK...`: every problem in every file, each with its position.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check runbooks and report every problem with its file, line and column.",
        discussion: "Exit status: 0 when every runbook is valid (warnings allowed), 2 when any has an error."
    )

    @Argument(help: ArgumentHelp("The runbook files to check.", valueName: "runbook"))
    var runbooks: [String]

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !runbooks.isEmpty else { throw ValidationError("Name at least one runbook file, e.g. `sluice validate Runbooks/quickstart.yaml`.") }
    }

    func run() throws {
        let loader = RunbookLoader()
        let style = TerminalStyle(enabled: output.useColor)
        var invalid = 0
        for path in runbooks {
            let result = loader.load(path: path)
            for diagnostic in result.diagnostics {
                Console.error(diagnostic, style: style)
            }
            let errors = result.diagnostics.filter { $0.severity == .error }.count
            let warnings = result.diagnostics.count - errors
            if errors > 0 {
                invalid += 1
                print("\(path.escapedForTerminal): invalid: \(Self.count(errors, "error"))\(warnings > 0 ? ", \(Self.count(warnings, "warning"))" : "")")
            } else if let runbook = result.runbook {
                let stages = runbook.rollout.stages.count
                let summary = "\(Self.count(runbook.targets.count, "target")), \(Self.count(stages, "stage")), \(Self.count(runbook.steps.count, "step"))"
                print("\(path.escapedForTerminal): valid: \(runbook.id.escapedForTerminal) (\(summary))\(warnings > 0 ? ", \(Self.count(warnings, "warning"))" : "")")
            }
        }
        if invalid > 0 { throw ExitCode(2) }
    }

    static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }
}
