import Foundation
import Yams

/// Steps and recovery steps: their common keys, each action (`run`, `health`, `file`, ...) and
/// its own keys, `env`, and a file step's `source`, read as a template in its own file.
extension RunbookBuilder {
    static let stepKeys = [
        "name", "run", "health", "cache_refresh", "file", "wait", "check", "rollback", "timeout", "retries",
        "retry_delay", "when", "env",
    ]
    static let actionKeys = ["run", "health", "cache_refresh", "file", "wait"]

    /// A step of `steps` or `recovery`; `section` names which in messages ("a recovery step").
    func step(_ node: Node, section: String) -> Step? {
        guard let fields = reader.fields(node, section, known: Self.stepKeys) else { return nil }
        let nameNode = reader.required(fields, "name")
        let name = nameNode.flatMap { reader.nonEmptyString($0, "a step's `name`") }
        let actions = fields.present(Self.actionKeys)
        var action: Step.Action?
        switch actions.count {
        case 0:
            sink.error("step `\(name ?? "?")` has no action; give one of run, health, cache_refresh, file or wait", at: fields.location)
        case 1:
            action = stepAction(actions[0], fields)
        default:
            let second = fields.keyNode(actions[1]).map(reader.location) ?? fields.location
            sink.error("step `\(name ?? "?")` has \(actions.count) actions (\(actions.joined(separator: ", "))); a step has exactly one, so split it into \(actions.count) steps", at: second)
        }
        let check = fields["check"].flatMap { reader.command($0, "`check`") }
        let rollback = fields["rollback"].flatMap { reader.command($0, "`rollback`") }
        let timeout = reader.duration(fields["timeout"], "`timeout`") ?? Step.defaultTimeout
        if timeout == .zero, let node = fields["timeout"] {
            sink.error("`timeout` must be more than 0s", at: reader.location(node))
        }
        let env = environment(fields["env"])
        guard let name, let action else { return nil }
        return Step(
            name: name, action: action, check: check, rollback: rollback, timeout: timeout,
            retries: reader.integer(fields["retries"], "`retries`", in: 0...100) ?? 0,
            retryDelay: reader.duration(fields["retry_delay"], "`retry_delay`") ?? Step.defaultRetryDelay,
            when: reader.stringMap(fields["when"], "`when`"), env: env, location: nameNode.map(reader.location) ?? fields.location
        )
    }

    private func stepAction(_ key: String, _ fields: Fields) -> Step.Action? {
        guard let node = reader.required(fields, key) else { return nil }
        switch key {
        case "run": return reader.command(node, "`run`").map(Step.Action.run)
        case "cache_refresh": return reader.command(node, "`cache_refresh`").map(Step.Action.cacheRefresh)
        case "wait": return reader.duration(node, "`wait`").map(Step.Action.wait)
        case "health": return health(node).map(Step.Action.health)
        case "file": return fileChange(node).map(Step.Action.file)
        default: preconditionFailure("unhandled step action key \(key)")
        }
    }

    private func environment(_ node: Node?) -> [(name: String, value: Template)] {
        guard let node, !reader.isNull(node) else { return [] }
        guard case .mapping(let mapping) = node else {
            sink.error("`env` must be a mapping of variable names to values, not \(reader.describe(node))", at: reader.location(node))
            return []
        }
        return mapping.compactMap { key, value in
            guard let name = reader.string(key, "an `env` name") else { return nil }
            guard Self.isEnvironmentName(name) else {
                sink.error("`\(name)` is not a valid environment variable name; use letters, digits and `_`, not starting with a digit", at: reader.location(key))
                return nil
            }
            if name.hasPrefix("SLUICE_") {
                sink.error("`\(name)` is set by sluice itself; choose another name", at: reader.location(key))
                return nil
            }
            return reader.template(value, "`env.\(name)`").map { (name, $0) }
        }
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    private func health(_ node: Node) -> HealthCheck? {
        let keys = ["http", "tcp", "command", "status", "contains", "attempts", "interval", "timeout"]
        guard let fields = reader.fields(node, "`health`", known: keys) else { return nil }
        let probes = fields.present(["http", "tcp", "command"])
        guard probes.count == 1 else {
            let problem = probes.isEmpty ? "needs one probe: `http: URL`, `tcp: HOST:PORT` or `command: ...`" : "has \(probes.joined(separator: " and ")); give exactly one probe"
            sink.error("`health` \(problem)", at: fields.location)
            return nil
        }
        let probeNode = fields[probes[0]]
        var probe: HealthCheck.Probe?
        switch probes[0] {
        case "http":
            if let url = reader.template(probeNode, "`health.http`") {
                probe = .http(url)
                if !(url.text.hasPrefix("http://") || url.text.hasPrefix("https://") || url.text.hasPrefix("{{")) {
                    sink.error("`health.http` must start with http:// or https://", at: url.location)
                }
            }
        case "tcp":
            if let address = reader.template(probeNode, "`health.tcp`") {
                probe = .tcp(address)
                // A value built from placeholders is checked when it is rendered.
                if address.variables.isEmpty, !address.text.contains(":") {
                    sink.error("`health.tcp` must be HOST:PORT, for example 127.0.0.1:6379", at: address.location)
                }
            }
        default:
            probe = reader.command(probeNode, "`health.command`").map(HealthCheck.Probe.command)
        }
        if probes[0] != "http" {
            for key in fields.present(["status", "contains"]) {
                sink.error("`\(key)` applies only to `http` health checks", at: fields.keyNode(key).map(reader.location) ?? fields.location)
            }
        }
        let status = reader.integer(fields["status"], "`status`", in: 100...599)
        let attempts = reader.integer(fields["attempts"], "`attempts`", in: 1...10_000) ?? 10
        let interval = reader.duration(fields["interval"], "`interval`") ?? .seconds(2)
        let timeout = reader.duration(fields["timeout"], "`health.timeout`") ?? .seconds(5)
        if timeout == .zero, let node = fields["timeout"] {
            sink.error("`health.timeout` must be more than 0s", at: reader.location(node))
        }
        guard let probe else { return nil }
        return HealthCheck(
            probe: probe, status: status, contains: reader.string(fields["contains"], "`contains`"),
            attempts: attempts, interval: interval, timeout: timeout
        )
    }

    private func fileChange(_ node: Node) -> FileChange? {
        let keys = ["path", "source", "content", "mode", "validate", "reload", "follow"]
        guard let fields = reader.fields(node, "`file`", known: keys) else { return nil }
        let path = reader.required(fields, "path").flatMap { reader.template($0, "`file.path`") }
        var content: FileChange.Content?
        switch fields.present(["content", "source"]) {
        case ["content"]:
            if let node = fields["content"] {
                content = reader.isNull(node) ? .inline(Template(literal: "", location: reader.location(node)))
                    : reader.template(node, "`file.content`").map(FileChange.Content.inline)
            }
        case ["source"]:
            if let node = fields["source"], let sourcePath = reader.nonEmptyString(node, "`file.source`") {
                content = source(sourcePath, at: reader.location(node))
            }
        case []:
            sink.error("`file` needs its new content: `source: FILE` or `content: TEXT`", at: fields.location)
        default:
            sink.error("`file` has both `source` and `content`; keep one", at: fields.keyNode("content").map(reader.location) ?? fields.location)
        }
        var mode: UInt32?
        if let modeNode = fields["mode"], let text = reader.string(modeNode, "`file.mode`") {
            if text.count >= 3, text.count <= 4, let value = UInt32(text, radix: 8), value <= 0o7777 {
                mode = value
            } else {
                sink.error("`file.mode` must be octal permission bits such as \"0644\", not `\(text)`", at: reader.location(modeNode))
            }
        }
        let validate = fields["validate"].flatMap { reader.command($0, "`file.validate`") }
        let reload = fields["reload"].flatMap { reader.command($0, "`file.reload`") }
        let follow = reader.boolean(fields["follow"], "`file.follow`") ?? false
        guard let path, let content else { return nil }
        return FileChange(path: path, content: content, mode: mode, validate: validate, reload: reload, follow: follow)
    }

    /// Loads a file step's `source`, whose content is itself a template, located in its own file.
    private func source(_ path: String, at location: SourceLocation) -> FileChange.Content? {
        let resolved = PathResolver.resolve(path, in: directory)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), !isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: resolved)
        else {
            sink.error("file source `\(path)` does not exist or cannot be read (looked for \(resolved))", at: location)
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            sink.error("file source `\(path)` is not UTF-8 text; sluice writes text configuration files", at: location)
            return nil
        }
        let sourceFile = PathResolver.displayPath(path, relativeTo: reader.file)
        let offsets = LineOffsets(text)
        let template = reader.parseTemplate(text, at: SourceLocation(file: sourceFile, line: 1, column: 1)) { offset in
            offsets.location(ofScalarOffset: offset, file: sourceFile)
        }
        return .source(path: path, template: template)
    }
}
