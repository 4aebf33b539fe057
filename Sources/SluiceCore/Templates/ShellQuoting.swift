/// Quoting for values inserted into `/bin/sh -c` command strings.
public enum ShellQuoting {
    /// `value` as one shell word that the shell reads back as exactly `value`.
    ///
    /// Words made only of characters with no meaning to the shell are left bare so rendered commands
    /// stay readable; anything else is wrapped in single quotes, inside which the shell interprets
    /// nothing, with each `'` written as `'\''`. A NUL byte cannot be passed to a process at all,
    /// so callers must reject it before quoting (see ``TemplateRenderError/containsNUL``).
    public static func quote(_ value: String) -> String {
        if !value.isEmpty, value.unicodeScalars.allSatisfy(isSafe) { return value }
        return "'" + value.replacing("'", with: #"'\''"#) + "'"
    }

    private static func isSafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "@", "%", "+", "=", ":", ",", ".", "/", "-": true
        default: false
        }
    }
}
