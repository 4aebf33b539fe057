import Foundation
import SluiceCore

/// Writes to standard error, where diagnostics and errors go.
enum Console {
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// ANSI colours for a terminal; plain text otherwise.
struct TerminalStyle: Sendable {
    let enabled: Bool

    private func paint(_ code: String, _ text: String) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    func bold(_ text: String) -> String { paint("1", text) }
    func dim(_ text: String) -> String { paint("2", text) }
    func red(_ text: String) -> String { paint("1;31", text) }
    func green(_ text: String) -> String { paint("32", text) }
    func yellow(_ text: String) -> String { paint("33", text) }

    /// A unified diff line: additions green, removals red, hunk headers cyan.
    func diff(_ line: String) -> String {
        if line.hasPrefix("+++") || line.hasPrefix("---") { return bold(line) }
        if line.hasPrefix("+") { return paint("32", line) }
        if line.hasPrefix("-") { return paint("31", line) }
        if line.hasPrefix("@@") { return paint("36", line) }
        return line
    }

    func render(_ diagnostic: Diagnostic) -> String {
        guard enabled else { return diagnostic.description }
        let colour = diagnostic.severity == .error ? "\u{1B}[1;31m" : "\u{1B}[1;33m"
        return "\u{1B}[1m\(diagnostic.location):\u{1B}[0m \(colour)\(diagnostic.severity.rawValue):\u{1B}[0m \(diagnostic.message)"
    }
}
