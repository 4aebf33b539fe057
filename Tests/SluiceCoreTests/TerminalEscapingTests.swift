import Testing
import SluiceCore

@Suite("Escaping text for a terminal")
struct TerminalEscapingTests {
    @Test(arguments: [
        ("echo safe\u{1B}[2K\rrm -rf /tmp/x", #"echo safe\e[2K\rrm -rf /tmp/x"#),
        ("bell\u{07}", #"bell\x07"#),
        ("nul\u{00}backspace\u{08}form feed\u{0C}unit\u{1F}", #"nul\x00backspace\x08form feed\x0cunit\x1f"#),
        ("delete\u{7F}", #"delete\x7f"#),
        ("one-character CSI\u{9B}2K, NEL\u{85}, \u{80}", #"one-character CSI\u009b2K, NEL\u0085, \u0080"#),
        ("\u{202E}txt.exe\u{202C} and \u{2066}isolate\u{2069}", #"\u202etxt.exe\u202c and \u2066isolate\u2069"#),
    ])
    func controlCharactersAreSpeltOut(raw: String, shown: String) {
        #expect(raw.escapedForTerminal == shown)
    }

    @Test func tabAndNewlineStay() {
        #expect("a\tb\nc\n".escapedForTerminal == "a\tb\nc\n")
    }

    @Test func multiByteTextIsLeftAlone() {
        // Two-byte UTF-8 starting 0xC2 (like C1), three-byte starting 0xE2 (like the bidi controls),
        // right-to-left script, an emoji with a joiner, a combining accent
        let text = "£5 ±1 © — “quoted” → ✓ שלום 👩‍💻 e\u{301}"
        #expect(text.escapedForTerminal == text)
    }

    @Test func backslashesStaySoEscapingTwiceChangesNothing() {
        let once = "printf '\\033[1m'; \u{1B}[8m".escapedForTerminal
        #expect(once == #"printf '\033[1m'; \e[8m"#)
        #expect(once.escapedForTerminal == once)
    }

    @Test func aCRLFLineEndingShowsItsCR() {
        // Swift holds "\r\n" as one character; its CR is still shown
        #expect("dos line\r\n".escapedForTerminal == "dos line\\r\n")
    }

    @Test func aSubstringIsEscapedToo() {
        let line = "out\u{1B}[K|rest".split(separator: "|")[0]
        #expect(line.escapedForTerminal == #"out\e[K"#)
    }

    @Test func escapedTextKeepsTheStylingWrappedAroundIt() {
        // Escaping comes before styling: the style's ESC sequences are added after, and stay
        let styled = "\u{1B}[1m" + "web\u{1B}[8m1".escapedForTerminal + "\u{1B}[0m"
        #expect(styled == "\u{1B}[1mweb\\e[8m1\u{1B}[0m")
        #expect(styled.unicodeScalars.filter { $0 == "\u{1B}" }.count == 2)
    }
}
