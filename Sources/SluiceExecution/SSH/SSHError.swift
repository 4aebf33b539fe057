import Foundation

/// Why something Sluice does over SSH could not be done, other than a command's own failure
/// (which is a ``CommandResult``) or a file that cannot be changed (a ``FileChangeError``).
public enum SSHError: Error, Equatable, CustomStringConvertible {
    /// The host could not be reached, the login failed, or its host key is unknown or changed;
    /// `reason` is ssh's own text (from its standard error), for preflight to show.
    case connectionFailed(host: String, reason: String)
    /// The destination's values are unsafe or would make ssh interactive (see
    /// ``SSHDestination/problems``).
    case invalidDestination(host: String, problem: String)
    /// The run's private folder for connection sockets could not be made.
    case socketFolder(String, reason: String)
    /// `sudo -n -u USER` on the host would ask for a password, or refused.
    case becomeRefused(host: String, user: String, reason: String)
    /// A script copied to the host does not have the digest that was planned and approved.
    case scriptMismatch(host: String, path: String, expected: String, actual: String)
    /// A tool Sluice needs on the host failed in a way it cannot explain.
    case remoteFailure(host: String, what: String, reason: String)

    /// What went wrong and what to do, naming the host.
    public var description: String {
        switch self {
        case .connectionFailed(let host, let reason):
            "cannot connect to \(host): \(reason.isEmpty ? "ssh gave no reason" : reason); check that the host is up, the login works (`ssh \(host) true`) and its host key is in known_hosts"
        case .invalidDestination(let host, let problem):
            "cannot connect to \(host): \(problem)"
        case .socketFolder(let folder, let reason):
            "cannot make the private folder \(folder) for SSH connection sockets: \(reason); check that /tmp (or the folder given) is writable"
        case .becomeRefused(let host, let user, let reason):
            "`sudo -n -u \(user)` on \(host) refused: \(reason); allow it without a password for the login user (sudoers NOPASSWD), or remove `become`"
        case .scriptMismatch(let host, let path, let expected, let actual):
            "the script copied to \(host):\(path) has SHA-256 \(actual), not the planned and approved \(expected); it was removed and not run: plan and approve the runbook again"
        case .remoteFailure(let host, let what, let reason):
            "\(what) on \(host) failed: \(reason)"
        }
    }
}
