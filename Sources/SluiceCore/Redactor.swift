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

    /// The secret values, longest first.
    public let secrets: [String]

    /// Creates a redactor for the given secret values.
    public init<S: Sequence>(secrets: S) where S.Element == String {
        self.secrets = Set(secrets.filter { !$0.isEmpty }).sorted {
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
