import Foundation

/// Resolves paths written in a runbook, which are relative to the runbook's folder.
enum PathResolver {
    static func resolve(_ path: String, in directory: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: directory).appendingPathComponent(path).standardizedFileURL.path
    }

    /// `path` as a diagnostic should name it: beside the runbook, as the operator wrote the runbook's path.
    static func displayPath(_ path: String, relativeTo runbookFile: String) -> String {
        if path.hasPrefix("/") { return path.lexicallyNormalizedPath }
        let folder = (runbookFile as NSString).deletingLastPathComponent
        return (folder.isEmpty ? path : (folder as NSString).appendingPathComponent(path)).lexicallyNormalizedPath
    }
}

extension StringProtocol {
    /// The path as it should be shown to a person: `.` parts and `//` dropped, and each `x/..`
    /// pair removed (`Runbooks/../.sluice` is `.sluice`). Lexical only, for display: where a
    /// part is a symbolic link, the file opened is the one the path as given names.
    package var lexicallyNormalizedPath: String {
        let absolute = hasPrefix("/")
        var parts: [Substring] = []
        for part in split(separator: "/") where part != "." {
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
            } else if part == "..", absolute {
                continue  // `/..` is `/`
            } else {
                parts.append(Substring(part))
            }
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : joined.isEmpty ? "." : joined
    }
}
