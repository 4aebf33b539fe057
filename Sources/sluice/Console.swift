import Foundation
import SluiceCore
import Synchronization

/// Where the commands write: reports to standard output; diagnostics, errors and notes to
/// standard error.
///
/// Terminal safety: what goes to standard error is plain text that quotes runbook values, paths
/// and errors, so ``error(_:)``, ``fail(_:)`` and ``note(_:)`` show its control characters
/// escaped (``Swift/StringProtocol/escapedForTerminal``). Reports on standard output carry
/// their own styling, so ``line(_:)`` and ``write(_:)`` write as they are, and each report's
/// builder escapes what it quotes, before styling it.
enum Console {
    /// Writes `line` to standard error, its control characters shown escaped.
    static func error(_ line: String) {
        emit(line.escapedForTerminal + "\n", to: STDERR_FILENO, closed: standardErrorClosed)
    }

    /// Writes `diagnostic` to standard error, styled: its location and message are escaped
    /// before the style's own escape sequences are added (``TerminalStyle/render(_:)``).
    static func error(_ diagnostic: Diagnostic, style: TerminalStyle) {
        emit(style.render(diagnostic) + "\n", to: STDERR_FILENO, closed: standardErrorClosed)
    }

    /// Writes `message` to standard error as `error: MESSAGE`.
    static func fail(_ message: String) {
        error("error: \(message)")
    }

    /// Writes `message` to standard error as a note.
    static func note(_ message: String) {
        error("note: \(message)")
    }

    /// Writes `text` and a newline to standard output at once, unbuffered: if the runner is
    /// killed, every line it printed is in the pipe or log it went to. `text` is written as it
    /// is: escape what it quotes (``Swift/StringProtocol/escapedForTerminal``).
    static func line(_ text: String) {
        write(text + "\n")
    }

    /// Writes `text` to standard output as it is (styled, with what it quotes escaped).
    static func write(_ text: String) {
        emit(text, to: STDOUT_FILENO, closed: standardOutputClosed)
    }

    /// Set once a write to the stream failed (its reader went away: `sluice apply | head`):
    /// printing to it stops, and the run goes on, audited as ever. SIGPIPE is ignored
    /// (``Sluice/main()``), so a closed pipe is an EPIPE here, never the runner's death.
    private static let standardOutputClosed = Atomic<Bool>(false)
    private static let standardErrorClosed = Atomic<Bool>(false)

    private static func emit(_ text: String, to fd: Int32, closed: borrowing Atomic<Bool>) {
        guard !closed.load(ordering: .relaxed) else { return }
        var failed = false
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { failed = true; break }
            bytes = bytes.dropFirst(written)
        }
        if failed { closed.store(true, ordering: .relaxed) }
    }

    /// `value` as the JSON every `--json` and saved plan uses, with a final newline.
    static func jsonText<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder.sluice.encode(value), as: UTF8.self) + "\n"
    }
}

/// ANSI colours for a terminal; plain text otherwise.
///
/// What is styled is shown, never obeyed: each style escapes the control characters of the text
/// it is given (``Swift/StringProtocol/escapedForTerminal``) before adding its own escape
/// sequences, so a styled target name or reason cannot carry a sequence of its own. Escaping is
/// idempotent, so text escaped already comes out the same; text styled already must not be
/// styled again.
struct TerminalStyle: Sendable {
    let enabled: Bool

    private func paint(_ code: String, _ text: String) -> String {
        let shown = text.escapedForTerminal
        return enabled ? "\u{1B}[\(code)m\(shown)\u{1B}[0m" : shown
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
        return line.escapedForTerminal
    }

    /// `FILE:LINE:COLUMN: error: MESSAGE`, its path and message escaped (they quote the runbook).
    func render(_ diagnostic: Diagnostic) -> String {
        guard enabled else { return diagnostic.description.escapedForTerminal }
        let colour = diagnostic.severity == .error ? "\u{1B}[1;31m" : "\u{1B}[1;33m"
        let (location, message) = (diagnostic.location.description.escapedForTerminal, diagnostic.message.escapedForTerminal)
        return "\u{1B}[1m\(location):\u{1B}[0m \(colour)\(diagnostic.severity.rawValue):\u{1B}[0m \(message)"
    }
}
