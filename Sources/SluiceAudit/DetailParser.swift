import Foundation

/// Reads the top-level members of an event's detail (a JSON object) for display.
enum DetailParser {
    /// The members of `detail`, strings as themselves and other values as compact JSON text;
    /// `nil` when `detail` is not a JSON object.
    static func members(of detail: String) -> [String: String]? {
        guard let data = detail.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any]
        else { return nil }
        var members: [String: String] = [:]
        for (key, value) in object {
            if let text = value as? String {
                members[key] = text
            } else if let data = try? JSONSerialization.data(
                withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]) {
                members[key] = String(decoding: data, as: UTF8.self)
            }
        }
        return members
    }
}
