import Foundation
import SluiceCore
import SluiceExecution

/// Runs one command on a host over SSH the way a run does, for the SSH transport's tests:
/// they kill this process with SIGKILL mid-command and look on the host for what is left.
///
/// Usage: sluice-ssh-probe BASE HOST PORT USER IDENTITY CONFIG KNOWN_HOSTS COMMAND
/// Prints `folder PATH` (the run's socket folder) once the connections exist, then
/// `result TERMINATION` when the command ended.
@main
struct SSHProbe {
    static func main() async {
        let arguments = CommandLine.arguments.dropFirst()
        guard arguments.count == 8 else {
            FileHandle.standardError.write(Data("usage: sluice-ssh-probe BASE HOST PORT USER IDENTITY CONFIG KNOWN_HOSTS COMMAND\n".utf8))
            exit(64)
        }
        let values = Array(arguments)
        let destination = SSHDestination(
            host: values[1], user: values[3], port: Int(values[2]), identity: values[4], configFile: values[5], knownHostsFile: values[6])
        do {
            let connections = try SSHConnections(runID: "r-probe-\(getpid())", base: values[0])
            FileHandle.standardOutput.write(Data("folder \(connections.folder)\n".utf8))
            let transport = SSHTransport(destination: destination, connections: connections)
            let result = await transport.run(CommandRequest(command: .shell(values[7]), timeout: .seconds(600)))
            FileHandle.standardOutput.write(Data("result \(result.termination)\n".utf8))
            await connections.close()
        } catch {
            FileHandle.standardError.write(Data("error \(error)\n".utf8))
            exit(1)
        }
    }
}
