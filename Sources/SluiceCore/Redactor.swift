import Foundation

/// Replaces secret values with `***` wherever they appear in a string.
///
/// Every string that leaves Sluice (terminal output, logs, the audit store, webhooks) passes
/// through the run's redactor first. Longer secrets are replaced before shorter ones, so a secret
/// that contains another is never half-redacted. Empty secrets are ignored: redacting the empty
/// string would be meaningless.
public struct Redactor: Sendable, Equatable {
    /// The mask written in place of every secret value.
    public static let mask = "***"

    /// A redactor that changes nothing, for runs whose runbook declares no secrets.
    public static let none = Redactor(secrets: [])

    /// The secret values, longest first, and each line of a multi-line one (see
    /// ``shortestMaskedLine``).
    public let secrets: [String]

    /// The shortest line of a multi-line secret (a key, a certificate) that is masked on its
    /// own. Live output arrives a line at a time, so a multi-line value is never seen whole
    /// there: each of its lines must be a secret too. A shorter line (a blank one, a lone `}`)
    /// holds next to nothing of the secret, and masking it everywhere would garble all output.
    public static let shortestMaskedLine = 6

    /// Creates a redactor for the given secret values.
    public init<S: Sequence>(secrets: S) where S.Element == String {
        let values = secrets.filter { !$0.isEmpty }
        let lines = values.filter { $0.contains("\n") }.flatMap { value in
            value.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0.count >= Self.shortestMaskedLine }
        }
        self.secrets = Set(values + lines).sorted {
            $0.utf8.count != $1.utf8.count ? $0.utf8.count > $1.utf8.count : $0 < $1
        }
    }

    /// Returns `text` with every occurrence of every secret replaced by ``mask``.
    public func redact(_ text: String) -> String {
        guard !secrets.isEmpty else { return text }
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacing(secret, with: Self.mask)
        }
        return result
    }
}
