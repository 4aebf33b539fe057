import ArgumentParser
import Foundation
import SluiceCore

/// The `sluice` command: parses arguments and hands each subcommand to the libraries.
@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Run configuration changes and planned maintenance safely.",
        discussion: """
            Exit statuses: 0 success, 1 failed or tampered, 2 invalid runbook or unknown run, \
            3 rollback incomplete, 4 refused, 64 command-line mistake.
            """,
        version: SluiceVersion.current,
        subcommands: [
            ValidateCommand.self,
            PlanCommand.self,
            ApplyCommand.self,
            RollbackCommand.self,
            ResumeCommand.self,
            WindowsCommand.self,
            ApproveCommand.self,
            RunsCommand.self,
            ShowCommand.self,
            AuditCommand.self,
            UnlockCommand.self,
        ]
    )

    /// Ignores SIGPIPE before anything runs: a reader that goes away (`sluice apply | head -1`)
    /// must never kill the runner mid-change with its holds paused; a closed stream only turns
    /// printing off (``Console``).
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
