import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP server on 127.0.0.1 for health tests, on a port the system picks.
///
/// Routes: `/ok` answers 200 "ok", `/text` 200 "all good here", `/down` 503, `/slow` answers
/// 200 "ok" after 3 s.
final class TestHTTPServer: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    init() async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Responder())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async {
        try? await channel.close()
    }

    private final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = unwrapInboundIn(data) else { return }
            let (status, body, delay): (HTTPResponseStatus, String, TimeAmount) = switch head.uri {
            case "/ok": (.ok, "ok", .zero)
            case "/text": (.ok, "all good here", .zero)
            case "/down": (.serviceUnavailable, "down", .zero)
            case "/slow": (.ok, "ok", .seconds(3))
            default: (.notFound, "no such page", .zero)
            }
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: delay) {
                let context = loopBound.value
                var headers = HTTPHeaders()
                headers.add(name: "Content-Length", value: "\(body.utf8.count)")
                headers.add(name: "Connection", value: "close")
                context.write(handler.value.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
                context.write(handler.value.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                context.writeAndFlush(handler.value.wrapOutboundOut(.end(nil))).whenComplete { _ in loopBound.value.close(promise: nil) }
            }
        }
    }
}
