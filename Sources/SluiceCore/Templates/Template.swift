/// Text with `{{ ... }}` placeholders, parsed once when the runbook loads.
///
/// A template knows where each placeholder sits in the runbook file, so an unknown or undefined
/// variable is reported at its own line and column.
public struct Template: Sendable, Equatable, CustomStringConvertible {
    /// A piece of the template: text kept as it is, or a placeholder.
    public enum Segment: Sendable, Equatable {
        /// Text inserted as written.
        case literal(String)
        /// A `{{ NAME }}` placeholder, with where its name is written, for errors that point at it.
        case variable(TemplateVariable, location: SourceLocation)
    }

    /// The text as written in the runbook.
    public var text: String
    /// The pieces, in order; empty for empty text.
    public var segments: [Segment]
    /// Where the template's text starts.
    public var location: SourceLocation

    /// A template with no placeholders.
    public init(literal text: String, location: SourceLocation) {
        self.text = text
        self.segments = text.isEmpty ? [] : [.literal(text)]
        self.location = location
    }

    init(text: String, segments: [Segment], location: SourceLocation) {
        self.text = text
        self.segments = segments
        self.location = location
    }

    /// The text as written, placeholders and all.
    public var description: String { text }

    /// The variables used, in order, with where each is written.
    public var variables: [(variable: TemplateVariable, location: SourceLocation)] {
        segments.compactMap {
            if case .variable(let variable, let location) = $0 { (variable, location) } else { nil }
        }
    }

    /// Equal when written the same at the same place: the segments follow from the text.
    public static func == (lhs: Template, rhs: Template) -> Bool {
        lhs.text == rhs.text && lhs.location == rhs.location
    }
}

/// A variable a template may use.
public enum TemplateVariable: Sendable, Hashable, CustomStringConvertible {
    /// `target.name`; like every `target.*`, it has no value in holds and guards.
    case targetName
    /// `target.labels.K`; no value on a target without the label `K`.
    case targetLabel(String)
    /// `target.vars.K`; no value on a target without the var `K`.
    case targetVar(String)
    /// `vars.K`, declared under `vars:`: the only kind of value that may be secret.
    case runbookVar(String)
    /// `run.id`: the run's id (in `plan`, the plan's own).
    case runID
    /// `stage.name`, the current stage's; no value in holds, which run outside stages.
    case stageName
    /// `runbook.dir`: the absolute path of the runbook's folder.
    case runbookDirectory
    /// The temporary file holding new content, inside a file step's `validate` only.
    case file

    /// Every form a variable can take, for error messages.
    public static let forms = [
        "target.name", "target.labels.K", "target.vars.K", "vars.K", "run.id", "stage.name", "runbook.dir", "file",
    ]

    /// Parses the dotted name between the braces.
    public init?(_ name: String) {
        let parts = name.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1 where parts[0] == "file": self = .file
        case 2 where parts == ["target", "name"]: self = .targetName
        case 2 where parts == ["run", "id"]: self = .runID
        case 2 where parts == ["stage", "name"]: self = .stageName
        case 2 where parts == ["runbook", "dir"]: self = .runbookDirectory
        case 2 where parts[0] == "vars" && Self.isKey(parts[1]): self = .runbookVar(parts[1])
        case 3 where parts[0] == "target" && parts[1] == "labels" && Self.isKey(parts[2]): self = .targetLabel(parts[2])
        case 3 where parts[0] == "target" && parts[1] == "vars" && Self.isKey(parts[2]): self = .targetVar(parts[2])
        default: return nil
        }
    }

    /// The spelling used in runbooks.
    public var description: String {
        switch self {
        case .targetName: "target.name"
        case .targetLabel(let key): "target.labels.\(key)"
        case .targetVar(let key): "target.vars.\(key)"
        case .runbookVar(let key): "vars.\(key)"
        case .runID: "run.id"
        case .stageName: "stage.name"
        case .runbookDirectory: "runbook.dir"
        case .file: "file"
        }
    }

    /// Whether the variable needs a target to have a value.
    public var needsTarget: Bool {
        switch self {
        case .targetName, .targetLabel, .targetVar: true
        default: false
        }
    }

    static func isKey(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }
}
