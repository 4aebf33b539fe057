/// A position in a file, as people count it: lines and columns from 1.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The file's path as the operator gave it (or as derived from a runbook's path).
    public var file: String
    /// The line, from 1.
    public var line: Int
    /// The column, from 1.
    public var column: Int

    /// The position `line`:`column` in `file`.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COLUMN`
    public var description: String { "\(file):\(line):\(column)" }

    /// Reading order: by file, then line, then column.
    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// One problem found in a runbook, with where it is and what to do about it.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    /// Whether the problem makes the runbook unusable; the raw value is what the diagnostic line says.
    public enum Severity: String, Sendable, Hashable {
        /// The runbook cannot be used until this is fixed.
        case error
        /// The runbook can be used, but the author probably did not mean this.
        case warning
    }

    /// An error makes the runbook invalid; a warning does not.
    public var severity: Severity
    /// Where the problem is: the offending key or value, in the runbook or in the file it names.
    public var location: SourceLocation
    /// What is wrong and, where it can say, what to do about it; one line, no position.
    public var message: String

    /// A problem of `severity` at `location`.
    public init(_ severity: Severity, at location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    /// `FILE:LINE:COLUMN: error: MESSAGE`, the form compilers use, so editors can jump to it.
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

extension Array where Element == Diagnostic {
    /// Whether any diagnostic is an error.
    public var hasErrors: Bool { contains { $0.severity == .error } }

    /// Diagnostics in reading order: by file, line and column, errors before warnings at one spot.
    public func sortedForReading() -> [Diagnostic] {
        enumerated().sorted { lhs, rhs in
            if lhs.element.location != rhs.element.location { return lhs.element.location < rhs.element.location }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }
}
