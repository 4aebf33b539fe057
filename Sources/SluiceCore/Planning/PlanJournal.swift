import Foundation

/// The plan a run carried out, as its journal keeps it: everything needed to undo or resume the
/// run without the runbook (rendered commands, rollback commands, recovery steps, holds), with
/// no secret in it.
///
/// Secret values are sealed: each occurrence in what runs is replaced by a token naming the
/// variable (`\u0001secret:NAME\u0001`, or `secret-quoted` for its shell-quoted form), and the journal records where each secret came from (an environment variable or a
/// file), never its value. Opening the journal reads the secrets again from those sources.
public struct PlanJournal: Sendable, Codable, Equatable {
    /// Where a secret variable's value is read from when the journal is opened.
    public enum SecretSource: Sendable, Codable, Equatable {
        /// This environment variable of the process that opens the journal.
        case environment(String)
        /// An absolute path.
        case file(String)
        /// Written in the runbook itself, which the journal does not keep.
        case runbook
    }

    /// The plan, encoded with its executable parts, secrets sealed.
    public var plan: JSONText
    /// Where each secret variable of the runbook is read from again, by variable name.
    public var secrets: [String: SecretSource]

    /// JSON text kept as it was written, so that sealing and hashing see the same bytes.
    public struct JSONText: Sendable, Codable, Equatable {
        /// The JSON, byte for byte as written.
        public var text: String
    }

    /// Seals `plan` with the run's variables.
    public init(plan: Plan, runbook: Runbook, variables: ResolvedVariables) throws {
        let encoded = try ExecutableEncoding.included { try JSONEncoder.journal.encode(plan) }
        let seal = SecretSeal(values: variables.values.filter { variables.secretNames.contains($0.key) })
        self.plan = JSONText(text: seal.seal(String(decoding: encoded, as: UTF8.self)))
        var secrets: [String: SecretSource] = [:]
        for variable in runbook.vars where variable.secret {
            secrets[variable.name] = switch variable.source {
            case .environment(let name): .environment(name)
            case .file(let path): .file(PathResolver.resolve(path, in: runbook.directory))
            case .value: .runbook
            }
        }
        self.secrets = secrets
    }

    /// The secrets the sealed plan uses, by name.
    public var sealedNames: Set<String> { SecretSeal.names(in: plan.text) }

    /// The plan with its secrets read again from their sources, and the redactor that hides them.
    ///
    /// - Throws: ``PlanJournalError`` when a secret cannot be read now, or the plan is unreadable.
    public func open(environment: [String: String]) throws -> (plan: Plan, redactor: Redactor) {
        let values = try secretValues(named: sealedNames, environment: environment)
        let text = SecretSeal(values: values).unseal(plan.text)
        do {
            let plan = try JSONDecoder.journal.decode(Plan.self, from: Data(text.utf8))
            return (plan, ResolvedVariables(values: values, secretNames: Set(values.keys)).redactor)
        } catch let error as DecodingError {
            throw PlanJournalError.unreadable(Self.describe(error))
        } catch {
            throw PlanJournalError.unreadable("\(error)")
        }
    }

    /// Where in the plan a value is damaged or unknown, and what is wrong with it: a damaged
    /// journal is refused, never read with defaults.
    package static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch error {
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

extension PlanJournal {
    /// The values of the secrets `names`, read again from where the runbook said they come from
    /// (a file backup's tokens, say).
    ///
    /// - Throws: ``PlanJournalError`` naming the first variable that cannot be read now.
    public func secretValues(named names: Set<String>, environment: [String: String]) throws -> [String: String] {
        var values: [String: String] = [:]
        for name in names.sorted() {
            switch secrets[name] {
            case .environment(let variable)?:
                guard let value = environment[variable] else { throw PlanJournalError.environmentUnset(variable: name, environment: variable) }
                values[name] = value
            case .file(let path)?:
                guard let data = FileManager.default.contents(atPath: path) else { throw PlanJournalError.fileUnreadable(variable: name, path: path) }
                var text = String(decoding: data, as: UTF8.self)
                if text.hasSuffix("\n") { text.removeLast() }
                values[name] = text
            case .runbook?, nil:
                throw PlanJournalError.writtenInRunbook(variable: name)
            }
        }
        return values
    }
}

/// Why a run's journal cannot be opened.
public enum PlanJournalError: Error, Equatable, CustomStringConvertible {
    /// The secret's environment variable is not set in the process that opens the journal.
    case environmentUnset(variable: String, environment: String)
    /// The secret's file (an absolute path) cannot be read now.
    case fileUnreadable(variable: String, path: String)
    /// The secret was written in the runbook itself, and the journal never keeps a secret value.
    case writtenInRunbook(variable: String)
    /// The sealed plan is not a plan this Sluice can read: where and what is wrong
    /// (``PlanJournal/describe(_:)``).
    case unreadable(String)

    /// What is wrong and what to do, for the operator running `resume` or `rollback`.
    public var description: String {
        switch self {
        case .environmentUnset(let variable, let environment):
            "the run's commands use the secret `vars.\(variable)`, read from environment variable `\(environment)`, which is not set; export it and try again"
        case .fileUnreadable(let variable, let path):
            "the run's commands use the secret `vars.\(variable)`, read from \(path), which cannot be read; restore it and try again"
        case .writtenInRunbook(let variable):
            "the run's commands use the secret `vars.\(variable)`, whose value was written in the runbook and is not kept in the journal; move it to `env:` or `file:`"
        case .unreadable(let reason):
            "the run's journal cannot be read: \(reason)"
        }
    }
}

/// Replaces secret values in JSON text by tokens naming their variable, and back.
///
/// It works on the JSON text, so it looks for each value as JSON writes it (a quote or a
/// backslash in a secret is escaped there), and its tokens are JSON escapes that no encoded
/// plan contains.
struct SecretSeal {
    /// (name, value as JSON writes it, quoted value as JSON writes it), longest first, so that
    /// a secret containing another is replaced whole.
    private let values: [(name: String, raw: String, quoted: String)]

    init(values: [String: String]) {
        self.values = values.filter { !$0.value.isEmpty }
            .map { ($0.key, Self.escaped($0.value), Self.escaped(ShellQuoting.quote($0.value))) }
            .sorted { ($0.quoted.count, $0.name) > ($1.quoted.count, $1.name) }
    }

    /// `text` as it appears inside a JSON string.
    static func escaped(_ text: String) -> String {
        let encoded = (try? JSONEncoder.journal.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
        return String(encoded.dropFirst().dropLast())
    }

    static func token(_ name: String, quoted: Bool) -> String {
        "\\u0001secret\(quoted ? "-quoted" : ""):\(name)\\u0001"
    }

    func seal(_ json: String) -> String {
        var json = json
        for (name, raw, quoted) in values {
            if quoted != raw { json = json.replacingOccurrences(of: quoted, with: Self.token(name, quoted: true)) }
            json = json.replacingOccurrences(of: raw, with: Self.token(name, quoted: false))
        }
        return json
    }

    func unseal(_ json: String) -> String {
        var json = json
        for (name, raw, quoted) in values {
            json = json.replacingOccurrences(of: Self.token(name, quoted: true), with: quoted)
            json = json.replacingOccurrences(of: Self.token(name, quoted: false), with: raw)
        }
        return json
    }

    /// The variable names of the tokens in `json`.
    static func names(in json: String) -> Set<String> {
        var names = Set<String>()
        for piece in json.components(separatedBy: "\\u0001").dropFirst().enumerated() where piece.offset % 2 == 0 {
            for prefix in ["secret-quoted:", "secret:"] where piece.element.hasPrefix(prefix) {
                names.insert(String(piece.element.dropFirst(prefix.count)))
                break
            }
        }
        return names
    }
}

extension JSONEncoder {
    /// How journals are written: dates as RFC 3339, keys sorted.
    static var journal: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

extension JSONDecoder {
    static var journal: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
