import Synchronization

/// The last `limit` bytes written to it, safe to append from one thread and read from another.
final class OutputTail: Sendable {
    private let state: Mutex<(bytes: [UInt8], dropped: Bool)>
    let limit: Int

    init(limit: Int) {
        self.limit = max(limit, 0)
        state = Mutex(([], false))
    }

    func append(_ chunk: some Collection<UInt8>) {
        state.withLock { state in
            state.bytes.append(contentsOf: chunk)
            if state.bytes.count > limit * 2 {
                state.bytes.removeFirst(state.bytes.count - limit)
                state.dropped = true
            }
        }
    }

    /// The kept bytes as text; a cut through a UTF-8 sequence at the start is dropped, not garbled.
    var text: String {
        state.withLock { state in
            var bytes = state.bytes.suffix(limit)
            if state.bytes.count > limit || state.dropped {
                while let first = bytes.first, first & 0b1100_0000 == 0b1000_0000 { bytes.removeFirst() }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
