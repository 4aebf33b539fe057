import Foundation
import Yams

/// The outcome of loading a runbook: the model (when the file could be read as one) and every
/// problem found, errors and warnings, in reading order.
public struct LoadResult: Sendable {
    /// The runbook as far as it could be read: nil when the file is missing, unreadable, not UTF-8,
    /// not YAML or not a mapping; with errors, parts of it are missing or defaulted, so only
    /// ``validRunbook`` is fit to plan or apply.
    public var runbook: Runbook?
    /// Every problem found, errors and warnings, in reading order: by file, line and column.
    public var diagnostics: [Diagnostic]

    /// The runbook, when it loaded without errors.
    public var validRunbook: Runbook? { diagnostics.hasErrors ? nil : runbook }
}

/// Reads runbook files (format version 1) into ``Runbook`` values and checks them.
///
/// Loading never stops at the first problem: it reports everything it can find in one pass, each
/// problem with its file, line and column. Besides the runbook it reads the inventory and file
/// sources the runbook names, and checks that referenced scripts exist and are executable.
public struct RunbookLoader: Sendable {
    /// A loader; it keeps no state between loads.
    public init() {}

    /// Loads and validates the runbook at `path`.
    public func load(path: String) -> LoadResult {
        let url = URL(fileURLWithPath: path)
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read; check its permissions" : "does not exist; check the path"
            return LoadResult(runbook: nil, diagnostics: [Diagnostic(.error, at: SourceLocation(file: path, line: 1, column: 1), "runbook file \(reason)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return LoadResult(runbook: nil, diagnostics: [Diagnostic(.error, at: SourceLocation(file: path, line: 1, column: 1), "runbook is not UTF-8 text")])
        }
        return load(text: text, file: path, directory: url.deletingLastPathComponent().standardizedFileURL.path)
    }

    /// Loads and validates runbook `text`, as if read from `file` in `directory`.
    ///
    /// Relative paths in the runbook (scripts, sources, inventory) are resolved against `directory`.
    public func load(text: String, file: String, directory: String) -> LoadResult {
        let sink = DiagnosticSink()
        let reader = YAMLReader(file: file, text: text, sink: sink)
        guard let root = Self.compose(text, file: file, sink: sink) else {
            return LoadResult(runbook: nil, diagnostics: sink.diagnostics.sortedForReading())
        }
        var builder = RunbookBuilder(reader: reader, directory: directory)
        let runbook = builder.build(root)
        if let runbook {
            RunbookValidator(runbook: runbook, sink: sink).validate()
        }
        return LoadResult(runbook: runbook, diagnostics: sink.diagnostics.sortedForReading())
    }

    /// Parses YAML into a node tree, reporting syntax errors at their position.
    static func compose(
        _ text: String, file: String, sink: DiagnosticSink, what: String = "runbook", emptyHint: String = "start with `sluice: 1`"
    ) -> Node? {
        do {
            // The basic resolver leaves every scalar as text: the builder reads scalars as written, so
            // resolving tags (booleans, numbers, timestamps) would be work thrown away.
            guard let root = try Yams.compose(yaml: text, .basic, .default, .utf8) else {
                sink.error("\(what) is empty; \(emptyHint)", at: SourceLocation(file: file, line: 1, column: 1))
                return nil
            }
            return root
        } catch let error as YamlError {
            let (message, line, column) = describe(error)
            let sourceLine = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(max(line - 1, 0)).first ?? ""
            let hint = if message.contains("flow") && sourceLine.contains("{{") {
                "; a value holding `{{ }}` inside `{ }` or `[ ]` must be quoted"
            } else if sourceLine.contains(/:\s+\{\{/) {
                // `run: {{ target.name }} restart`: YAML reads the `{` as a mapping's start.
                "; a value that starts with `{{` must be quoted, or YAML reads it as a mapping: write it as \"{{ ... }}\""
            } else { "" }
            sink.error("YAML syntax: \(message)\(hint)", at: SourceLocation(file: file, line: max(line, 1), column: max(column, 1)))
            return nil
        } catch {
            sink.error("YAML syntax: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
            return nil
        }
    }

    private static func describe(_ error: YamlError) -> (String, Int, Int) {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let suffix = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return (problem + suffix, mark.line, mark.column)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.map { "`\($0)`" }.joined(separator: ", ")
            return ("key \(names) appears more than once in the same mapping; keep one", context.mark.line, context.mark.column)
        case .reader(let problem, _, _, _):
            return ("\(problem); the file must be UTF-8 text", 1, 1)
        default:
            return ("\(error)", 1, 1)
        }
    }
}
