import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore

/// What the audit store's commands share: opening the store, parsing run ids, writing output.
enum AuditCommandSupport {
    /// Writes `message` to standard error as `error: MESSAGE`.
    static func fail(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }

    /// Writes `message` to standard error as a note.
    static func note(_ message: String) {
        FileHandle.standardError.write(Data("note: \(message)\n".utf8))
    }

    /// Writes `text` to standard output as it is.
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Opens the store for a command that only reads it; `nil` when there is no store (the
    /// command decides what that means). Never creates an empty store by looking.
    static func openExistingStore(_ options: StoreOptions) throws -> AuditStore? {
        do {
            return try AuditStore(path: options.resolvedStorePath, createIfMissing: false)
        } catch AuditStoreError.storeNotFound {
            return nil
        }
    }

    /// Parses a run id given on the command line, or reports it and exits with status 2.
    static func runID(_ text: String) throws -> RunID {
        guard let id = RunID(text) else {
            fail("'\(text)' is not a run id: run ids look like r-20261121-083015-7f3a (r-YYYYMMDD-HHMMSS-xxxx). "
                 + "List runs with `sluice runs`.")
            throw ExitCode(2)
        }
        return id
    }

    /// A JSON encoder for `--json` output: sorted keys, indented.
    static func jsonText<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
