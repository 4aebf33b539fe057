import Foundation
import Subprocess
import SystemPackage

/// Sluice's own small POSIX sh scripts, run on a host for its files and folders.
///
/// Each answers on its first line of standard output: `ok ...`, or `err KIND REASON` (KIND one
/// of ``FileChangeError``'s cases, or `other`), and never exits with 255, so that ssh's own
/// 255 always means the connection. They need, besides a POSIX shell: `stat -c`, `mktemp`,
/// `readlink`, `mv -T`, and for digests `sha256sum`: GNU coreutils or busybox, as on every
/// common Linux distribution.
enum RemoteScripts {
    /// `PREFIX` → `ok FOLDER`: a new private folder (0700) in `$TMPDIR` or `/tmp`.
    static let makeRunFolder = #"""
        umask 077
        d=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXXXX" 2>&1) || { printf 'err other %s\n' "$d"; exit 0; }
        chmod 700 "$d" && printf 'ok %s\n' "$d"
        """#

    /// `FOLDER` → `ok`: removes a run folder this user owns (and nothing else).
    static let removeRunFolder = #"""
        case $1 in */sluice-*.*) ;; *) printf 'err other refusing to remove %s\n' "$1"; exit 0 ;; esac
        if [ -d "$1" ] && [ ! -L "$1" ] && [ -O "$1" ]; then
          e=$(rm -rf -- "$1" 2>&1) || { printf 'err other %s\n' "$e"; exit 0; }
        fi
        echo ok
        """#

    /// `RUNID` → `ok N`: removes the run folders of run RUNID that this user owns in `$TMPDIR`
    /// or `/tmp` (left by a runner that died), N of them.
    static let removeRunFolders = #"""
        n=0
        for d in "${TMPDIR:-/tmp}/sluice-$1".*; do
          if [ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ]; then rm -rf -- "$d" && n=$((n + 1)); fi
        done
        echo "ok $n"
        """#

    /// `PATH` → `missing`, `link TARGET`, `followed RESOLVED` (then as for RESOLVED), or
    /// `ok MODE UID GID SIZE` followed by the file's bytes.
    ///
    /// Unlike ``FileChanger/snapshot(_:follow:)``, which reads through the descriptor it
    /// checked, the type is checked by name and then read by name: a file replaced in between
    /// is caught by its size only (the step fails, asking to try again).
    static let snapshot = #"""
        p=$1
        d=$(dirname -- "$p")
        [ -d "$d" ] || { printf 'err folderMissing %s\n' "$d"; exit 0; }
        if [ -L "$p" ]; then
          t=$(readlink -- "$p")
          if [ "$2" = follow ] && [ -e "$p" ]; then
            r=$(readlink -f -- "$p") || { printf 'err unreadable %s\n' "$r"; exit 0; }
            printf 'followed %s\n' "$r"; p=$r
          else
            printf 'link %s\n' "$t"; exit 0
          fi
        fi
        [ -e "$p" ] || { echo missing; exit 0; }
        if [ -d "$p" ]; then echo 'err notRegularFile directory'; exit 0; fi
        if [ -p "$p" ]; then echo 'err notRegularFile FIFO (named pipe)'; exit 0; fi
        if [ -S "$p" ]; then echo 'err notRegularFile socket'; exit 0; fi
        [ -f "$p" ] || { echo 'err notRegularFile device'; exit 0; }
        [ -r "$p" ] || { echo 'err unreadable Permission denied'; exit 0; }
        i=$(stat -c '%a %u %g %s' -- "$p" 2>&1) || { printf 'err unreadable %s\n' "$i"; exit 0; }
        printf 'ok %s\n' "$i"
        exec cat -- "$p"
        """#

    /// `FOLDER NAME MODE OWNER GROUP SIZE SHA256 REPLACE` with the content on standard input →
    /// `ok DEVICE:INODE`: a new file NAME in FOLDER, created exclusively (`set -C`, which
    /// neither follows nor reuses a name), owner and group set (`chown -h`, when given and not
    /// already the new file's: a login user may keep its own file without being root) and
    /// then mode, all before the content is written through the descriptor it was created
    /// with; then flushed (`sync FILE` where coreutils has it) and checked against SIZE and
    /// SHA256 (which also refuses a script whose content is not the approved one). REPLACE
    /// `replace` removes a leftover of that name first (never followed). On any failure
    /// nothing is left.
    ///
    /// Gap against ``FileChanger``: the shell has no `fchown`/`fchmod`, so owner and mode are
    /// set by name; the name is checked to still be the file created (device and inode) right
    /// before, and again before the rename, but someone who can write the folder could swap it
    /// for a link in between and have `chmod` follow it.
    static let stage = #"""
        d=$1 n=$2 m=$3 u=$4 g=$5 z=$6 h=$7
        t=$d/$n
        [ -d "$d" ] || { printf 'err folderMissing %s\n' "$d"; exit 0; }
        fail() { rm -f -- "$t"; printf 'err %s\n' "$*"; exit 0; }
        if [ "$8" = replace ]; then e=$(rm -f -- "$t" 2>&1) || { printf 'err unwritable %s\n' "$e"; exit 0; }; fi
        umask 077; set -C
        command exec 4>"$t" || {
          if [ -w "$d" ]; then printf 'err unwritable %s already exists\n' "$t"; else printf 'err unwritable %s: Permission denied\n' "$d"; fi
          exit 0
        }
        set +C
        i=$(stat -L -c '%d:%i' /dev/fd/4 2>/dev/null)
        [ -n "$i" ] && [ ! -L "$t" ] && [ "$(stat -c '%d:%i' -- "$t" 2>/dev/null)" = "$i" ] || { printf 'err swapped %s\n' "$t"; exit 0; }
        o=$(stat -c '%u:%g' -- "$t")
        if [ -n "$u$g" ] && [ "${u:-${o%:*}}:${g:-${o#*:}}" != "$o" ]; then
          e=$(chown -h -- "$u${g:+:$g}" "$t" 2>&1) || fail unwritable "cannot set its owner and group: $e"
        fi
        [ ! -L "$t" ] || { printf 'err swapped %s\n' "$t"; exit 0; }
        e=$(chmod -- "$m" "$t" 2>&1) || fail unwritable "$e"
        e=$(cat 2>&1 >&4) || fail unwritable "$e"
        exec 4>&-
        sync -- "$t" 2>/dev/null
        [ "$(stat -c '%d:%i' -- "$t" 2>/dev/null)" = "$i" ] || { printf 'err swapped %s\n' "$t"; exit 0; }
        c=$(wc -c < "$t" | tr -d ' ')
        [ "$c" = "$z" ] || fail other "only $c of $z bytes arrived"
        if [ -n "$h" ]; then
          a=$(sha256sum < "$t" 2>&1) || fail other "cannot compute the SHA-256: $a"
          a=${a%% *}
          [ "$a" = "$h" ] || fail digest "$a"
        fi
        printf 'ok %s\n' "$i"
        """#

    /// `TEMPORARY TARGET DEVICE:INODE` → `ok`: renames the staged file over the target (`mv -T`,
    /// one `rename(2)` in one folder), flushes the folder, and checks that the target now
    /// names the very file staged.
    static let commit = #"""
        t=$1 f=$2 i=$3
        [ ! -L "$t" ] && [ "$(stat -c '%d:%i' -- "$t" 2>/dev/null)" = "$i" ] || { printf 'err swapped %s\n' "$f"; exit 0; }
        if [ -d "$f" ] && [ ! -L "$f" ]; then rm -f -- "$t"; echo 'err notRegularFile directory'; exit 0; fi
        e=$(mv -f -T -- "$t" "$f" 2>&1) || { rm -f -- "$t"; printf 'err unwritable %s\n' "$e"; exit 0; }
        sync -- "$(dirname -- "$f")" 2>/dev/null
        [ ! -L "$f" ] && [ "$(stat -c '%d:%i' -- "$f" 2>/dev/null)" = "$i" ] || { printf 'err swapped %s\n' "$f"; exit 0; }
        echo ok
        """#

    /// `TEMPORARY DEVICE:INODE` → `ok`: removes the staged file if its name is still the file
    /// staged.
    static let discard = #"""
        if [ ! -L "$1" ] && [ "$(stat -c '%d:%i' -- "$1" 2>/dev/null)" = "$2" ]; then rm -f -- "$1"; fi
        echo ok
        """#

    /// `PATH` → `ok removed` or `ok absent`: removes a file (or link) that a snapshot said did
    /// not exist; a directory is refused.
    static let remove = #"""
        d=$(dirname -- "$1")
        [ -d "$d" ] || { printf 'err folderMissing %s\n' "$d"; exit 0; }
        if [ -e "$1" ] || [ -L "$1" ]; then
          e=$(rm -f -- "$1" 2>&1) || { printf 'err unwritable %s\n' "$e"; exit 0; }
          sync -- "$d" 2>/dev/null
          echo 'ok removed'
        else
          echo 'ok absent'
        fi
        """#
}

/// What one of ``RemoteScripts`` answered.
struct RemoteScriptResult: Sendable {
    var status: Int32
    var output: Data
    var errors: String

    /// The answer line.
    var firstLine: String? {
        guard let newline = output.firstIndex(of: UInt8(ascii: "\n")) else { return output.isEmpty ? nil : String(decoding: output, as: UTF8.self) }
        return String(decoding: output[output.startIndex..<newline], as: UTF8.self)
    }

    /// The bytes after the answer line.
    var payload: Data {
        guard let newline = output.firstIndex(of: UInt8(ascii: "\n")) else { return Data() }
        return output[output.index(after: newline)...]
    }

    /// `err KIND REASON` as (KIND, REASON).
    var failure: (kind: String, reason: String)? {
        guard let line = firstLine, line.hasPrefix("err ") else { return nil }
        let rest = line.dropFirst(4)
        let kind = rest.prefix { $0 != " " }
        return (String(kind), String(rest.dropFirst(kind.count).drop { $0 == " " }))
    }

    /// Why it did not answer `ok`, for people.
    var problem: String {
        if let failure { return failure.reason }
        let said = SSHDiagnostics.reason(errors)
        return said.isEmpty ? "no answer (status \(status))" : said
    }

    /// Runs `script` on the host over `lease`, `input` as its standard input.
    ///
    /// - Throws: ``SSHError/connectionFailed(host:reason:)`` for ssh's 255 (or the operation
    ///   timing out), ``SSHError/becomeRefused(host:user:reason:)`` when sudo refused.
    static func run(
        _ script: String, arguments: [String], input: Data?, lease: SSHConnections.Lease, program: String,
        destination: SSHDestination, as user: String?, timeout: Duration, what: String
    ) async throws(SSHError) -> RemoteScriptResult {
        let line = RemoteCommand.shellLine(script: script, name: "sluice", arguments: arguments, become: user)
        let sshArguments = lease.options + ["-o", "ControlMaster=no", "-T", "--", destination.host, line]
        let options = SSHTransport.ownProcessGroup
        let outcome: RemoteScriptResult?
        do {
            outcome = try await withThrowingTaskGroup(of: RemoteScriptResult?.self) { group in
                group.addTask {
                    let result = try await Subprocess.run(
                        .path(FilePath(program)), arguments: Arguments(sshArguments), platformOptions: options,
                        input: .data(input ?? Data()), output: .data(limit: 1 << 30), error: .string(limit: 1 << 16))
                    let status: Int32 =
                        switch result.terminationStatus {
                        case .exited(let code): code
                        case .signaled(let signal): 128 + signal
                        }
                    return RemoteScriptResult(status: status, output: result.standardOutput, errors: result.standardError)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
        } catch {
            throw SSHError.connectionFailed(host: destination.description, reason: "\(what): \(error)")
        }
        guard let outcome else {
            throw SSHError.connectionFailed(host: destination.description, reason: "\(what) took longer than \(timeout)")
        }
        if outcome.output.isEmpty {
            if let user, outcome.errors.contains("sudo:") {
                throw SSHError.becomeRefused(host: destination.description, user: user, reason: SSHDiagnostics.reason(outcome.errors))
            }
            if outcome.status == 255 || outcome.status > 128 {
                throw SSHError.connectionFailed(host: destination.description, reason: SSHDiagnostics.reason(outcome.errors))
            }
        }
        return outcome
    }
}
