extension StringProtocol {
    /// The text with every character a terminal would obey instead of show spelt out, for
    /// printing to a person: a runbook, a variable or a command's output can then not move the
    /// cursor, erase a line, recolour or conceal text, or reorder it, and so hide from the
    /// reviewer of a plan or a run what runs.
    ///
    /// - ESC is `\e`, CR `\r`; every other C0 control but tab and newline is `\xHH` (BEL is
    ///   `\x07`, NUL `\x00`), and DEL is `\x7f`.
    /// - The C1 controls (U+0080–U+009F; U+009B is a one-character CSI to some terminals) and the
    ///   bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069, the
    ///   "Trojan Source" characters, which make a terminal or viewer show text in another order
    ///   than it runs) are `\uHHHH`.
    /// - Tab and newline stay: a tab only moves the cursor right to the next tab stop and a line
    ///   break only starts a line, so neither can overwrite or hide what was shown; multi-line
    ///   commands and output keep their lines, and tabulated output its columns.
    /// - A backslash stays as it is, so a command such as `printf '\033'` reads as written. The
    ///   price: typed text `\e` looks like an escaped ESC. Both are visible, harmless text, and
    ///   the raw bytes are in `--json` and the audit store. In return escaping is idempotent:
    ///   escaping escaped text changes nothing, so a value escaped at two layers shows the same.
    ///
    /// Every other character, multi-byte UTF-8 included, is left alone. Only what is shown is
    /// escaped: stored, audited and JSON text keeps the raw value.
    package var escapedForTerminal: String {
        // Nearly all text needs nothing: scan the bytes once and return it. Every character
        // escaped below is an ASCII control byte, or starts with 0xC2 (C1) or 0xE2 (bidi).
        guard utf8.contains(where: { byte in
            (byte < 0x20 && byte != 0x09 && byte != 0x0A) || byte == 0x7F || byte == 0xC2 || byte == 0xE2
        }) else { return String(self) }
        var escaped = ""
        escaped.reserveCapacity(utf8.count + 16)
        for scalar in unicodeScalars {
            switch scalar.value {
            case 0x1B: escaped += "\\e"
            case 0x0D: escaped += "\\r"
            case 0x09, 0x0A: escaped.unicodeScalars.append(scalar)
            case 0x00..<0x20, 0x7F: escaped += "\\x" + hexadecimal(scalar.value, digits: 2)
            case 0x80..<0xA0, 0x202A...0x202E, 0x2066...0x2069: escaped += "\\u" + hexadecimal(scalar.value, digits: 4)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}

/// `value` in lowercase hexadecimal, at least `digits` long.
private func hexadecimal(_ value: UInt32, digits: Int) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: max(digits - text.count, 0)) + text
}
