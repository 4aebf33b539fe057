import Foundation

/// The knobs of a run's SSH connections, with defaults an operator rarely needs to change.
public struct SSHSettings: Sendable, Equatable {
    /// The OpenSSH client.
    public var program: String
    /// `ConnectTimeout`: how long the TCP connection to a host may take.
    public var connectTimeout: Duration
    /// `ServerAliveInterval`: how far apart keep-alives are sent over an idle connection.
    public var serverAliveInterval: Duration
    /// `ServerAliveCountMax`: a host that answers none of this many keep-alives in a row is a
    /// lost connection (ssh exits with 255, every command over it fails as such).
    public var serverAliveCountMax: Int
    /// How long opening a connection may take in all (TCP, host key, login, ProxyJump hops)
    /// before it is given up as a connection failure.
    public var openTimeout: Duration
    /// Commands running at once over one connection: sshd's `MaxSessions`, 10 by default.
    public var sessionsPerHost: Int
    /// Connections open at once; opening one more closes the one used longest ago that runs
    /// nothing (it is opened again when needed), or waits for one to become idle.
    public var mastersAtOnce: Int
    /// A connection idle for longer than this is checked (`ssh -O check`) before it is used
    /// again; one used more recently is known alive from its own process.
    public var recheckAfter: Duration
    /// How long one of Sluice's own file operations on a host (read, stage, rename) may take.
    public var operationTimeout: Duration

    /// The defaults: `/usr/bin/ssh`, 10 s to connect, keep-alives every 15 s (3 missed: lost),
    /// 60 s to open, 10 sessions per host, 100 connections, a check after 5 s idle, 120 s per
    /// file operation.
    public init(
        program: String = "/usr/bin/ssh", connectTimeout: Duration = .seconds(10), serverAliveInterval: Duration = .seconds(15),
        serverAliveCountMax: Int = 3, openTimeout: Duration = .seconds(60), sessionsPerHost: Int = 10, mastersAtOnce: Int = 100,
        recheckAfter: Duration = .seconds(5), operationTimeout: Duration = .seconds(120)
    ) {
        self.program = program
        self.connectTimeout = connectTimeout
        self.serverAliveInterval = serverAliveInterval
        self.serverAliveCountMax = serverAliveCountMax
        self.openTimeout = openTimeout
        self.sessionsPerHost = sessionsPerHost
        self.mastersAtOnce = mastersAtOnce
        self.recheckAfter = recheckAfter
        self.operationTimeout = operationTimeout
    }
}

extension SSHDestination {
    /// The options every ssh invocation for this destination shares (the master, each command,
    /// `-O check`, `-O exit`, `-G`), so that all of them name the same connection.
    ///
    /// The runbook's own options come first: ssh keeps the first value it is given, so they
    /// override Sluice's defaults for `ConnectTimeout` and `ServerAlive*`, while the options
    /// Sluice must set (``SSHDestination/reservedOptions``) are refused by
    /// ``SSHDestination/problems`` rather than overridden.
    func sshOptions(controlPath: String, settings: SSHSettings) -> [String] {
        var arguments: [String] = []
        if let configFile { arguments += ["-F", configFile] }
        if let identity { arguments += ["-i", identity] }
        if let port { arguments += ["-p", String(port)] }
        if let user { arguments += ["-l", user] }
        for (name, value) in options.sorted(by: { $0.key < $1.key }) where name.lowercased() != "stricthostkeychecking" {
            arguments += ["-o", "\(name)=\(value)"]
        }
        if let knownHostsFile { arguments += ["-o", "UserKnownHostsFile=\(knownHostsFile)"] }
        arguments += [
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=\(strictHostKeyChecking)",
            "-o", "ConnectTimeout=\(Self.seconds(settings.connectTimeout))",
            "-o", "ServerAliveInterval=\(Self.seconds(settings.serverAliveInterval))",
            "-o", "ServerAliveCountMax=\(settings.serverAliveCountMax)",
            "-o", "ControlPath=\(controlPath)",
        ]
        return arguments
    }

    /// Whole seconds, at least 1, as ssh's options take them.
    static func seconds(_ duration: Duration) -> Int {
        max(1, Int((Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18).rounded(.up)))
    }
}
