import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore

/// What the audit store's commands share: opening the store and parsing run ids.
enum AuditCommandSupport {
    /// Opens the store for a command that only reads it; `nil` when there is no store (the
    /// command decides what that means). Never creates an empty store by looking.
    static func openExistingStore(_ options: StoreOptions) throws -> (any SluiceStore)? {
        do {
            return try StoreOpener.open(options.resolvedStorePath, createIfMissing: false)
        } catch AuditStoreError.storeNotFound {
            return nil
        }
    }

    /// Parses a run id given on the command line, or reports it and exits with status 2.
    static func runID(_ text: String) throws -> RunID {
        guard let id = RunID(text) else {
            Console.fail("'\(text)' is not a run id: run ids look like r-20261121-083015-7f3a (r-YYYYMMDD-HHMMSS-xxxx). "
                 + "List runs with `sluice runs`.")
            throw ExitCode(2)
        }
        return id
    }
}
