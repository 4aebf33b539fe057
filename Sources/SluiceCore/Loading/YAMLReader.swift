import Foundation
import Yams

/// Collects diagnostics while a runbook is read and checked.
final class DiagnosticSink {
    private(set) var diagnostics: [Diagnostic] = []

    func error(_ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(.error, at: location, message))
    }

    func warning(_ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(.warning, at: location, message))
    }

    var hasErrors: Bool { diagnostics.hasErrors }
}

/// The keys of one YAML mapping, read once, with unknown keys already reported.
struct Fields {
    let location: SourceLocation
    /// What the mapping is, for messages: "a step", "the rollout".
    let subject: String
    private let entries: [String: (key: Node, value: Node)]

    init(location: SourceLocation, subject: String, entries: [String: (key: Node, value: Node)]) {
        self.location = location
        self.subject = subject
        self.entries = entries
    }

    subscript(key: String) -> Node? { entries[key]?.value }

    func has(_ key: String) -> Bool { entries[key] != nil }

    /// The keys present, among `keys`, in the order given.
    func present(_ keys: [String]) -> [String] { keys.filter { entries[$0] != nil } }

    /// Where the key itself is written (for "remove this key" messages).
    func keyNode(_ key: String) -> Node? { entries[key]?.key }
}

/// Reads YAML nodes of one file into typed values, reporting every problem with its position.
///
/// Each method returns nil when the node cannot be used, after reporting why; callers carry on
/// with the rest of the file so that all problems are found at once.
struct YAMLReader {
    let file: String
    let sink: DiagnosticSink
    private let lines: SourceLines

    init(file: String, text: String, sink: DiagnosticSink) {
        self.file = file
        self.sink = sink
        self.lines = SourceLines(text)
    }

    func location(_ node: Node) -> SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    func location(line: Int, column: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column)
    }

    // MARK: Structure

    /// Reads a mapping, reporting keys outside `known` with the closest known key as a hint.
    func fields(_ node: Node, _ subject: String, known: [String]) -> Fields? {
        guard case .mapping(let mapping) = node else {
            sink.error("\(subject) must be a mapping of keys to values, not \(describe(node))", at: location(node))
            return nil
        }
        var entries: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                sink.error("keys must be plain text, not \(describe(key))", at: location(key))
                continue
            }
            guard known.contains(name) else {
                sink.error("unknown key `\(name)` in \(subject)\(Suggestion.hint(for: name, among: known))", at: location(key))
                continue
            }
            entries[name] = (key, value)
        }
        return Fields(location: location(node), subject: subject, entries: entries)
    }

    /// Reads a list; a missing or null value is an empty list.
    func sequence(_ node: Node?, _ subject: String) -> [Node] {
        guard let node, !isNull(node) else { return [] }
        guard case .sequence(let sequence) = node else {
            sink.error("\(subject) must be a list, not \(describe(node))", at: location(node))
            return []
        }
        return Array(sequence)
    }

    /// Reports a missing key and returns nil, or returns the value.
    func required(_ fields: Fields, _ key: String) -> Node? {
        guard let value = fields[key], !isNull(value) else {
            let at = fields.keyNode(key).map(location) ?? fields.location
            let detail = fields.has(key) ? "has an empty `\(key)`" : "is missing the required key `\(key)`"
            sink.error("\(fields.subject) \(detail)", at: at)
            return nil
        }
        return value
    }

    // MARK: Scalars

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// A scalar's text; numbers and booleans are read as they are written.
    func string(_ node: Node?, _ subject: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, !isNull(node) else {
            sink.error("\(subject) must be text, not \(describe(node))\(Self.unquotedPlaceholderHint(node))", at: location(node))
            return nil
        }
        return scalar.string
    }

    func nonEmptyString(_ node: Node?, _ subject: String) -> String? {
        guard let text = string(node, subject) else { return nil }
        if text.trimmingCharacters(in: .whitespaces).isEmpty, let node {
            sink.error("\(subject) must not be empty", at: location(node))
            return nil
        }
        return text
    }

    func integer(_ node: Node?, _ subject: String, in range: ClosedRange<Int>) -> Int? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Int(scalar.string) else {
            sink.error("\(subject) must be a whole number, not \(describe(node))", at: location(node))
            return nil
        }
        guard range.contains(value) else {
            let bound = range.upperBound == .max ? "at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
            sink.error("\(subject) must be \(bound), not \(value)", at: location(node))
            return nil
        }
        return value
    }

    func boolean(_ node: Node?, _ subject: String) -> Bool? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain, ["true", "false"].contains(scalar.string) else {
            sink.error("\(subject) must be true or false, not \(describe(node))", at: location(node))
            return nil
        }
        return scalar.string == "true"
    }

    func duration(_ node: Node?, _ subject: String) -> Duration? {
        guard let node, let text = string(node, subject) else { return nil }
        guard let duration = RunbookDuration.parse(text) else {
            sink.error("\(subject): bad duration `\(text)`; write a whole number and a unit: \(RunbookDuration.examples)", at: location(node))
            return nil
        }
        return duration
    }

    func choice<Choice: RawRepresentable & CaseIterable>(_ node: Node?, _ subject: String, as type: Choice.Type) -> Choice?
    where Choice.RawValue == String {
        guard let node, let text = string(node, subject) else { return nil }
        if let value = Choice(rawValue: text) { return value }
        let names = Choice.allCases.map(\.rawValue)
        sink.error("\(subject) must be one of \(names.joined(separator: ", ")), not `\(text)`\(Suggestion.hint(for: text, among: names))", at: location(node))
        return nil
    }

    /// An RFC 3339 time such as `2026-11-21T08:00:00Z`.
    func timestamp(_ node: Node?, _ subject: String) -> Date? {
        guard let node, let text = string(node, subject) else { return nil }
        if let date = RFC3339.parse(text) { return date }
        sink.error("\(subject) must be an RFC 3339 time with a zone, such as 2026-11-21T08:00:00Z, not `\(text)`", at: location(node))
        return nil
    }

    /// A mapping of text to text (labels, vars, select, when).
    func stringMap(_ node: Node?, _ subject: String) -> [String: String] {
        guard let node, !isNull(node) else { return [:] }
        guard case .mapping(let mapping) = node else {
            sink.error("\(subject) must be a mapping of names to values, not \(describe(node))", at: location(node))
            return [:]
        }
        var result: [String: String] = [:]
        for (key, value) in mapping {
            guard let name = string(key, "a key in \(subject)"), let text = string(value, "`\(name)` in \(subject)") else { continue }
            result[name] = text
        }
        return result
    }

    // MARK: Templates and commands

    /// Parses a scalar as a template, locating each placeholder precisely in the file.
    func template(_ node: Node?, _ subject: String) -> Template? {
        guard let node, let text = string(node, subject), case .scalar(let scalar) = node else { return nil }
        return parseTemplate(text, at: location(node), locate: locator(for: scalar, at: location(node)))
    }

    func parseTemplate(_ text: String, at start: SourceLocation, locate: (Int) -> SourceLocation) -> Template {
        let (template, problems) = TemplateParser.parse(text, at: start, locate: locate)
        for problem in problems { sink.error(problem.message, at: locate(problem.offset)) }
        return template
    }

    /// A command: a string for `/bin/sh -c`, or a list of words run without a shell.
    func command(_ node: Node?, _ subject: String) -> Command? {
        guard let node else { return nil }
        switch node {
        case .sequence(let words):
            guard !words.isEmpty else {
                sink.error("\(subject) is an empty list; give the program and its arguments", at: location(node))
                return nil
            }
            let templates = words.compactMap { template($0, "each word of \(subject)") }
            guard templates.count == words.count else { return nil }
            return Command(.argv(templates), location: location(node))
        default:
            guard let template = template(node, subject) else { return nil }
            guard !template.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                sink.error("\(subject) is empty; give a command to run", at: location(node))
                return nil
            }
            return Command(.shell(template), location: location(node))
        }
    }

    /// Turns an offset in a scalar's value into a position in the file.
    private func locator(for scalar: Node.Scalar, at start: SourceLocation) -> (Int) -> SourceLocation {
        let value = Array(scalar.string.unicodeScalars)
        switch scalar.style {
        case .literal, .folded:
            // The value starts on the line after the `|` or `>` indicator, at the block's indent.
            let indent = lines.indentation(ofFirstContentLineAfter: start.line)
            return { offset in
                let before = value.prefix(offset)
                let newlines = before.filter { $0 == "\n" }.count
                let column = before.count - ((before.lastIndex(of: "\n")).map { $0 + 1 } ?? 0)
                return SourceLocation(file: start.file, line: start.line + 1 + newlines, column: indent + column + 1)
            }
        case .singleQuoted, .doubleQuoted:
            return { offset in
                value.prefix(offset).contains("\n") ? start
                    : SourceLocation(file: start.file, line: start.line, column: start.column + 1 + offset)
            }
        default:
            return { offset in
                value.prefix(offset).contains("\n") ? start
                    : SourceLocation(file: start.file, line: start.line, column: start.column + offset)
            }
        }
    }

    // MARK: Descriptions

    /// YAML reads an unquoted value that starts with `{{ ... }}` as a mapping whose key is a
    /// mapping: say so, since the author meant a template.
    static func unquotedPlaceholderHint(_ node: Node) -> String {
        guard case .mapping(let mapping) = node,
            mapping.contains(where: { if case .mapping = $0.key { true } else { false } })
        else { return "" }
        return "; a value that starts with `{{` must be quoted, or YAML reads it as a mapping: write it as \"{{ ... }}\""
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar(let scalar):
            isNull(node) ? "nothing" : "`\(scalar.string.count > 40 ? String(scalar.string.prefix(40)) + "…" : scalar.string)`"
        }
    }
}

/// The lines of a file, split lazily, for computing columns inside block scalars.
final class SourceLines {
    private let text: String
    private var lines: [Substring]?

    init(_ text: String) { self.text = text }

    func indentation(ofFirstContentLineAfter line: Int) -> Int {
        if lines == nil { lines = text.split(separator: "\n", omittingEmptySubsequences: false) }
        guard let lines else { return 0 }
        var index = line  // 1-based `line` is the indicator's line; the next line is index `line`.
        while index < lines.count, lines[index].allSatisfy({ $0 == " " }) { index += 1 }
        guard index < lines.count else { return 0 }
        return lines[index].prefix(while: { $0 == " " }).count
    }
}

/// Maps Unicode-scalar offsets in a text to line and column.
struct LineOffsets {
    private let lineStarts: [Int]

    init(_ text: String) {
        var starts = [0]
        for (offset, scalar) in text.unicodeScalars.enumerated() where scalar == "\n" { starts.append(offset + 1) }
        lineStarts = starts
    }

    func location(ofScalarOffset offset: Int, file: String) -> SourceLocation {
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return SourceLocation(file: file, line: low + 1, column: offset - lineStarts[low] + 1)
    }
}

/// RFC 3339 times, as windows and freezes are written (and `sluice windows --from` takes them).
package enum RFC3339 {
    /// The moment `text` names, or nil unless it is an RFC 3339 time with a zone (`Z` or
    /// `+02:00`), with or without fractional seconds.
    package static func parse(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}
