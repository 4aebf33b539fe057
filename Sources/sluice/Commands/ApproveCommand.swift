import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore

/// `sluice approve RUNBOOK --by NAME`: records that NAME approved the runbook's exact content.
struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Record approval of a runbook's exact content: the runbook, its scripts, file sources and inventory.",
        discussion: """
            The approval covers each of those files as it is now, by SHA-256. If any of them changes, \
            apply refuses, naming the file, until the new content is approved. With \
            approval.distinct_approver (the default), the approver may not be the person who applies. \
            --by names the approver; the person running this command (--as, $SLUICE_USER or the login \
            name) is recorded as well.
            Exit status: 0 recorded; 2 invalid runbook; 1 the audit store could not be written.
            """
    )

    @Argument(help: ArgumentHelp("The runbook to approve.", valueName: "runbook"))
    var runbook: String

    @Option(name: .long, help: ArgumentHelp("Who approves (recorded; compared with who applies).", valueName: "name"))
    var by: String

    @Option(name: .long, help: ArgumentHelp("Why, or what was reviewed (recorded).", valueName: "text"))
    var comment: String?

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var actorOptions: ActorOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !by.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--by must name the approver; it is recorded and compared with who applies.")
        }
    }

    func run() async throws {
        let style = TerminalStyle(enabled: output.useColor)
        let runbookValue = try RunbookInputs.load(runbook, style: style)
        let content = ContentDigest(runbook: runbookValue)
        // Approving needs no secret values, and the approver may not have them; when they can be
        // read, a comment that quotes one is still redacted.
        let redactor = (try? runbookValue.resolveVariables(environment: ProcessInfo.processInfo.environment))?.redactor ?? .none
        let store = try storeOptions.openStore(failingWith: 1)
        let actor = actorOptions.resolvedActor
        let approver = by.trimmingCharacters(in: .whitespaces)
        let recorded = try await store.recordApproval(
            ApprovalRecord(
                runbookID: runbookValue.id, contentHash: content.hash, approver: approver, comment: comment, approvedAt: "",
                files: content.files),
            actor: actor, redactor: redactor)

        var lines = [
            style.bold("Approved \(runbookValue.id)")
                + (" by \(approver)" + (ApprovalGate.samePerson(actor, approver) ? "" : " (recorded by \(actor))")).escapedForTerminal
                + ": content \(content.hash.prefix(12)), \(content.files.count) file\(content.files.count == 1 ? "" : "s")",
        ]
        for file in content.files { lines.append("  \(file.role) \(file.path)  sha256 \(file.sha256.prefix(12))".escapedForTerminal) }
        lines.append("Recorded as approval \(recorded.id.map { String($0) } ?? "?") at \(recorded.approvedAt) (approval.recorded in the audit store).")
        if !runbookValue.approval.required {
            lines.append("Note: \(runbookValue.file.escapedForTerminal) does not require approval (approval.required is false), so apply does not check it.")
        } else if runbookValue.approval.distinctApprover {
            lines.append("apply accepts it while these files stay exactly as they are, when someone other than \(approver.escapedForTerminal) applies.")
        } else {
            lines.append("apply accepts it while these files stay exactly as they are.")
        }
        Console.write(lines.joined(separator: "\n") + "\n")
    }
}
