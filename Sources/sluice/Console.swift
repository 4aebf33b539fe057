import Foundation
import SluiceCore

/// Writes to standard error, where diagnostics and errors go.
enum Console {
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// ANSI colours for a terminal; plain text otherwise.
struct TerminalStyle {
    let enabled: Bool

    func render(_ diagnostic: Diagnostic) -> String {
        guard enabled else { return diagnostic.description }
        let colour = diagnostic.severity == .error ? "\u{1B}[1;31m" : "\u{1B}[1;33m"
        return "\u{1B}[1m\(diagnostic.location):\u{1B}[0m \(colour)\(diagnostic.severity.rawValue):\u{1B}[0m \(diagnostic.message)"
    }
}
