import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// `sluice-demo STATE_DIR NAME PORT`: the quickstart's demo service, a real HTTP server on
/// 127.0.0.1:PORT whose answers come from the state that Runbooks/scripts/demo-service.sh keeps
/// in STATE_DIR/NAME (its `state`, `version` and `service.conf`), read on every request.
///
///     GET /health  200 "healthy: web-1 on version 2.0" while the state is `running`,
///                  503 "web-1 is crashed" (or "not installed") otherwise
///     GET /        200 the greeting of service.conf and the version
///
/// It stops on SIGINT or SIGTERM. Only the quickstart uses it; it needs nothing but this package.
@main
struct DemoServer {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard arguments.count == 3, let port = Int(arguments[arguments.startIndex + 2]), (1...65535).contains(port) else {
            FileHandle.standardError.write(Data("usage: sluice-demo STATE_DIR NAME PORT (serves 127.0.0.1:PORT)\n".utf8))
            exit(64)
        }
        let service = DemoService(folder: URL(fileURLWithPath: arguments[arguments.startIndex]).appendingPathComponent(arguments[arguments.startIndex + 1]), name: arguments[arguments.startIndex + 1])
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.pipeline.configureHTTPServerPipeline().flatMap {
                        channel.pipeline.addHandler(DemoHandler(service: service))
                    }
                }
                .bind(host: "127.0.0.1", port: port).get()
        } catch {
            FileHandle.standardError.write(Data("sluice-demo: cannot listen on 127.0.0.1:\(port): \(error); stop what uses the port and try again\n".utf8))
            exit(1)
        }
        FileHandle.standardOutput.write(Data("sluice-demo: \(service.name) listening on http://127.0.0.1:\(port)\n".utf8))
        for number in [SIGINT, SIGTERM] { signal(number, SIG_IGN) }
        let signals = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: .main) }
        for source in signals {
            source.setEventHandler { channel.close(promise: nil) }
            source.resume()
        }
        try await channel.closeFuture.get()
    }
}

/// What the demo service says, from its state folder.
struct DemoService: Sendable {
    let folder: URL
    let name: String

    private func read(_ file: String) -> String? {
        (try? String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func answer(path: String) -> (status: HTTPResponseStatus, body: String) {
        let state = read("state") ?? "not installed"
        let version = read("version") ?? "none"
        switch path {
        case "/health":
            return state == "running" ? (.ok, "healthy: \(name) on version \(version)\n") : (.serviceUnavailable, "\(name) is \(state)\n")
        case "/":
            guard state == "running" else { return (.serviceUnavailable, "\(name) is \(state)\n") }
            let greeting = read("service.conf")?.split(separator: "\n").first { $0.hasPrefix("greeting=") }?.dropFirst("greeting=".count)
            return (.ok, "\(greeting.map(String.init) ?? "Hello") from \(name), version \(version)\n")
        default:
            return (.notFound, "no such page: \(path)\n")
        }
    }
}

final class DemoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let service: DemoService

    init(service: DemoService) { self.service = service }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let (status, body) = service.answer(path: String(request.uri.split(separator: "?").first ?? ""))
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        // One request per connection keeps the demo simple: close once the answer is out.
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
