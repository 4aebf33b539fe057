import Foundation
import Yams

/// Builds a ``Runbook`` from a YAML node tree, section by section, reporting as it goes.
///
/// Structural checks live here (types, keys, required values, formats). Checks that need the whole
/// runbook (templates against targets, stage assignment, duplicate names, scripts) are the
/// ``RunbookValidator``'s.
struct RunbookBuilder {
    let reader: YAMLReader
    let directory: String
    var sink: DiagnosticSink { reader.sink }

    init(reader: YAMLReader, directory: String) {
        self.reader = reader
        self.directory = directory
    }

    static let topLevelKeys = [
        "sluice", "id", "title", "kind", "owner", "ticket", "approval", "window", "freeze", "vars", "targets",
        "inventory", "rollout", "holds", "guards", "preflight", "steps", "recovery", "notify",
    ]

    mutating func build(_ root: Node) -> Runbook? {
        guard let top = reader.fields(root, "the runbook", known: Self.topLevelKeys) else { return nil }
        var runbook = Runbook(file: reader.file, directory: directory)

        if let versionNode = reader.required(top, "sluice") {
            if let text = reader.string(versionNode, "`sluice`"), text != "1" {
                sink.error("unsupported runbook format version `\(text)`; this sluice reads version 1 (`sluice: 1`)", at: reader.location(versionNode))
            }
        }
        if let idNode = reader.required(top, "id"), let id = reader.string(idNode, "`id`") {
            if Self.isValidID(id) {
                runbook.id = id
            } else {
                sink.error("`id` must start with a lowercase letter or digit and use only a-z, 0-9, `.`, `_` and `-`, not `\(id)`", at: reader.location(idNode))
            }
        }
        runbook.title = reader.string(top["title"], "`title`")
        runbook.kind = reader.choice(top["kind"], "`kind`", as: Runbook.Kind.self) ?? .change
        runbook.owner = reader.string(top["owner"], "`owner`")
        runbook.ticket = reader.string(top["ticket"], "`ticket`")
        if let node = top["approval"] { runbook.approval = approval(node) }
        if let node = top["window"], !reader.isNull(node) { runbook.window = window(node) }
        runbook.freezes = reader.sequence(top["freeze"], "`freeze`").compactMap(reader.freeze)
        runbook.vars = variables(top["vars"])
        (runbook.targets, runbook.inventory) = targets(top)
        runbook.rollout = rollout(top["rollout"], fallbackLocation: top.location)
        runbook.holds = reader.sequence(top["holds"], "`holds`").compactMap(hold)
        runbook.guards = reader.sequence(top["guards"], "`guards`").compactMap(guardCheck)
        runbook.preflight = reader.sequence(top["preflight"], "`preflight`").compactMap(preflightCheck)
        if let stepsNode = reader.required(top, "steps") {
            let nodes = reader.sequence(stepsNode, "`steps`")
            if nodes.isEmpty, case .sequence = stepsNode {
                sink.error("`steps` is empty; a runbook needs at least one step", at: reader.location(stepsNode))
            }
            runbook.steps = nodes.compactMap { step($0, section: "a step") }
        }
        runbook.recovery = reader.sequence(top["recovery"], "`recovery`").compactMap { step($0, section: "a recovery step") }
        runbook.notify = reader.sequence(top["notify"], "`notify`").compactMap(notification)
        return runbook
    }

    static func isValidID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, isLowerAlphanumeric(first) else { return false }
        return id.unicodeScalars.allSatisfy { isLowerAlphanumeric($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    private static func isLowerAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    // MARK: Approval, window

    private func approval(_ node: Node) -> Approval {
        guard let fields = reader.fields(node, "`approval`", known: ["required", "distinct_approver"]) else { return Approval() }
        return Approval(
            required: reader.boolean(fields["required"], "`approval.required`") ?? false,
            distinctApprover: reader.boolean(fields["distinct_approver"], "`approval.distinct_approver`") ?? true
        )
    }

    private func window(_ node: Node) -> Window? {
        let keys = ["start", "end", "days", "from", "to", "timezone", "cutoff"]
        guard let fields = reader.fields(node, "`window`", known: keys) else { return nil }
        let cutoff = reader.duration(fields["cutoff"], "`window.cutoff`") ?? .zero
        let oneOff = fields.present(["start", "end"]), recurring = fields.present(["days", "from", "to", "timezone"])
        if !oneOff.isEmpty, !recurring.isEmpty {
            sink.error("`window` mixes a one-off window (start, end) with a recurring one (days, from, to, timezone); keep one", at: fields.location)
            return nil
        }
        if recurring.isEmpty {
            guard let startNode = reader.required(fields, "start"), let endNode = reader.required(fields, "end"),
                let start = reader.timestamp(startNode, "`window.start`"), let end = reader.timestamp(endNode, "`window.end`")
            else { return nil }
            guard start < end else {
                sink.error("`window.end` must be after `window.start`", at: reader.location(endNode))
                return nil
            }
            return Window(schedule: .once(start: start, end: end), cutoff: cutoff, location: fields.location)
        }
        let daysNode = reader.required(fields, "days"), fromNode = reader.required(fields, "from")
        let toNode = reader.required(fields, "to"), zoneNode = reader.required(fields, "timezone")
        var days = Set<Weekday>()
        for day in reader.sequence(daysNode, "`window.days`") {
            if let value = reader.choice(day, "a day in `window.days`", as: Weekday.self) { days.insert(value) }
        }
        if let daysNode, case .sequence(let list) = daysNode, list.isEmpty {
            sink.error("`window.days` is empty; list the days the window opens, e.g. [sat, sun]", at: reader.location(daysNode))
        }
        let from = timeOfDay(fromNode, "`window.from`"), to = timeOfDay(toNode, "`window.to`")
        var zone: String?
        if let zoneNode, let name = reader.string(zoneNode, "`window.timezone`") {
            if TimeZone(identifier: name) != nil {
                zone = name
            } else {
                sink.error("unknown time zone `\(name)`; use an IANA name such as Europe/Amsterdam or UTC", at: reader.location(zoneNode))
            }
        }
        if let from, let to, from == to, let toNode {
            sink.error("`window.from` and `window.to` are the same time; the window would be empty", at: reader.location(toNode))
            return nil
        }
        guard !days.isEmpty, let from, let to, let zone else { return nil }
        return Window(schedule: .recurring(days: days, from: from, to: to, timeZone: zone), cutoff: cutoff, location: fields.location)
    }

    private func timeOfDay(_ node: Node?, _ subject: String) -> TimeOfDay? {
        guard let node, let text = reader.string(node, subject) else { return nil }
        guard let time = TimeOfDay(text) else {
            sink.error("\(subject) must be a time of day as HH:MM (24-hour, quoted), not `\(text)`", at: reader.location(node))
            return nil
        }
        return time
    }

    // MARK: Vars and targets

    private func variables(_ node: Node?) -> [Variable] {
        guard let node, !reader.isNull(node) else { return [] }
        guard case .mapping(let mapping) = node else {
            sink.error("`vars` must be a mapping of names to values, not \(reader.describe(node))", at: reader.location(node))
            return []
        }
        var result: [Variable] = []
        for (key, value) in mapping {
            guard let name = reader.string(key, "a variable name") else { continue }
            guard TemplateVariable.isKey(name) else {
                sink.error("variable name `\(name)` may use only letters, digits, `_` and `-`", at: reader.location(key))
                continue
            }
            let location = reader.location(key)
            if case .mapping = value {
                guard let fields = reader.fields(value, "variable `\(name)`", known: ["env", "file", "secret"]) else { continue }
                let secret = reader.boolean(fields["secret"], "`secret`") ?? false
                let sources = fields.present(["env", "file"])
                guard sources.count == 1 else {
                    let problem = sources.isEmpty ? "needs `env: NAME` or `file: PATH`" : "has both `env` and `file`; keep one"
                    sink.error("variable `\(name)` \(problem)", at: reader.location(value))
                    continue
                }
                if let environment = reader.nonEmptyString(fields["env"], "`env`") {
                    result.append(Variable(name: name, source: .environment(environment), secret: secret, location: location))
                } else if let path = reader.nonEmptyString(fields["file"], "`file`") {
                    result.append(Variable(name: name, source: .file(path), secret: secret, location: location))
                }
            } else if let text = reader.string(value, "variable `\(name)`") {
                result.append(Variable(name: name, source: .value(text), location: location))
            }
        }
        return result
    }

    private func targets(_ top: Fields) -> ([Target], String?) {
        switch (top["targets"], top["inventory"]) {
        case (.some, .some):
            sink.error("give either `targets` or `inventory`, not both", at: top.keyNode("inventory").map(reader.location) ?? top.location)
            return ([], nil)
        case (.some(let node), nil):
            return (targetList(reader.sequence(node, "`targets`"), reader: reader, listNode: node), nil)
        case (nil, .some(let node)):
            guard let path = reader.nonEmptyString(node, "`inventory`") else { return ([], nil) }
            return (inventory(path, at: reader.location(node)), path)
        case (nil, nil):
            sink.error("the runbook has no targets; add `targets:` (a list) or `inventory: FILE`", at: top.location)
            return ([], nil)
        }
    }

    private func inventory(_ path: String, at location: SourceLocation) -> [Target] {
        let resolved = PathResolver.resolve(path, in: directory)
        guard let data = FileManager.default.contents(atPath: resolved) else {
            sink.error("inventory `\(path)` does not exist or cannot be read (looked for \(resolved))", at: location)
            return []
        }
        guard let text = String(data: data, encoding: .utf8) else {
            sink.error("inventory `\(path)` is not UTF-8 text", at: location)
            return []
        }
        let inventoryFile = PathResolver.displayPath(path, relativeTo: reader.file)
        let inventoryReader = YAMLReader(file: inventoryFile, text: text, sink: sink)
        guard let root = RunbookLoader.compose(text, file: inventoryFile, sink: sink, what: "inventory", emptyHint: "list the targets") else { return [] }
        guard case .sequence = root else {
            sink.error("an inventory must be a list of targets, not \(inventoryReader.describe(root))", at: inventoryReader.location(root))
            return []
        }
        return targetList(inventoryReader.sequence(root, "the inventory"), reader: inventoryReader, listNode: root)
    }

    private func targetList(_ nodes: [Node], reader: YAMLReader, listNode: Node) -> [Target] {
        if nodes.isEmpty {
            sink.error("the target list is empty; a runbook needs at least one target", at: reader.location(listNode))
        }
        return nodes.compactMap { node in
            guard let fields = reader.fields(node, "a target", known: ["name", "labels", "vars"]),
                let nameNode = reader.required(fields, "name"), let name = reader.nonEmptyString(nameNode, "a target's `name`")
            else { return nil }
            if !Self.isValidTargetName(name) {
                sink.error("target name `\(name)` may use only letters, digits, `.`, `_`, `-` and `:`", at: reader.location(nameNode))
            }
            return Target(
                name: name,
                labels: reader.stringMap(fields["labels"], "`labels`"),
                vars: reader.stringMap(fields["vars"], "`vars`"),
                location: reader.location(nameNode)
            )
        }
    }

    static func isValidTargetName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic || ("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || ".-_:".unicodeScalars.contains($0)
        }
    }

    // MARK: Rollout

    private func rollout(_ node: Node?, fallbackLocation: SourceLocation) -> Rollout {
        let defaultStage = Stage(name: "all", location: fallbackLocation)
        guard let node, !reader.isNull(node) else { return Rollout(stages: [defaultStage]) }
        guard let fields = reader.fields(node, "`rollout`", known: ["stages", "on_failure", "rollback_scope"]) else {
            return Rollout(stages: [defaultStage])
        }
        let stages = reader.sequence(fields["stages"], "`rollout.stages`").compactMap(stage)
        if let stagesNode = fields["stages"], case .sequence(let list) = stagesNode, list.isEmpty {
            sink.error("`rollout.stages` is empty; list at least one stage, or leave `stages` out for one stage of all targets", at: reader.location(stagesNode))
        }
        return Rollout(
            // With no usable stage, one stage of every target, so later checks still have a shape.
            stages: stages.isEmpty ? [Stage(name: "all", location: fields.location)] : stages,
            onFailure: reader.choice(fields["on_failure"], "`on_failure`", as: Rollout.OnFailure.self) ?? .rollback,
            rollbackScope: reader.choice(fields["rollback_scope"], "`rollback_scope`", as: Rollout.RollbackScope.self) ?? .run
        )
    }

    private func stage(_ node: Node) -> Stage? {
        let keys = ["name", "select", "count", "percent", "bake", "parallel", "max_failures", "max_failure_percent"]
        guard let fields = reader.fields(node, "a stage", known: keys) else { return nil }
        guard let nameNode = reader.required(fields, "name"), let name = reader.nonEmptyString(nameNode, "a stage's `name`") else { return nil }
        var size = Stage.Size.all
        switch fields.present(["count", "percent"]) {
        case ["count"]: size = reader.integer(fields["count"], "`count`", in: 1...Int.max).map(Stage.Size.count) ?? .all
        case ["percent"]: size = reader.integer(fields["percent"], "`percent`", in: 1...100).map(Stage.Size.percent) ?? .all
        case []: break
        default:
            sink.error("stage `\(name)` has both `count` and `percent`; keep one", at: reader.location(fields.keyNode("percent") ?? node))
        }
        var limit = Stage.FailureLimit.count(0)
        switch fields.present(["max_failures", "max_failure_percent"]) {
        case ["max_failures"]:
            limit = reader.integer(fields["max_failures"], "`max_failures`", in: 0...Int.max).map(Stage.FailureLimit.count) ?? limit
        case ["max_failure_percent"]:
            limit = reader.integer(fields["max_failure_percent"], "`max_failure_percent`", in: 0...100).map(Stage.FailureLimit.percent) ?? limit
        case []: break
        default:
            sink.error("stage `\(name)` has both `max_failures` and `max_failure_percent`; keep one", at: reader.location(fields.keyNode("max_failure_percent") ?? node))
        }
        return Stage(
            name: name,
            select: reader.stringMap(fields["select"], "`select`"),
            size: size,
            parallel: reader.integer(fields["parallel"], "`parallel`", in: 1...10_000) ?? 1,
            maxFailures: limit,
            bake: reader.duration(fields["bake"], "`bake`"),
            location: reader.location(nameNode)
        )
    }

    // MARK: Holds, guards, preflight

    private func hold(_ node: Node) -> Hold? {
        guard let fields = reader.fields(node, "a hold", known: ["name", "pause", "resume"]),
            let name = reader.required(fields, "name").flatMap({ reader.nonEmptyString($0, "a hold's `name`") })
        else { return nil }
        let pause = reader.required(fields, "pause").flatMap { reader.command($0, "`pause`") }
        let resume = reader.required(fields, "resume").flatMap { reader.command($0, "`resume`") }
        guard let pause, let resume else { return nil }
        return Hold(name: name, pause: pause, resume: resume, location: fields.location)
    }

    private func guardCheck(_ node: Node) -> Guard? {
        guard let fields = reader.fields(node, "a guard", known: ["name", "run", "every"]),
            let name = reader.required(fields, "name").flatMap({ reader.nonEmptyString($0, "a guard's `name`") }),
            let run = reader.required(fields, "run").flatMap({ reader.command($0, "`run`") })
        else { return nil }
        let every = reader.duration(fields["every"], "`every`")
        if let every, every < .seconds(1), let everyNode = fields["every"] {
            sink.error("guard `\(name)` runs every \(RunbookDuration.format(every)); use 1s or more", at: reader.location(everyNode))
        }
        return Guard(name: name, run: run, every: every, location: fields.location)
    }

    private func preflightCheck(_ node: Node) -> PreflightCheck? {
        guard let fields = reader.fields(node, "a preflight check", known: ["name", "run"]),
            let name = reader.required(fields, "name").flatMap({ reader.nonEmptyString($0, "a preflight check's `name`") }),
            let run = reader.required(fields, "run").flatMap({ reader.command($0, "`run`") })
        else { return nil }
        return PreflightCheck(name: name, run: run, location: fields.location)
    }

    // MARK: Notify

    private func notification(_ node: Node) -> Notification? {
        guard let fields = reader.fields(node, "a notification", known: ["webhook", "events"]),
            let urlNode = reader.required(fields, "webhook"), let url = reader.nonEmptyString(urlNode, "`webhook`")
        else { return nil }
        if URL(string: url)?.scheme.map({ ["http", "https"].contains($0) }) != true || URL(string: url)?.host == nil {
            sink.error("`webhook` must be an http:// or https:// URL, not `\(url)`", at: reader.location(urlNode))
        }
        var events: [String] = []
        let eventsNode = reader.required(fields, "events")
        for eventNode in reader.sequence(eventsNode, "`events`") {
            guard let name = reader.string(eventNode, "an event") else { continue }
            if let kind = EventKind(rawValue: name), let why = kind.notNotifiedBecause {
                sink.error("`\(name)` cannot be sent to a webhook: \(why); list run events such as run.started, stage.finished or run.finished", at: reader.location(eventNode))
            } else if EventKind(rawValue: name) != nil {
                events.append(name)
            } else {
                sink.error("unknown event `\(name)`\(Suggestion.hint(for: name, among: EventKind.sentToWebhooks.map(\.rawValue)))", at: reader.location(eventNode))
            }
        }
        return Notification(webhook: url, events: events, location: fields.location)
    }
}
