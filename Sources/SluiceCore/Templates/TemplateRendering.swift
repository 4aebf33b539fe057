import Foundation

/// The values templates are rendered with for one command on one target.
public struct RenderContext: Sendable {
    /// The target the command runs on; nil for holds and guards, which run once, not per target.
    public var target: Target?
    /// Resolved runbook variables.
    public var vars: [String: String]
    /// Names of the runbook variables whose values are secret.
    public var secretVars: Set<String>
    /// The run's id for `{{ run.id }}`; nil when there is no run (then `run.id` has no value).
    public var runID: String?
    /// The current stage's name for `{{ stage.name }}`; nil for holds, which run outside stages.
    public var stageName: String?
    /// The runbook's absolute folder, `{{ runbook.dir }}`.
    public var runbookDirectory: String
    /// The temporary file a file step's `validate` checks.
    public var file: String?

    /// A context in which only what is given has a value.
    public init(
        target: Target? = nil, vars: [String: String] = [:], secretVars: Set<String> = [], runID: String? = nil,
        stageName: String? = nil, runbookDirectory: String, file: String? = nil
    ) {
        self.target = target
        self.vars = vars
        self.secretVars = secretVars
        self.runID = runID
        self.stageName = stageName
        self.runbookDirectory = runbookDirectory
        self.file = file
    }

    /// The value of `variable`, or nil when it has none in this context.
    public func value(of variable: TemplateVariable) -> String? {
        switch variable {
        case .targetName: target?.name
        case .targetLabel(let key): target?.labels[key]
        case .targetVar(let key): target?.vars[key]
        case .runbookVar(let key): vars[key]
        case .runID: runID
        case .stageName: stageName
        case .runbookDirectory: runbookDirectory
        case .file: file
        }
    }

    func isSecret(_ variable: TemplateVariable) -> Bool {
        if case .runbookVar(let key) = variable { return secretVars.contains(key) }
        return false
    }
}

/// Why a template could not be rendered.
public enum TemplateRenderError: Error, Equatable, CustomStringConvertible {
    /// The variable has no value in this context (no target, or the target lacks the key).
    case undefined(TemplateVariable, at: SourceLocation)
    /// The value holds a NUL byte, which no process argument can carry.
    case containsNUL(TemplateVariable, at: SourceLocation)

    /// Where the placeholder is, what is wrong, and what to do.
    public var description: String {
        switch self {
        case .undefined(let variable, let location):
            "\(location): `\(variable)` has no value here; define it or limit the step with `when:`"
        case .containsNUL(let variable, let location):
            "\(location): the value of `\(variable)` contains a NUL byte, which cannot be passed to a command; remove it"
        }
    }
}

/// How inserted values are written into the result.
public enum Quoting: Sendable {
    /// Each value becomes exactly one shell word.
    case shell
    /// Values are inserted as they are (argv elements, paths, URLs).
    case verbatim
}

extension Template {
    /// Whether the template inserts a secret variable's value.
    public func usesSecret(of context: RenderContext) -> Bool {
        guard !context.secretVars.isEmpty else { return false }
        return segments.contains { if case .variable(let variable, _) = $0 { context.isSecret(variable) } else { false } }
    }

    /// The text with every placeholder replaced by its value.
    ///
    /// - Parameter redactingSecrets: write `***` for secret variables instead of their values, for
    ///   anything shown to people or stored.
    /// - Throws: ``TemplateRenderError`` when a variable has no value or a value contains NUL.
    public func render(in context: RenderContext, quoting: Quoting, redactingSecrets: Bool = false) throws -> String {
        var result = ""
        for segment in segments {
            switch segment {
            case .literal(let text):
                result += text
            case .variable(let variable, let location):
                guard let value = context.value(of: variable) else {
                    throw TemplateRenderError.undefined(variable, at: location)
                }
                guard !value.unicodeScalars.contains("\0") else {
                    throw TemplateRenderError.containsNUL(variable, at: location)
                }
                if redactingSecrets, context.isSecret(variable) {
                    result += Redactor.mask
                } else {
                    result += quoting == .shell ? ShellQuoting.quote(value) : value
                }
            }
        }
        return result
    }
}

/// A command with every template rendered, ready to run or to show.
public enum RenderedCommand: Sendable, Hashable, Codable, CustomStringConvertible {
    /// A script for `/bin/sh -c`, its values shell-quoted.
    case shell(String)
    /// A program and its arguments, run directly.
    case argv([String])

    /// One line for people: the shell string, or the argv words shell-quoted.
    public var description: String {
        switch self {
        case .shell(let script): script
        case .argv(let arguments): arguments.map(ShellQuoting.quote).joined(separator: " ")
        }
    }

    /// The program and arguments to execute.
    public var executableArguments: [String] {
        switch self {
        case .shell(let script): ["/bin/sh", "-c", script]
        case .argv(let arguments): arguments
        }
    }
}

extension Command {
    /// Whether any of the command's templates inserts a secret variable's value.
    public func usesSecret(of context: RenderContext) -> Bool {
        guard !context.secretVars.isEmpty else { return false }
        switch form {
        case .shell(let template): return template.usesSecret(of: context)
        case .argv(let words): return words.contains { $0.usesSecret(of: context) }
        }
    }

    /// Renders every template of the command (see ``Template/render(in:quoting:redactingSecrets:)``).
    public func render(in context: RenderContext, redactingSecrets: Bool = false) throws -> RenderedCommand {
        switch form {
        case .shell(let template):
            .shell(try template.render(in: context, quoting: .shell, redactingSecrets: redactingSecrets))
        case .argv(let arguments):
            .argv(try arguments.map { try $0.render(in: context, quoting: .verbatim, redactingSecrets: redactingSecrets) })
        }
    }
}

/// A health probe with its templates rendered for one target.
public enum RenderedProbe: Sendable, Hashable, Codable, CustomStringConvertible {
    /// GET this URL.
    case http(url: String)
    /// Connect to `host` (brackets of an IPv6 address removed) on `port`, from 1 to 65535.
    case tcp(host: String, port: Int)
    /// Run this command; exit status 0 is healthy.
    case command(RenderedCommand)

    /// One line for people: `GET URL`, `connect to HOST:PORT`, or the command.
    public var description: String {
        switch self {
        case .http(let url): "GET \(url)"
        case .tcp(let host, let port): "connect to \(host):\(port)"
        case .command(let command): command.description
        }
    }
}

extension HealthCheck.Probe {
    /// Renders the probe's templates; a `tcp` address splits into host and port.
    ///
    /// - Throws: ``TemplateRenderError``, or ``ProbeAddressError`` for a `tcp` value that is not
    ///   `HOST:PORT` once rendered.
    public func render(in context: RenderContext, redactingSecrets: Bool = false) throws -> RenderedProbe {
        switch self {
        case .http(let url):
            return .http(url: try url.render(in: context, quoting: .verbatim, redactingSecrets: redactingSecrets))
        case .tcp(let address):
            let text = try address.render(in: context, quoting: .verbatim, redactingSecrets: redactingSecrets)
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
                throw ProbeAddressError(address: text, location: address.location)
            }
            let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            return .tcp(host: host, port: port)
        case .command(let command):
            return .command(try command.render(in: context, redactingSecrets: redactingSecrets))
        }
    }
}

/// A `tcp` health address that is not `HOST:PORT` once its templates are rendered.
public struct ProbeAddressError: Error, Equatable, CustomStringConvertible {
    /// The address as rendered: secrets masked when the probe was rendered for display.
    public var address: String
    /// Where the runbook writes `health.tcp`.
    public var location: SourceLocation

    /// Where, what it rendered as, and what to fix.
    public var description: String {
        "\(location): `health.tcp` renders as `\(address)`, which is not HOST:PORT with a port from 1 to 65535; fix the value it is built from"
    }
}
