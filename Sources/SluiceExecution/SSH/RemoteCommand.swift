import Foundation
import SluiceCore

/// The command line ssh sends for one command, and how to read what the wrapper said.
///
/// sshd runs what it is sent with the login user's shell (`$SHELL -c LINE`), so the line is
/// built from words quoted the way any POSIX shell (sh, dash, bash, ksh, zsh) reads them back:
/// the same ``ShellQuoting`` as local commands. It starts `/bin/sh` on the wrapper below, through
/// `sudo -n -u USER` for `become`, so the environment, folder and process group are set by the
/// wrapper as the user the command runs as (sudo resets the environment: variables set before
/// it would be lost, which is also why nothing goes through ssh's `SendEnv`).
enum RemoteCommand {
    /// How the wrapper's own lines on standard error start; the command's standard error goes
    /// to standard output with its standard output, as locally, so nothing it prints can look
    /// like one of these.
    static let marker = "sluice-wrapper:"

    /// The wrapper: `/bin/sh -c WRAPPER sluice GRACE FOLDER NAME=VALUE... -- PROGRAM ARGS...`
    /// with `GRACE` in tenths of a second.
    ///
    /// It starts the command in a process group (a session) of its own with `setsid`, its input
    /// from /dev/null and its standard error joined to standard output, and reports
    /// `started -PGID`. (A host without `setsid`, which util-linux and busybox both have, gets
    /// the command's own process terminated, not its group: `started PID`.) A reader in the background watches the wrapper's own standard input, the
    /// ssh session's: a line `stop TENTHS` (the runner's second Ctrl-C), or its end (the runner
    /// timed the step out and closed it; the connection ended; the runner or its ssh client was
    /// killed, and sshd closed the session), terminates the command's whole group: SIGTERM, then
    /// SIGKILL once the grace has passed. When the command ends by itself, whatever it left
    /// running in its group is terminated the same way (no remote process outlives its step).
    /// The wrapper reports `exit STATUS` and exits with the command's status (128+N for a
    /// signal, as shells report it): it is never killed itself, so ssh's own 255 is never the
    /// command's. Once the command is started, the wrapper ignores SIGPIPE (the command does
    /// not: it was forked before): when the connection is gone, its reports to a closed
    /// standard error must not kill it before it has ended the group.
    static let wrapper = #"""
        say() { printf '%s %s\n' 'sluice-wrapper:' "$*" >&2; }
        g=$1; d=$2; shift 2
        while [ "$#" -gt 0 ]; do
          case $1 in --) shift; break ;; esac
          export "$1"; shift
        done
        if [ -n "$d" ]; then cd "$d" 2>/dev/null || { say nofolder; exit 125; }; fi
        case $1 in
          */*) [ -f "$1" ] && [ -x "$1" ] ;;
          *) command -v "$1" >/dev/null 2>&1 ;;
        esac || { say noprogram; exit 127; }
        exec 3<&0 0</dev/null
        if command -v setsid >/dev/null 2>&1; then setsid "$@" 3<&- 2>&1 & t=-
        else "$@" 3<&- 2>&1 & t=; fi
        p=$!
        trap '' PIPE
        stop() {
          kill -TERM "$t$p" 2>/dev/null || return 0
          n=0
          while kill -0 "$t$p" 2>/dev/null; do
            if [ "$n" -ge "$1" ]; then kill -KILL "$t$p" 2>/dev/null; return 0; fi
            sleep 0.1 2>/dev/null || sleep 1
            n=$((n + 1))
          done
        }
        (
          while IFS= read -r l <&3; do case $l in 'stop '*) g=${l#stop }; break ;; esac; done
          say stopping; stop "$g"
        ) &
        w=$!
        exec 3<&-
        say started "$t$p"
        wait "$p"; s=$?
        if [ -n "$t" ]; then stop "$g"; fi
        kill "$w" 2>/dev/null
        say exit "$s"
        exit "$s"
        """#

    /// Tenths of a second, rounded up, for the wrapper's grace.
    static func tenths(_ duration: Duration) -> Int {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return max(0, Int((seconds * 10).rounded(.up)))
    }

    /// Whether `name` can be set by the wrapper's `export NAME=VALUE`.
    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    /// The line ssh sends for `command`, run in `folder` (nil: the login folder) with
    /// `environment`, as `become` when given.
    static func line(
        for command: RenderedCommand, folder: String?, environment: [String: String], grace: Duration, become: String?
    ) -> String {
        let arguments = [String(tenths(grace)), folder ?? ""] + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            + ["--"] + command.executableArguments
        return shellLine(script: wrapper, name: "sluice", arguments: arguments, become: become)
    }

    /// `exec [sudo -n -u USER --] /bin/sh -c SCRIPT NAME ARGUMENTS...`, each word quoted.
    static func shellLine(script: String, name: String, arguments: [String], become: String?) -> String {
        let sudo = become.map { ["sudo", "-n", "-u", $0, "--"] } ?? []
        return (["exec"] + sudo + ["/bin/sh", "-c", script, name] + arguments).map(ShellQuoting.quote).joined(separator: " ")
    }

    /// What the wrapper reported on standard error, and the rest of what was written there
    /// (ssh's and sudo's own words).
    struct Report: Equatable {
        var started = false
        var stopping = false
        var exitStatus: Int32?
        var noFolder = false
        var noProgram = false
        /// The other lines, for a reason.
        var others: [String] = []

        init(_ text: String) {
            for line in text.split(whereSeparator: \.isNewline) {
                guard line.hasPrefix(RemoteCommand.marker) else {
                    others.append(String(line))
                    continue
                }
                let words = line.dropFirst(RemoteCommand.marker.count).split(separator: " ")
                switch words.first {
                case "started": started = true
                case "stopping": stopping = true
                case "exit": exitStatus = words.dropFirst().first.flatMap { Int32($0) }
                case "nofolder": noFolder = true
                case "noprogram": noProgram = true
                default: others.append(String(line))
                }
            }
        }

        /// ssh's, sudo's and the login shell's words, for a reason.
        var reason: String { SSHDiagnostics.reason(others.joined(separator: "\n")) }
    }
}
