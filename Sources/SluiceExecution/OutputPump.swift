import Foundation
import SluiceCore
import Synchronization

/// Reads the output pipes of all running commands on one thread.
///
/// A thread of its own for each command cost a thread's creation and teardown on every step, a
/// measurable share of a short step; one `poll` loop serves every command running at once. The
/// loop's thread is the only one that reads or closes a registered pipe, so a pipe asked to stop
/// from elsewhere is never closed under a read.
final class OutputPump: Sendable {
    /// The one pump; nil only if its wake-up pipe could not be made (no file descriptor left),
    /// and then commands fail to start instead of the runner trapping.
    static let shared = OutputPump()

    /// A pipe that wakes the loop when a reader was added or asked to stop.
    private let wakeup: (read: Int32, write: Int32)
    private let readers = Mutex<[Int32: PipeReader]>([:])

    private init?() {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeup = (fds[0], fds[1])
        let thread = Thread { [self] in self.run() }
        thread.name = "sluice-output"
        thread.start()
    }

    /// Starts reading `reader`'s pipe.
    func add(_ reader: PipeReader) {
        readers.withLock { $0[reader.fd] = reader }
        wake()
    }

    /// Stops reading `reader`'s pipe soon, even if the pipe has not ended.
    func stop(_ reader: PipeReader) {
        reader.stopRequested.store(true, ordering: .releasing)
        wake()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeup.write, &byte, 1)  // a full pipe already holds a wake-up
    }

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            var watched = readers.withLock { Array($0.values) }
            for reader in watched where reader.stopRequested.load(ordering: .acquiring) { end(reader) }
            watched.removeAll { $0.stopRequested.load(ordering: .acquiring) }  // their pipes are closed now
            var polled = [pollfd(fd: wakeup.read, events: Int16(POLLIN), revents: 0)]
                + watched.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            guard poll(&polled, nfds_t(polled.count), -1) > 0 else { continue }  // EINTR
            if polled[0].revents != 0 {
                while buffer.withUnsafeMutableBytes({ read(wakeup.read, $0.baseAddress, $0.count) }) > 0 {}
            }
            for (reader, polled) in zip(watched, polled.dropFirst()) where polled.revents != 0 {
                guard !reader.stopRequested.load(ordering: .acquiring) else { continue }
                let received = buffer.withUnsafeMutableBytes { read(reader.fd, $0.baseAddress, $0.count) }
                if received < 0, errno == EINTR || errno == EAGAIN { continue }
                if received > 0 {
                    reader.consume(buffer[0..<received])
                } else {
                    end(reader)
                }
            }
        }
    }

    private func end(_ reader: PipeReader) {
        guard readers.withLock({ $0.removeValue(forKey: reader.fd) }) != nil else { return }
        reader.ended()
    }
}

/// One command's output pipe, read by the ``OutputPump`` into an ``OutputTail`` until the pipe
/// ends or it is told to stop.
final class PipeReader: Sendable {
    let fd: Int32
    private let tail: OutputTail
    private let redactor: Redactor
    private let onOutput: (@Sendable (String) -> Void)?
    /// Output since the last newline, for `onOutput`: it gets whole lines, so that a secret split
    /// across two reads is still redacted. Touched only by the pump's thread.
    nonisolated(unsafe) private var partialLine: [UInt8] = []
    private static let longestLine = 4096
    let stopRequested = Atomic<Bool>(false)
    /// Fired when the pipe ended or reading stopped, and the pipe is closed.
    private let done = Latch()

    init(fd: Int32, limit: Int, redactor: Redactor, onOutput: (@Sendable (String) -> Void)?) {
        self.fd = fd
        self.tail = OutputTail(limit: limit)
        self.redactor = redactor
        self.onOutput = onOutput
    }

    /// Starts reading; false when there is no pump to read with.
    func start() -> Bool {
        guard let pump = OutputPump.shared else { return false }
        pump.add(self)
        return true
    }

    /// A chunk read from the pipe.
    func consume(_ chunk: ArraySlice<UInt8>) {
        tail.append(chunk)
        guard onOutput != nil else { return }
        partialLine.append(contentsOf: chunk)
        // Lines are emitted from a moving start and removed once: removing each line as it went
        // shifted the rest of the chunk every time, quadratic in a chunk of short lines.
        var start = partialLine.startIndex
        while let newline = partialLine[start...].firstIndex(of: UInt8(ascii: "\n")) {
            emit(partialLine[start...newline])
            start = newline + 1
        }
        partialLine.removeSubrange(..<start)
        if partialLine.count >= Self.longestLine {
            emit(partialLine[...])
            partialLine.removeAll()
        }
    }

    /// The pipe ended or reading stopped: the rest of a line goes out, the pipe is closed.
    func ended() {
        if !partialLine.isEmpty { emit(partialLine) }
        close(fd)
        done.fire()
    }

    private func emit(_ bytes: some Collection<UInt8>) {
        onOutput?(redactor.redact(String(decoding: bytes, as: UTF8.self)))
    }

    /// Waits up to `grace` for the pipe to end, then stops reading; returns the redacted tail.
    func finish(after grace: Duration) async -> String {
        // Usually the pipe ended with the command: no need for a timer.
        if done.isFired { return redactor.redact(tail.text) }
        let stopper = Task.detached { [self] in
            guard (try? await Task.sleep(for: grace)) != nil else { return }  // the pipe ended first
            OutputPump.shared?.stop(self)
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            done.onFire { continuation.resume() }
        }
        stopper.cancel()
        return redactor.redact(tail.text)
    }
}
