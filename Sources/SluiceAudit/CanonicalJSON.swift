/// The canonical JSON text the hash chain is computed over.
///
/// One value has exactly one spelling:
/// - objects: members sorted by key, compared as UTF-8 bytes; no whitespace anywhere;
/// - strings: `"` and `\` are escaped as `\"` and `\\`; the control characters U+0000 to U+001F
///   as `\u00XX` with lowercase hex; every other character is written as itself, in UTF-8
///   (including `/` and non-ASCII text);
/// - integers in decimal, without a plus sign or leading zeros; `true`, `false`, `null`.
///
/// docs/audit-store.md repeats this definition so that anyone can recompute a hash with other
/// tools.
public enum CanonicalJSON {
    /// Returns the canonical text of `value`.
    public static func encode(_ value: JSONValue) -> String {
        var output = ""
        write(value, into: &output)
        return output
    }

    /// Returns the canonical text of an object whose members are given as pairs (sorted here).
    public static func encodeObject(_ members: [(String, JSONValue)]) -> String {
        var output = ""
        writeObject(members, into: &output)
        return output
    }

    private static func write(_ value: JSONValue, into output: inout String) {
        switch value {
        case .string(let text):
            writeString(text, into: &output)
        case .integer(let number):
            output += String(number)
        case .bool(let flag):
            output += flag ? "true" : "false"
        case .null:
            output += "null"
        case .array(let items):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += "," }
                write(item, into: &output)
            }
            output += "]"
        case .object(let members):
            writeObject(members.map { ($0.key, $0.value) }, into: &output)
        }
    }

    private static func writeObject(_ members: [(String, JSONValue)], into output: inout String) {
        output += "{"
        let sorted = members.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        for (index, member) in sorted.enumerated() {
            if index > 0 { output += "," }
            writeString(member.0, into: &output)
            output += ":"
            write(member.1, into: &output)
        }
        output += "}"
    }

    private static let hexDigits = Array("0123456789abcdef")

    private static func writeString(_ text: String, into output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"":
                output += "\\\""
            case "\\":
                output += "\\\\"
            case "\u{00}"..."\u{1f}":
                let value = Int(scalar.value)
                output += "\\u00"
                output.append(hexDigits[value >> 4])
                output.append(hexDigits[value & 0xf])
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
