#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What this machine can tell about processes: its host name and whether a process exists.
public enum ProcessProbe {
    /// This host's name, as `gethostname(2)` reports it.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// This process's id.
    public static var currentPID: Int32 { getpid() }

    /// Whether process `pid` is certainly gone from this host: `kill(pid, 0)` fails with `ESRCH`.
    ///
    /// A process that exists but belongs to another user (`EPERM`) counts as present; so does a
    /// recycled pid, which keeps the answer on the safe side.
    public static func isGone(pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == -1 && errno == ESRCH
    }

    /// Whether process `pid` of `host` is certainly gone: answerable only for this host (another
    /// host's processes cannot be checked from here, so for them the answer is false).
    public static func isGone(pid: Int32, onHost host: String) -> Bool {
        host == hostName && isGone(pid: pid)
    }
}
