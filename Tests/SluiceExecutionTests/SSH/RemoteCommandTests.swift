import Foundation
import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceExecution

@Suite("How a remote command's end is read")
struct RemoteCommandTests {
    static func termination(
        _ status: RemoteCommandProcess.Status, _ errors: String, timedOut: Bool = false, terminated: Bool = false, become: String? = nil
    ) -> CommandResult.Termination {
        let control = RemoteCommandControl()
        if timedOut { control.timeOut() }
        if terminated { control.stop(grace: .seconds(1)) }
        return SSHTransport.termination(
            ssh: status, report: RemoteCommand.Report(errors), control: control, folder: "/tmp/run", program: .argv(["deploy"]),
            location: "ops@relay-1:22", become: become)
    }

    @Test func theWrappersStatusIsTheCommandsEvenWhen255() {
        #expect(Self.termination(.exited(255), "sluice-wrapper: started -42\nsluice-wrapper: exit 255\n") == .exited(255))
        #expect(Self.termination(.exited(3), "sluice-wrapper: started -42\nsluice-wrapper: exit 3\n") == .exited(3))
    }

    @Test func ssh255WithoutTheWrappersStatusIsAConnectionFailure() {
        #expect(Self.termination(.exited(255), "ssh: connect to host relay-1 port 22: Connection refused\n")
            == .connectionFailed("cannot reach ops@relay-1:22: ssh: connect to host relay-1 port 22: Connection refused"))
        #expect(Self.termination(.exited(255), "sluice-wrapper: started -42\nclient_loop: send disconnect: Broken pipe\n")
            == .connectionFailed("the connection to ops@relay-1:22 was lost while the command ran: client_loop: send disconnect: Broken pipe"))
        guard case .connectionFailed = Self.termination(.signalled(9), "sluice-wrapper: started -42\n") else {
            Issue.record("a killed ssh client is a connection failure")
            return
        }
    }

    @Test func aStopOrATimeoutIsReportedAsLocally() {
        #expect(Self.termination(.exited(143), "sluice-wrapper: started -42\nsluice-wrapper: stopping\nsluice-wrapper: exit 143\n", terminated: true)
            == .signalled(15))
        #expect(Self.termination(.exited(143), "sluice-wrapper: exit 143\n") == .exited(143))
        #expect(Self.termination(.exited(137), "sluice-wrapper: exit 137\n", timedOut: true) == .timedOut)
        #expect(Self.termination(.exited(255), "", timedOut: true) == .timedOut)
    }

    @Test func aSudoThatWantsAPasswordNeverStarted() {
        guard case .failedToStart(let reason) = Self.termination(.exited(1), "sudo: a password is required\n", become: "root") else {
            Issue.record("expected failedToStart")
            return
        }
        #expect(reason.contains("sudo -n -u root"))
        #expect(reason.contains("a password is required"))
    }

    @Test func theWrappersOwnRefusalsNameWhatIsMissing() {
        #expect(Self.termination(.exited(125), "sluice-wrapper: nofolder\n") == .failedToStart("the working folder /tmp/run does not exist on ops@relay-1:22"))
        #expect(Self.termination(.exited(127), "sluice-wrapper: noprogram\n")
            == .failedToStart("deploy does not exist on ops@relay-1:22, or is not executable there"))
    }

    @Test func theLineQuotesEveryWordForAnyPOSIXShell() {
        let line = RemoteCommand.line(
            for: .argv(["printf", "%s", "it's $HOME"]), folder: "/tmp/a b", environment: ["B": "2", "A": "x'y"], grace: .milliseconds(1500),
            become: "root")
        #expect(line.hasPrefix("exec sudo -n -u root -- /bin/sh -c '"))
        #expect(line.hasSuffix(#" sluice 15 '/tmp/a b' 'A=x'\''y' B=2 -- printf %s 'it'\''s $HOME'"#))
    }

    @Test(arguments: [("SLUICE_RUN_ID", true), ("_x1", true), ("1x", false), ("A-B", false), ("", false), ("É", false)])
    func variableNames(_ name: String, _ valid: Bool) {
        #expect(RemoteCommand.isVariableName(name) == valid)
    }
}
