import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A problem setting up or reading the lab: the test fails with this message.
struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One test's world: a copy of Runbooks/ in a temporary folder, with the nginx instances (and
/// redis) that the runbooks change brought up by Runbooks/lab/lab.sh on 127.0.0.1.
///
/// Every port is the lab's documented one shifted by a random offset at which all of them are
/// free, in lab.sh and in the copied runbooks alike, so that labs of test runs in other work trees
/// on the same host never meet. Use ``Lab/run(targets:redis:_:)``, which always brings the
/// services down and removes the folder, whatever the test did.
final class Lab: Sendable {
    /// The repository's top folder.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let labScript = repositoryRoot.appendingPathComponent("Runbooks/lab/lab.sh").path

    /// The `sluice` program built beside the test bundle.
    static let sluice: String = {
        let bundleFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleFolder, bundleFolder.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("sluice")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url.path }
        }
        return repositoryRoot.appendingPathComponent(".build/debug/sluice").path
    }()

    /// Each lab instance's documented port, read from lab.sh's own table so there is one list.
    static let documentedPorts: [String: Int] = {
        let text = (try? String(contentsOfFile: labScript, encoding: .utf8)) ?? ""
        var ports: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count == 3, let port = Int(words[1]), ["loan", "login", "lb", "relay"].contains(String(words[2])) {
                ports[String(words[0])] = port
            }
        }
        return ports
    }()
    static let documentedRedisPort = 6390
    /// The balancers' TLS ports (Runbooks/inventory/balancers.yaml).
    static let documentedTLSPorts = 8441...8446

    let root: URL
    /// The copy of Runbooks/: the runbooks run from here, and tests may change the copies.
    let runbooks: URL
    /// Where lab.sh keeps the instances (`nginx/NAME`), redis and the mail spool.
    let labRoot: URL
    let targets: [String]
    let usesRedis: Bool
    let offset: Int
    let redisPassword = "it-redis-\(UUID().uuidString.prefix(8).lowercased())"
    let probePassword = "it-probe-\(UUID().uuidString.prefix(8).lowercased())"
    var redisPort: Int { Self.documentedRedisPort + offset }

    /// Runs `body` with a lab of `targets` (and redis) up; brings everything down afterwards,
    /// also when `body` throws or an expectation failed. Missing tools fail the test by name.
    static func run<T>(targets: [String], redis: Bool = false, _ body: (Lab) throws -> T) throws -> T {
        try requireTools(redis: redis)
        let lab = try Lab(targets: targets, redis: redis)
        defer { lab.close() }
        try lab.up()
        return try body(lab)
    }

    private init(targets: [String], redis: Bool) throws {
        for target in targets where Self.documentedPorts[target] == nil {
            throw LabError("\(target) is not an instance of Runbooks/lab/lab.sh")
        }
        self.targets = targets
        usesRedis = redis
        root = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-it-\(UUID().uuidString.prefix(12))")
        runbooks = root.appendingPathComponent("Runbooks")
        labRoot = root.appendingPathComponent("lab")
        offset = try Self.freeOffset()
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.repositoryRoot.appendingPathComponent("Runbooks"), to: runbooks)
        try shiftPorts()
    }

    // MARK: Bringing it up and down

    /// The environment lab.sh and the runbooks read.
    var environment: [String: String] {
        [
            "OPS_NGINX_ROOT": labRoot.appendingPathComponent("nginx").path,
            "OPS_MAIL_SPOOL": labRoot.appendingPathComponent("spool").path,
            "OPS_REDIS_PORT": "\(redisPort)",
            "OPS_REDIS_PASSWORD": redisPassword,
            "OPS_LOGIN_PROBE_PASSWORD": probePassword,
            "SLUICE_STORE": root.appendingPathComponent("store/audit.sqlite").path,
            "SLUICE_USER": "integration-test",
            "NO_COLOR": "1",
            "PATH": (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/local/sbin:/usr/sbin:/sbin",
        ]
    }

    private func up() throws {
        var environment = self.environment
        environment["LAB_TARGETS"] = targets.joined(separator: " ")
        environment["LAB_PORT_OFFSET"] = "\(offset)"
        if !usesRedis { environment["LAB_SKIP_REDIS"] = "1" }
        let result = try Command.run("/bin/sh", [Self.labScript, "up", labRoot.path], in: root, environment: environment, timeLimit: 120)
        guard result.status == 0 else {
            throw LabError("Runbooks/lab/lab.sh up failed (exit \(result.status)):\n\(result.output)")
        }
    }

    /// Stops every service of the lab (lab.sh down), kills whatever outlived that (recording it
    /// as a failure: a leak), and removes the folder. Safe to call twice.
    func close() {
        guard FileManager.default.fileExists(atPath: root.path) else { return }
        let started = pidFiles().compactMap(Self.livePID)
        let down = try? Command.run("/bin/sh", [Self.labScript, "down", labRoot.path], in: root, environment: environment, timeLimit: 120)
        if down?.status != 0 {
            Issue.record("Runbooks/lab/lab.sh down failed: \(down?.output ?? "could not start it")")
        }
        var leftovers = Set(started.filter(Self.isRunning))
        leftovers.formUnion(Self.processes(mentioning: root.path))
        if !leftovers.isEmpty {
            Issue.record("processes of the lab outlived lab.sh down, killed now: \(leftovers.sorted())")
            for pid in leftovers { kill(pid, SIGTERM) }
            usleep(500_000)
            for pid in leftovers where Self.isRunning(pid) { kill(pid, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: root)
        PortReservations.release(reservedPorts)
    }

    /// The ports this lab reserved (``PortReservations``), shifted.
    private var reservedPorts: [Int] {
        (Array(Self.documentedPorts.values) + Array(Self.documentedTLSPorts) + [Self.documentedRedisPort]).map { $0 + offset }
    }

    private func pidFiles() -> [String] {
        targets.map { prefix($0).appendingPathComponent("logs/nginx.pid").path }
            + [labRoot.appendingPathComponent("redis/redis.pid").path]
    }

    private static func livePID(_ file: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, isRunning(pid)
        else { return nil }
        return pid
    }

    /// Whether `pid` runs; a zombie (exited, waiting for init to reap it) does not.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return !status.contains("\nState:\tZ")
    }

    /// Processes whose command line names `path` (nginx masters keep their `-p PREFIX`).
    private static func processes(mentioning path: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), pid != getpid(),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self).contains(path)
            else { return nil }
            return pid
        }
    }

    // MARK: Ports

    /// A random offset at which every documented port of the lab is free on 127.0.0.1. The
    /// shifted ports stay below Linux's ephemeral range (32768 and up).
    private static func freeOffset() throws -> Int {
        let ports = Array(documentedPorts.values) + Array(documentedTLSPorts) + [documentedRedisPort]
        for _ in 0..<50 {
            let offset = Int.random(in: 1_000...23_000)
            if PortReservations.reserve(ports.map { $0 + offset }) { return offset }
        }
        throw LabError("found no port offset at which the lab's \(ports.count) ports are all free on 127.0.0.1")
    }

    static func isFree(_ port: Int) -> Bool {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { return false }
        defer { _ = Glibc.close(socketFD) }
        var reuse: Int32 = 1
        setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// Shifts every `127.0.0.1:PORT` and `tls_port: "PORT"` in the copied runbooks and inventories.
    private func shiftPorts() throws {
        let folders = [runbooks, runbooks.appendingPathComponent("inventory")]
        var shifted = 0
        for folder in folders {
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".yaml") {
                let file = folder.appendingPathComponent(name)
                var text = try String(contentsOf: file, encoding: .utf8)
                text = text.replacing(#/127\.0\.0\.1:(\d+)/#) { match in
                    shifted += 1
                    return "127.0.0.1:\(Int(match.1)! + offset)"
                }
                text = text.replacing(#/tls_port: "(\d+)"/#) { match in
                    shifted += 1
                    return "tls_port: \"\(Int(match.1)! + offset)\""
                }
                try text.write(to: file, atomically: true, encoding: .utf8)
            }
        }
        guard shifted > 0 else { throw LabError("found no 127.0.0.1 address to shift in the copied runbooks") }
    }

    /// The port `target` listens on in this lab.
    func port(_ target: String) -> Int { (Self.documentedPorts[target] ?? 0) + offset }

    // MARK: Changing the copies and the instances

    /// Replaces `old` with `new` in a file of the copied Runbooks/ (or, with a leading `/`, at an
    /// absolute path), requiring exactly `count` occurrences so that a change to the real runbook
    /// fails the test here instead of silently testing something else.
    func edit(_ file: String, replacing old: String, with new: String, count: Int = 1) throws {
        let url = file.hasPrefix("/") ? URL(fileURLWithPath: file) : runbooks.appendingPathComponent(file)
        let text = try String(contentsOf: url, encoding: .utf8)
        let found = text.ranges(of: old).count
        guard found == count else {
            throw LabError("\(file): expected \(count) occurrence(s) of `\(old)`, found \(found); has the runbook changed?")
        }
        try text.replacing(old, with: new).write(to: url, atomically: true, encoding: .utf8)
    }

    /// An instance's nginx prefix.
    func prefix(_ target: String) -> URL { labRoot.appendingPathComponent("nginx/\(target)") }

    /// A file under an instance's prefix, or nil when it does not exist.
    func file(_ target: String, _ path: String) -> Data? {
        FileManager.default.contents(atPath: prefix(target).appendingPathComponent(path).path)
    }

    /// The pid of an instance's nginx master, when it runs.
    func masterPID(_ target: String) -> pid_t? {
        Self.livePID(prefix(target).appendingPathComponent("logs/nginx.pid").path)
    }

    /// Every file under `folder` (relative to the lab root) with its bytes and mode, skipping
    /// `logs/` folders (nginx writes there whenever it is asked anything).
    func snapshot(_ folder: String = "nginx") throws -> [String: String] {
        let base = labRoot.appendingPathComponent(folder)
        var files: [String: String] = [:]
        guard let walker = FileManager.default.enumerator(atPath: base.path) else { return files }
        while let relative = walker.nextObject() as? String {
            if relative.split(separator: "/").contains("logs") { continue }
            let path = base.appendingPathComponent(relative).path
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let mode = String((attributes[.posixPermissions] as? Int) ?? 0, radix: 8)
            if attributes[.type] as? FileAttributeType == .typeDirectory {
                files[relative + "/"] = mode
            } else {
                let bytes = FileManager.default.contents(atPath: path) ?? Data()
                files[relative] = "\(mode) \(bytes.base64EncodedString())"
            }
        }
        return files
    }

    // MARK: Asking the services

    /// `GET` (or `POST` with `body`) on an instance; nil when nothing answered.
    func http(_ target: String, _ path: String, post body: String? = nil) throws -> (status: Int, body: String)? {
        var arguments = ["-s", "-m", "5", "-o", "-", "-w", "\n%{http_code}"]
        if let body { arguments += ["-X", "POST", "--data-binary", body] }
        let result = try Command.run("/usr/bin/env", ["curl"] + arguments + ["http://127.0.0.1:\(port(target))\(path)"], in: root, environment: environment, timeLimit: 30)
        guard result.status == 0, let cut = result.stdout.lastIndex(of: "\n"), let status = Int(result.stdout[cut...].dropFirst()) else { return nil }
        return (status, String(result.stdout[..<cut]))
    }

    /// A redis-cli command against the lab's redis; its output without the final newline.
    func redis(_ arguments: String...) throws -> String {
        var environment = self.environment
        environment["REDISCLI_AUTH"] = redisPassword
        let result = try Command.run("/usr/bin/env", ["redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-p", "\(redisPort)"] + arguments, in: root, environment: environment, timeLimit: 30)
        guard result.status == 0 else { throw LabError("redis-cli \(arguments.joined(separator: " ")) failed: \(result.output)") }
        return result.stdout.trimmingCharacters(in: .newlines)
    }

    // MARK: Running sluice

    /// Runs `sluice` in the copied Runbooks/ with the lab's environment and its own audit store.
    ///
    /// `watch`, when given, is called on another thread every 200 ms while sluice runs, until it
    /// returns true: to look at the services mid-run, or to inject a fault at a given moment
    /// (found in the audit store, where each event is durable before the run goes on).
    @discardableResult
    func sluice(_ arguments: [String], timeLimit: TimeInterval = 300, watch: (@Sendable () -> Bool)? = nil) throws -> Command.Result {
        let finished = LockedBox(false), watching = LockedBox(watch != nil)
        if let watch {
            Thread {
                while !finished.value {
                    usleep(200_000)
                    if watch() { break }
                }
                watching.value = false
            }.start()
        }
        let result = try Command.run(Self.sluice, arguments, in: runbooks, environment: environment, timeLimit: timeLimit)
        finished.value = true
        while watching.value { usleep(10_000) }
        if result.timedOut { throw LabError("sluice \(arguments.joined(separator: " ")) did not finish within \(Int(timeLimit))s:\n\(result.output)") }
        return result
    }

    /// Whether the audit store already holds an event matching the given fields (of any run).
    func hasEvent(_ kind: String, target: String? = nil, step: String? = nil, status: String? = nil) -> Bool {
        guard let result = try? Command.run(Self.sluice, ["audit", "export"], in: runbooks, environment: environment, timeLimit: 30),
            result.status == 0
        else { return false }
        let events = result.stdout.split(separator: "\n").compactMap { AuditEvent(line: $0) }
        return events.index(kind, target: target, step: step, status: status) != nil
    }

    /// The run id that `apply` printed.
    static func runID(in output: String) throws -> String {
        guard let match = output.firstMatch(of: #/Run (r-\d{8}-\d{6}-[0-9a-f]{4})/#) else {
            throw LabError("no run id in the output:\n\(output)")
        }
        return String(match.1)
    }

    /// The run's events from the audit store, in order (`sluice audit export --run RUN`).
    func events(of run: String) throws -> [AuditEvent] {
        let result = try sluice(["audit", "export", "--run", run])
        guard result.status == 0 else { throw LabError("sluice audit export failed: \(result.output)") }
        return try result.stdout.split(separator: "\n").map { line in
            guard let event = AuditEvent(line: line) else { throw CocoaError(.coderReadCorrupt, userInfo: [NSLocalizedDescriptionKey: "not an event: \(line)"]) }
            return event
        }
    }

    /// The secret values of this lab that must never appear in output, logs or the store.
    var secrets: [String] { [redisPassword, probePassword] }

    /// Everything sluice wrote that a person or a tool could read: the audit store's files and an
    /// export of every record.
    func storeText() throws -> String {
        let store = root.appendingPathComponent("store")
        var text = ""
        for name in try FileManager.default.contentsOfDirectory(atPath: store.path) {
            let data = FileManager.default.contents(atPath: store.appendingPathComponent(name).path) ?? Data()
            text += String(decoding: data, as: UTF8.self)
        }
        return text + (try sluice(["audit", "export"])).stdout
    }
}

/// The ports the labs of this test process hold. Labs start at the same time when the tests run
/// in parallel, and each checks only that a port is free now, before its services bind it: two
/// labs must not pick the same (or overlapping) ports in that moment.
enum PortReservations {
    private static let held = Mutex<Set<Int>>([])

    /// Reserves `ports` when no other lab of this process holds any of them and each is free on
    /// 127.0.0.1 now; returns whether it did.
    static func reserve(_ ports: [Int]) -> Bool {
        held.withLock { held in
            guard ports.allSatisfy({ !held.contains($0) && Lab.isFree($0) }) else { return false }
            held.formUnion(ports)
            return true
        }
    }

    static func release(_ ports: [Int]) {
        held.withLock { $0.subtract(ports) }
    }
}

/// One audit record, as `sluice audit export` writes it; `detail` as compact JSON text.
struct AuditEvent: CustomStringConvertible {
    var seq: Int
    var kind: String
    var target: String?
    var stage: String?
    var step: String?
    var status: String?
    var detail: String

    /// One line of `audit export` (JSON Lines, `detail` an object).
    init?(line: Substring) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let seq = object["seq"] as? Int, let kind = object["kind"] as? String,
            let detail = object["detail"].flatMap({ try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]) })
        else { return nil }
        (self.seq, self.kind, self.detail) = (seq, kind, String(decoding: detail, as: UTF8.self))
        (target, stage, step, status) = (object["target"] as? String, object["stage"] as? String, object["step"] as? String, object["status"] as? String)
    }

    var description: String { "\(seq) \(kind) \(target ?? "-") / \(step ?? "-") \(status ?? "")" }
}

extension [AuditEvent] {
    /// The position of the first event matching all the given fields.
    func index(_ kind: String, target: String? = nil, step: String? = nil, status: String? = nil) -> Int? {
        firstIndex { event in
            event.kind == kind && (target == nil || event.target == target) && (step == nil || event.step == step)
                && (status == nil || event.status == status)
        }
    }

    /// Whether the run did anything to `target`: ran, undid or recovered a step on it (its
    /// preflight checks and lock records do not count).
    func touched(_ target: String) -> Bool {
        contains { event in
            event.target == target
                && (event.kind.hasPrefix("step.") || event.kind.hasPrefix("rollback.") || event.kind.hasPrefix("recovery."))
        }
    }
}

extension Lab {
    /// Fails, naming what is missing and how to get it, unless the programs the runbooks and
    /// the lab need are installed. Never a silent skip: a green suite must mean the runbooks ran.
    static func requireTools(redis: Bool) throws {
        let needed = ["nginx", "curl", "openssl"] + (redis ? ["redis-server", "redis-cli"] : [])
        let folders = ((ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/local/sbin:/usr/sbin:/sbin").split(separator: ":")
        let missing = needed.filter { tool in !folders.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") } }
        guard missing.isEmpty else {
            throw LabError("""
                the integration tests run the example runbooks against real services, and \(missing.joined(separator: ", ")) \
                \(missing.count == 1 ? "is" : "are") not installed. Scripts/test.sh installs them through \
                Scripts/integration-setup.sh (Debian's packages, as root); run that, or install nginx, redis-server, \
                redis-tools, curl and openssl yourself.
                """)
        }
    }
}
