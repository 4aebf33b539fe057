import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Shared by the execution and end-to-end tests (a library target under Tests/, since test
/// targets cannot share code with each other).
///
/// A real HTTP server on 127.0.0.1 that records every request it receives, in order, and closes
/// when the test lets go of it.
///
/// `answers` says how to answer each request in turn (the last one repeats): a status code, or
/// nil for never answering at all.
public final class WebhookReceiver: Sendable {
    public struct Received: Sendable {
        public var path: String
        public var headers: [String: String]
        public var body: Data
    }

    /// What the connections' handlers share: kept apart from the receiver, so that the server
    /// channel does not keep the receiver alive.
    final class Recording: Sendable {
        let received = Mutex<[Received]>([])
        /// Tasks waiting for a number of requests, with that number, by a key of their own.
        let waiting = Mutex<(next: Int, waiters: [Int: (count: Int, continuation: CheckedContinuation<Void, Never>)], cancelled: Set<Int>)>((0, [:], []))
        let answers: [Int?]

        init(answers: [Int?]) { self.answers = answers }

        func record(_ request: Received) -> Int? {
            let (answer, count) = received.withLock { all in
                all.append(request)
                return (answers[min(all.count - 1, answers.count - 1)], all.count)
            }
            let ready = waiting.withLock { waiting in
                let ready = waiting.waiters.filter { $0.value.count <= count }
                for key in ready.keys { waiting.waiters.removeValue(forKey: key) }
                return ready.values.map(\.continuation)
            }
            for continuation in ready { continuation.resume() }
            return answer
        }

        /// Returns once `count` requests were received, or the waiting task is cancelled.
        func wait(for count: Int) async {
            let key = waiting.withLock { waiting in
                defer { waiting.next += 1 }
                return waiting.next
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    // Under `waiting`'s lock, so that a request recorded meanwhile cannot be missed.
                    let ready = waiting.withLock { waiting -> Bool in
                        if waiting.cancelled.remove(key) != nil || received.withLock({ $0.count }) >= count { return true }
                        waiting.waiters[key] = (count, continuation)
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                let waiter = waiting.withLock { waiting in
                    guard let waiter = waiting.waiters.removeValue(forKey: key) else {
                        waiting.cancelled.insert(key)
                        return nil as CheckedContinuation<Void, Never>?
                    }
                    return waiter.continuation
                }
                waiter?.resume()
            }
        }
    }

    let channel: any Channel
    let recording: Recording

    public var port: Int { channel.localAddress?.port ?? 0 }
    public var url: String { "http://127.0.0.1:\(port)/hook" }
    /// The requests received so far.
    public func requests() -> [Received] { recording.received.withLock { $0 } }

    public init(answers: [Int?] = [200]) async throws {
        let recording = Recording(answers: answers)
        self.recording = recording
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(recording: recording))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    deinit { channel.close(promise: nil) }

    /// Returns once at least `count` requests were received, or the waiting task is cancelled
    /// (a test's `.timeLimit`).
    public func waitForRequests(_ count: Int) async {
        await recording.wait(for: count)
    }

    /// The bodies received so far, decoded as JSON objects.
    public func messages() -> [[String: Any]] {
        recording.received.withLock { $0 }.compactMap { try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any] }
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let recording: Recording
        // Touched only on the connection's event loop.
        var head: HTTPRequestHead?
        var body = Data()

        init(recording: Recording) { self.recording = recording }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = Data()
            case .body(var buffer):
                body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
            case .end:
                guard let head else { return }
                let headers = Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
                guard let status = recording.record(Received(path: head.uri, headers: headers, body: body)) else { return }
                var responseHeaders = HTTPHeaders()
                responseHeaders.add(name: "Content-Length", value: "2")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: status), headers: responseHeaders))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
