import ArgumentParser
import Foundation
import SluiceAudit

/// `sluice unlock TARGET --reason TEXT`: frees a stale target lock, recording `lock.forced`.
struct UnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Free a target lock whose runner is gone (audited as lock.forced).",
        discussion: """
            Only a stale lock is freed: its holder's process is gone from this host (at once: \
            the heartbeat's age does not matter then). A lock held from another host cannot be checked from here and \
            is never freed by this command.
            Exit status: 0 freed, 4 refused (holder alive or unverifiable, target not locked, or \
            no store); nothing changes when refused.
            """
    )

    @Argument(help: ArgumentHelp("The target whose lock to free.", valueName: "target"))
    var target: String

    @Option(name: .long, help: ArgumentHelp("Why the lock is being freed (recorded).", valueName: "text"))
    var reason: String

    @OptionGroup var actorOptions: ActorOptions
    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ValidationError("--reason must say why the lock is being freed; it is recorded in the audit store.")
        }
    }

    func run() async throws {
        guard let store = try AuditCommandSupport.openExistingStore(storeOptions) else {
            Console.fail("no audit store at \(storeOptions.resolvedStorePath.lexicallyNormalizedPath), so nothing is locked there. "
                                     + "Pass --store PATH or set SLUICE_STORE to the store the run used.")
            throw ExitCode(4)
        }
        do {
            let (lock, event) = try await store.forceUnlock(
                target: target, actor: actorOptions.resolvedActor, reason: reason)
            Console.write("""
                Unlocked \(lock.target): it was held by run \(lock.runID) (host \(lock.host), pid \(lock.pid), \
                last heartbeat \(lock.heartbeatAt)).
                Recorded lock.forced at seq \(event.seq). Resume or roll back run \(lock.runID) before changing \
                \(lock.target) again: `sluice resume \(lock.runID)` or `sluice rollback \(lock.runID)`.

                """.escapedForTerminal)
        } catch AuditStoreError.lockNotFound {
            let locked = try await store.locks().map(\.target)
            let list = locked.isEmpty ? "no target is locked" : "locked targets: " + locked.joined(separator: ", ")
            Console.fail("target \(target) is not locked (\(list)). Nothing changed.")
            throw ExitCode(4)
        } catch let error as AuditStoreError {
            if case .lockHolderMayBeAlive = error {
                Console.fail("\(error) Nothing changed.")
                throw ExitCode(4)
            }
            throw error
        }
    }
}
