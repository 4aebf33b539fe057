/// A part of a plan that holds what really runs, secret values included: a rendered command, a
/// probe, a path, a file's new content, a step's environment.
///
/// It is left out of every encoding of a plan (a saved plan, `plan --json`, the store's
/// `plan.recorded`) except inside ``ExecutableEncoding/included(_:)``, which only the run's
/// journal uses, after sealing the secret values (``PlanJournal``). Decoding takes it when present.
@propertyWrapper
public struct Executable<Value: Sendable & Codable & Hashable>: Sendable, Codable, Hashable {
    /// The part with its secret values; nil in a plan read back from anything but a journal, and
    /// where the plan has no such part (a file step without `validate` has no `validateFile`).
    public var wrappedValue: Value?

    /// Wraps `wrappedValue`, as `@Executable var x = ...` does.
    public init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    /// Reads the value, or nil from JSON `null`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }

    /// Writes the value, or `null`. The plan's types do not call this for a property: their keyed
    /// containers use the overload below, which leaves the key out unless a journal is written.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue)
    }
}

/// Whether encoding on this task writes ``Executable`` parts.
package enum ExecutableEncoding {
    @TaskLocal static var isIncluded = false

    /// Runs `body` (which encodes a plan) with executable parts included.
    package static func included<Result>(_ body: () throws -> Result) rethrows -> Result {
        try $isIncluded.withValue(true, operation: body)
    }
}

// Synthesized coding calls these for `@Executable` properties: the key is left out unless
// included, and a missing key decodes as nil.
extension KeyedEncodingContainer {
    /// Writes an ``Executable`` part under `key` only inside ``ExecutableEncoding/included(_:)``,
    /// and never a nil one: elsewhere the key is left out of the encoding altogether.
    package mutating func encode<Value>(_ value: Executable<Value>, forKey key: Key) throws {
        guard ExecutableEncoding.isIncluded, let wrapped = value.wrappedValue else { return }
        try encode(wrapped, forKey: key)
    }
}

extension KeyedDecodingContainer {
    /// Reads an ``Executable`` part: its value when `key` is present, nil when it is not (a plan
    /// saved or shown without its executable parts).
    package func decode<Value>(_ type: Executable<Value>.Type, forKey key: Key) throws -> Executable<Value> {
        Executable(wrappedValue: try decodeIfPresent(Value.self, forKey: key))
    }
}
