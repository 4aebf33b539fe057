import Foundation

/// The runbook's variables with their values read, and the redactor that hides the secret ones.
public struct ResolvedVariables: Sendable, Equatable {
    /// Every runbook variable's value, by name, secret ones included.
    public var values: [String: String]
    /// Names of the variables declared `secret: true`.
    public var secretNames: Set<String>
    /// Hides every secret value, raw and as ``ShellQuoting`` writes it.
    public var redactor: Redactor

    /// The secret variables' values, by name: what a file backup is sealed with.
    public var secretValues: [String: String] { values.filter { secretNames.contains($0.key) } }

    /// Values whose `secretNames` are hidden by ``redactor``, raw and shell-quoted; an empty secret
    /// is not hidden (it would mask nothing, and its quoted form `''` every empty string).
    public init(values: [String: String], secretNames: Set<String>) {
        self.values = values
        self.secretNames = secretNames
        // An empty secret hides nothing, and its quoted form `''` would mask every empty string.
        let secrets = secretNames.compactMap { values[$0] }.filter { !$0.isEmpty }
        self.redactor = Redactor(secrets: secrets + secrets.map(ShellQuoting.quote))
    }
}

/// Why a variable could not be read when a run starts.
public enum VariableResolutionError: Error, Equatable, CustomStringConvertible {
    /// The variable's environment variable is not set.
    case environmentUnset(variable: String, environment: String, at: SourceLocation)
    /// The variable's file (as the runbook writes its path) cannot be read.
    case fileUnreadable(variable: String, path: String, at: SourceLocation)

    /// The variable's place in the runbook, what is wrong, and what to do.
    public var description: String {
        switch self {
        case .environmentUnset(let variable, let environment, let location):
            "\(location): `vars.\(variable)` comes from environment variable `\(environment)`, which is not set; export it and try again"
        case .fileUnreadable(let variable, let path, let location):
            "\(location): `vars.\(variable)` comes from file `\(path)`, which cannot be read; create it or fix the path"
        }
    }
}

extension Runbook {
    /// Reads every variable's value: literal, from `environment`, or from a file beside the runbook
    /// (one trailing newline dropped, as editors add one).
    ///
    /// - Throws: ``VariableResolutionError`` for the first variable that cannot be read.
    public func resolveVariables(environment: [String: String]) throws -> ResolvedVariables {
        var values: [String: String] = [:]
        for variable in vars {
            switch variable.source {
            case .value(let text):
                values[variable.name] = text
            case .environment(let name):
                guard let value = environment[name] else {
                    throw VariableResolutionError.environmentUnset(variable: variable.name, environment: name, at: variable.location)
                }
                values[variable.name] = value
            case .file(let path):
                guard let data = FileManager.default.contents(atPath: PathResolver.resolve(path, in: directory)) else {
                    throw VariableResolutionError.fileUnreadable(variable: variable.name, path: path, at: variable.location)
                }
                var text = String(decoding: data, as: UTF8.self)
                if text.hasSuffix("\n") { text.removeLast() }
                values[variable.name] = text
            }
        }
        return ResolvedVariables(values: values, secretNames: Set(vars.filter(\.secret).map(\.name)))
    }
}

extension RenderContext {
    /// A context for `target` with the run's resolved variables.
    public init(
        variables: ResolvedVariables, target: Target?, runID: String?, stageName: String?, runbookDirectory: String
    ) {
        self.init(
            target: target, vars: variables.values, secretVars: variables.secretNames, runID: runID,
            stageName: stageName, runbookDirectory: runbookDirectory)
    }
}
