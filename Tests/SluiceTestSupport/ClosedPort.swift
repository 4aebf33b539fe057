#if canImport(Glibc)
import Glibc
#endif

/// A port on 127.0.0.1 where every connection is refused, for as long as the test holds it.
///
/// The port is bound and never listened on: connecting gets ECONNREFUSED, and no other test
/// running at the same time can bind it, as it could a port that was bound and closed again
/// (the kernel hands freed ports out again).
public final class ClosedPort: Sendable {
    private let socket: Int32
    public let port: Int

    public init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw ClosedPortError(errno: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        guard bound == 0,
            withUnsafeMutablePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }) == 0
        else {
            let error = ClosedPortError(errno: errno)
            close(socket)
            throw error
        }
        self.socket = socket
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(socket) }
}

public struct ClosedPortError: Error, CustomStringConvertible {
    public var errno: Int32
    public var description: String { "cannot bind a port on 127.0.0.1: \(String(cString: strerror(errno)))" }
}
