/// The version `sluice --version` prints.
public enum SluiceVersion {
    /// This Sluice's version: what `sluice --version` prints, and what health probes' and webhooks'
    /// `User-Agent` carries (`sluice-health/0.1.0`, `sluice-notify/0.1.0`).
    public static let current = "0.1.0"
}
