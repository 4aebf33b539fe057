import Foundation
import SluiceCore

/// A temporary folder holding a runbook and the files it refers to, removed when the test ends.
final class RunbookFixture {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Writes `text` to `name` under the folder; `executable` sets mode 0755.
    @discardableResult
    func write(_ name: String, _ text: String, executable: Bool = false) throws -> String {
        let url = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: executable ? 0o755 : 0o644], ofItemAtPath: url.path)
        return url.path
    }

    /// Loads `text` as `runbook.yaml` in this folder; diagnostics name the file `runbook.yaml`.
    func load(_ text: String) -> LoadResult {
        RunbookLoader().load(text: text, file: "runbook.yaml", directory: directory.path)
    }
}

extension LoadResult {
    /// Diagnostics as compilers print them, without the file name: `LINE:COLUMN: error: MESSAGE`.
    var lines: [String] {
        diagnostics.map { "\($0.location.line):\($0.location.column): \($0.severity.rawValue): \($0.message)" }
    }
}
