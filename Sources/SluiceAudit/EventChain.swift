import Crypto

/// The hash chain's arithmetic.
///
/// `hash = lowercase hex of SHA-256(UTF-8 bytes of prev_hash followed by the canonical JSON)`,
/// where the first event's `prev_hash` is ``genesisHash``.
public enum EventChain {
    /// The `prev_hash` of the first event: 64 zeros.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// Returns the hash of an event whose predecessor's hash is `previous` and whose canonical
    /// JSON is `canonicalJSON`.
    public static func hash(previous: String, canonicalJSON: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(previous.utf8))
        hasher.update(data: Array(canonicalJSON.utf8))
        return hexString(hasher.finalize())
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func hexString<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for byte in digest {
            bytes.append(hexDigits[Int(byte >> 4)])
            bytes.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
