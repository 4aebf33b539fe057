import Foundation

/// How to reach one host over SSH: the plain values that a runbook's `ssh:` defaults and a
/// target's `host`, `user` and `port` resolve to (SPEC section 6).
///
/// Paths are used as given: the runbook side makes `config` and `known_hosts` absolute
/// (relative to the runbook) before building a destination. Everything not set here comes from
/// the operator's own ssh configuration, which is the point of using the system OpenSSH client.
public struct SSHDestination: Sendable, Hashable, CustomStringConvertible {
    /// The host name or address, or an alias of the ssh configuration.
    public var host: String
    /// The login user; nil: what the ssh configuration says, else the local login name.
    public var user: String?
    /// nil: what the ssh configuration says, else 22.
    public var port: Int?
    /// A private key file, passed as `-i`.
    public var identity: String?
    /// An ssh_config file, passed as `-F` (instead of `~/.ssh/config` and `/etc/ssh/ssh_config`).
    public var configFile: String?
    /// A known_hosts file, passed as `UserKnownHostsFile`; host keys are always checked.
    public var knownHostsFile: String?
    /// Extra `-o NAME=VALUE` options (`ProxyJump`, `StrictHostKeyChecking=accept-new`, ...).
    public var options: [String: String]
    /// The user commands run as on the host, through `sudo -n -u USER`; nil: the login user.
    public var become: String?

    /// A destination; see each property for what nil means.
    public init(
        host: String, user: String? = nil, port: Int? = nil, identity: String? = nil, configFile: String? = nil,
        knownHostsFile: String? = nil, options: [String: String] = [:], become: String? = nil
    ) {
        self.host = host
        self.user = user
        self.port = port
        self.identity = identity
        self.configFile = configFile
        self.knownHostsFile = knownHostsFile
        self.options = options
        self.become = become
    }

    /// `user@host:port` for people, with the parts that are set.
    public var description: String {
        let address = host.contains(":") ? "[\(host)]" : host
        return (user.map { "\($0)@" } ?? "") + address + (port.map { ":\($0)" } ?? "")
    }

    /// Options Sluice sets itself and a runbook may not: each would make ssh interactive, share
    /// or outlive the run's connection, or give commands a terminal (whose end the wrapper
    /// would not see as the end of its input).
    public static let reservedOptions: Set<String> = [
        "batchmode", "controlmaster", "controlpath", "controlpersist", "requesttty", "remotecommand",
        "sessiontype", "stdinnull", "forkafterauthentication",
    ]

    /// What is wrong with these values, one sentence each, empty when nothing is: a host or
    /// user that ssh would read as an option, a port out of range, `StrictHostKeyChecking`
    /// other than `yes` or `accept-new`, an option Sluice sets itself, an option name that is
    /// not one word. The runbook side reports these as validation errors; opening a connection
    /// refuses with the first.
    public var problems: [String] {
        var problems: [String] = []
        if host.isEmpty || host.hasPrefix("-") || host.contains(where: { $0.isWhitespace }) {
            problems.append("the host `\(host)` is not a host name: it may not be empty, start with `-` or contain spaces")
        }
        if let user, user.isEmpty || user.hasPrefix("-") || user.contains(where: { $0.isWhitespace }) {
            problems.append("the user `\(user)` is not a user name: it may not be empty, start with `-` or contain spaces")
        }
        if let become, become.isEmpty || become.hasPrefix("-") || become.contains(where: { $0.isWhitespace }) {
            problems.append("`become: \(become)` is not a user name: it may not be empty, start with `-` or contain spaces")
        }
        if let port, !(1...65535).contains(port) {
            problems.append("the port \(port) is not between 1 and 65535")
        }
        for (name, value) in options.sorted(by: { $0.key < $1.key }) {
            let lowered = name.lowercased()
            if name.isEmpty || !name.allSatisfy({ $0.isASCII && $0.isLetter }) {
                problems.append("`\(name)` is not an ssh option name (letters only, as in `ProxyJump`)")
            } else if lowered == "stricthostkeychecking" {
                if !["yes", "accept-new"].contains(value.lowercased()) {
                    problems.append(
                        "`StrictHostKeyChecking=\(value)` is refused: host keys are always checked; use `yes` (the default) or `accept-new` to learn the key of a host seen for the first time")
                }
            } else if Self.reservedOptions.contains(lowered) {
                problems.append("`\(name)` is set by Sluice itself (one private, non-interactive connection per host for the run); remove it from `options`")
            }
            if value.contains(where: { $0.isNewline }) {
                problems.append("the value of `\(name)` contains a line break")
            }
        }
        return problems
    }

    /// `StrictHostKeyChecking` as Sluice passes it: `accept-new` when the options ask for it,
    /// else `yes`.
    var strictHostKeyChecking: String {
        let asked = options.first { $0.key.lowercased() == "stricthostkeychecking" }?.value.lowercased()
        return asked == "accept-new" ? "accept-new" : "yes"
    }

    /// The connection this destination shares with others: the same host reached the same way
    /// (`become` is per command, not per connection).
    var connectionKey: SSHDestination {
        var key = self
        key.become = nil
        return key
    }
}
