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
        var output: [UInt8] = []
        write(value, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Returns the canonical text of an object whose members are already sorted by key and
    /// hold only strings, integers and nulls (an event row), without sorting or boxing them.
    static func encodeSortedRow(_ members: [(key: String, value: RowValue)]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(768)
        output.append(UInt8(ascii: "{"))
        for (index, member) in members.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            writeString(member.key, into: &output)
            output.append(UInt8(ascii: ":"))
            switch member.value {
            case .text(let text?): writeString(text, into: &output)
            case .integer(let number?): output.append(contentsOf: String(number).utf8)
            case .text(nil), .integer(nil): output.append(contentsOf: "null".utf8)
            }
        }
        output.append(UInt8(ascii: "}"))
        return String(decoding: output, as: UTF8.self)
    }

    /// A column value of an event row.
    enum RowValue {
        case text(String?)
        case integer(Int64?)
    }

    private static func write(_ value: JSONValue, into output: inout [UInt8]) {
        switch value {
        case .string(let text):
            writeString(text, into: &output)
        case .integer(let number):
            output.append(contentsOf: String(number).utf8)
        case .bool(let flag):
            output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .null:
            output.append(contentsOf: "null".utf8)
        case .array(let items):
            output.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                write(item, into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            writeObject(members.map { ($0.key, $0.value) }, into: &output)
        }
    }

    private static func writeObject(_ members: [(String, JSONValue)], into output: inout [UInt8]) {
        output.append(UInt8(ascii: "{"))
        let sorted = members.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        for (index, member) in sorted.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            writeString(member.0, into: &output)
            output.append(UInt8(ascii: ":"))
            write(member.1, into: &output)
        }
        output.append(UInt8(ascii: "}"))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Works on UTF-8 bytes: every byte to escape is ASCII, and a multi-byte character never
    /// contains an ASCII byte, so bytes other than those are copied as they are.
    private static func writeString(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var runStart = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                output.append(contentsOf: bytes[runStart..<index])
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    output.append(UInt8(ascii: "\\"))
                    output.append(byte)
                default:
                    output.append(contentsOf: "\\u00".utf8)
                    output.append(hexDigits[Int(byte >> 4)])
                    output.append(hexDigits[Int(byte & 0x0f)])
                }
            }
            output.append(contentsOf: bytes[runStart..<bytes.count])
        }
        output.append(UInt8(ascii: "\""))
    }
}
