import Foundation

/// Replaces secret values in a file's bytes (and its path) by tokens naming their variable, and
/// back, so that a file backup in the audit store holds no secret: the restore reads each value
/// again from its variable's source, as opening a journal does.
///
/// Tokens are `\u{1}sluice-secret:NAME\u{1}`: a control byte that configuration files do not
/// contain, so sealing and unsealing give back the exact bytes. Longer values are replaced
/// first, so that a secret containing another is replaced whole.
package struct FileSecretSeal: Sendable {
    private let values: [(name: String, value: Data)]

    /// A seal for these secret values, by variable name; empty values hide nothing.
    package init(values: [String: String]) {
        self.values = values.filter { !$0.value.isEmpty }
            .map { ($0.key, Data($0.value.utf8)) }
            .sorted { ($0.value.count, $0.name) > ($1.value.count, $1.name) }
    }

    /// `data` with every secret value replaced by its token.
    package func seal(_ data: Data) -> Data {
        values.reduce(data) { Self.replacing($1.value, with: Self.token($1.name), in: $0) }
    }

    /// `text` with every secret value replaced by its token.
    package func seal(_ text: String) -> String { String(decoding: seal(Data(text.utf8)), as: UTF8.self) }

    /// `data` with every token of a known variable replaced by its value.
    package func unseal(_ data: Data) -> Data {
        values.reduce(data) { Self.replacing(Self.token($1.name), with: $1.value, in: $0) }
    }

    /// `text` with every token of a known variable replaced by its value.
    package func unseal(_ text: String) -> String { String(decoding: unseal(Data(text.utf8)), as: UTF8.self) }

    /// The variable names of the tokens in `data`.
    package static func names(in data: Data) -> Set<String> {
        let marker = Data("\u{1}sluice-secret:".utf8)
        var names = Set<String>()
        var start = data.startIndex
        while let found = data.range(of: marker, in: start..<data.endIndex) {
            guard let end = data[found.upperBound...].firstIndex(of: 1) else { break }
            names.insert(String(decoding: data[found.upperBound..<end], as: UTF8.self))
            start = data.index(after: end)
        }
        return names
    }

    static func token(_ name: String) -> Data { Data("\u{1}sluice-secret:\(name)\u{1}".utf8) }

    private static func replacing(_ target: Data, with replacement: Data, in data: Data) -> Data {
        guard !target.isEmpty, var found = data.range(of: target) else { return data }
        var result = Data()
        result.reserveCapacity(data.count)
        var start = data.startIndex
        while true {
            result.append(data[start..<found.lowerBound])
            result.append(replacement)
            start = found.upperBound
            guard let next = data.range(of: target, in: start..<data.endIndex) else { break }
            found = next
        }
        result.append(data[start..<data.endIndex])
        return result
    }
}
