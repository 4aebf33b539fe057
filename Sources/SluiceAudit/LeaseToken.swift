/// A lease's fencing token: which acquisition of a target lock or a run's lease a holder got.
///
/// Every acquisition, and every takeover of a lease from a holder that is gone, writes a fresh
/// token; a heartbeat, renewal or release changes nothing unless it carries the token the lease
/// holds now. So a runner whose lease was taken over (a resume on another machine, `sluice
/// unlock`) cannot refresh or free what is no longer its own, and learns that it lost it.
/// Tokens are opaque: compare them for equality only.
public struct LeaseToken: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    /// The token's text.
    public let rawValue: String

    /// A token as a store holds it.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A fresh token: 128 random bits as 32 lowercase hex digits, never issued before in
    /// practice.
    public static func random() -> LeaseToken {
        var generator = SystemRandomNumberGenerator()
        let bits = [generator.next(), generator.next()] as [UInt64]
        let hex = bits.map { word -> String in
            let digits = String(word, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return LeaseToken(rawValue: hex.joined())
    }

    /// The token's text.
    public var description: String { rawValue }
}
