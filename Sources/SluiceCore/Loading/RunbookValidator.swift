import Foundation

/// Checks that need the whole runbook: names, templates against targets and contexts, stages,
/// scripts, and combinations the format allows but that make no sense.
///
/// Variables' values are not read here (validation checks the runbook, not the machine it runs
/// on), and their names are unique already: YAML refuses a key twice in one mapping.
///
/// Which checks are errors and which are warnings is listed in docs/runbook-format.md.
struct RunbookValidator {
    let runbook: Runbook
    let sink: DiagnosticSink

    func validate() {
        checkDuplicateNames()
        checkStages()
        checkSteps()
        checkTemplates()
        checkScripts()
    }

    // MARK: Names

    private func checkDuplicateNames() {
        let named: [(names: [(String, SourceLocation)], what: String)] = [
            (runbook.targets.map { ($0.name, $0.location) }, "target"),
            (runbook.steps.map { ($0.name, $0.location) }, "step"),
            (runbook.recovery.map { ($0.name, $0.location) }, "recovery step"),
            (runbook.rollout.stages.map { ($0.name, $0.location) }, "stage"),
            (runbook.holds.map { ($0.name, $0.location) }, "hold"),
            (runbook.guards.map { ($0.name, $0.location) }, "guard"),
            (runbook.preflight.map { ($0.name, $0.location) }, "preflight check"),
        ]
        for (names, what) in named {
            reportDuplicates(names, what: what)
            // A target's name is held to letters, digits and `.-_:` as it is read.
            if what != "target" { reportControlCharacters(names, what: what) }
        }
    }

    /// A name is shown on a line of its own in plans, progress and reports, and matched by
    /// `resume` and `rollback`: a control character (a line break, a tab, ESC) or a bidi
    /// override in it could fake a line or hide another, so it is refused.
    private func reportControlCharacters(_ names: [(String, SourceLocation)], what: String) {
        for (name, location) in names where name.unicodeScalars.contains(where: Self.isControl) {
            let shown = name.unicodeScalars.map { scalar in
                switch scalar { case "\n": "\\n"; case "\t": "\\t"; default: String(scalar) }
            }.joined().escapedForTerminal
            sink.error("\(what) name `\(shown)` holds a control character; names are shown to people and matched by resume and rollback, so use visible characters only", at: location)
        }
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00..<0x20, 0x7F, 0x80..<0xA0, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    private func reportDuplicates(_ names: [(String, SourceLocation)], what: String) {
        var first: [String: SourceLocation] = [:]
        for (name, location) in names {
            if let earlier = first[name] {
                let place = earlier.file == location.file ? "line \(earlier.line)" : "\(earlier)"
                sink.error("duplicate \(what) name `\(name)`; the first is at \(place); names must be unique", at: location)
            } else {
                first[name] = location
            }
        }
    }

    // MARK: Variables

    // MARK: Stages

    private func checkStages() {
        guard !runbook.targets.isEmpty else { return }
        let assignment = runbook.stageAssignment
        let stages = runbook.rollout.stages
        for index in assignment.selectsNothing {
            let selector = stages[index].select.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            sink.error("stage `\(stages[index].name)` selects { \(selector) }, which no target carries; check the labels", at: stages[index].location)
        }
        for (index, members) in assignment.stages.enumerated() where members.isEmpty && !assignment.selectsNothing.contains(index) {
            sink.warning("stage `\(stages[index].name)` gets no target: earlier stages took every target it selects", at: stages[index].location)
        }
        if !assignment.unassigned.isEmpty, let last = stages.last {
            let names = Self.list(assignment.unassigned.map { runbook.targets[$0].name })
            let count = assignment.unassigned.count
            sink.error("\(count) target\(count == 1 ? " is" : "s are") in no stage (\(names)); give the last stage no select, count or percent, or add a stage for \(count == 1 ? "it" : "them")", at: last.location)
        }
    }

    // MARK: Steps

    private func checkSteps() {
        let carried = Set(runbook.targets.flatMap(\.labels.keys))
        for step in runbook.steps {
            checkActionOptions(step, inRecovery: false)
            checkWhen(step, carriedLabels: carried)
        }
        for step in runbook.recovery {
            checkActionOptions(step, inRecovery: true)
            checkWhen(step, carriedLabels: carried)
        }
    }

    private func checkActionOptions(_ step: Step, inRecovery: Bool) {
        if inRecovery {
            if let rollback = step.rollback {
                sink.error("recovery step `\(step.name)` has a `rollback`; recovery is not undone, so remove it", at: rollback.location)
            }
            if let check = step.check {
                sink.error("recovery step `\(step.name)` has a `check`; plan lists recovery without running it, so remove it", at: check.location)
            }
            return
        }
        let reason: String? = switch step.action {
        case .health: "a `health` step changes nothing"
        case .wait: "a `wait` step changes nothing"
        case .file: "a `file` step is rolled back automatically (its old content and mode are restored)"
        case .run, .cacheRefresh: nil
        }
        guard let reason else { return }
        if let rollback = step.rollback {
            sink.error("step `\(step.name)` has a `rollback`, but \(reason); put the rollback on the step that makes the change", at: rollback.location)
        }
        if let check = step.check {
            let planDoes = switch step.action {
            case .health: "plan probes health steps as things stand"
            case .file: "plan shows the file's diff and runs its `validate`"
            default: "there is nothing to check"
            }
            sink.error("step `\(step.name)` has a `check`, but \(planDoes); remove the `check`", at: check.location)
        }
    }

    private func checkWhen(_ step: Step, carriedLabels: Set<String>) {
        guard !step.when.isEmpty else { return }
        for key in step.when.keys.sorted() where !carriedLabels.contains(key) {
            sink.warning("step `\(step.name)` runs only when label `\(key)` matches, but no target carries `\(key)`, so it never runs\(Suggestion.hint(for: key, among: carriedLabels))", at: step.location)
        }
        if step.when.keys.allSatisfy(carriedLabels.contains), !runbook.targets.contains(where: { $0.matches(step.when) }) {
            sink.warning("step `\(step.name)` runs on no target: none carries all its `when` labels", at: step.location)
        }
    }

    // MARK: Templates

    /// Where a template is used decides which variables have values there.
    enum Scope {
        /// Holds: once per run.
        case run(String)
        /// Guards: before every stage and during it.
        case stage(String)
        /// Steps, preflight and recovery: once per target.
        case target(Step?)
        /// A file step's `validate`: per target, with `{{ file }}`.
        case validate(Step)
    }

    private func checkTemplates() {
        for hold in runbook.holds {
            check([hold.pause, hold.resume].flatMap(\.templates), scope: .run("a hold"))
            checkQuoting(hold.pause)
            checkQuoting(hold.resume)
        }
        for guardCheck in runbook.guards {
            check(guardCheck.run.templates, scope: .stage("a guard"))
            checkQuoting(guardCheck.run)
        }
        for preflight in runbook.preflight {
            check(preflight.run.templates, scope: .target(nil))
            checkQuoting(preflight.run)
        }
        for step in runbook.steps + runbook.recovery {
            check(Self.templates(of: step), scope: .target(step))
            if case .file(let change) = step.action, let validate = change.validate {
                check(validate.templates, scope: .validate(step))
            }
            for command in step.commands { checkQuoting(command) }
        }
    }

    /// Every template a step renders per target, except a file step's `validate`.
    static func templates(of step: Step) -> [Template] {
        var templates = step.env.map(\.value)
        templates += [step.check, step.rollback].compactMap { $0 }.flatMap(\.templates)
        switch step.action {
        case .run(let command), .cacheRefresh(let command):
            templates += command.templates
        case .health(let health):
            switch health.probe {
            case .http(let template), .tcp(let template): templates.append(template)
            case .command(let command): templates += command.templates
            }
        case .file(let change):
            templates += [change.path, change.content.template] + (change.reload?.templates ?? [])
        case .wait:
            break
        }
        return templates
    }

    private func check(_ templates: [Template], scope: Scope) {
        let declared = Set(runbook.vars.map(\.name))
        for template in templates {
            for (variable, location) in template.variables {
                switch variable {
                case .runbookVar(let key) where !declared.contains(key):
                    let known = declared.isEmpty ? "; declare it under `vars:`" : Suggestion.hint(for: key, among: declared)
                    sink.error("unknown template variable `vars.\(key)`: no such entry under `vars:`\(known)", at: location)
                case .targetName, .targetLabel, .targetVar:
                    switch scope {
                    case .run(let what), .stage(let what):
                        sink.error("`\(variable)` has no value in \(what), which runs once per \(Self.unit(of: scope)), not per target", at: location)
                    case .target(let step):
                        checkTargetsDefine(variable, at: location, step: step)
                    case .validate(let step):
                        checkTargetsDefine(variable, at: location, step: step)
                    }
                case .stageName:
                    if case .run(let what) = scope {
                        sink.error("`stage.name` has no value in \(what), which runs before the first stage and after the last", at: location)
                    }
                case .file:
                    if case .validate = scope { break }
                    sink.error("`file` has a value only in a file step's `validate`, where it names the new content's temporary file", at: location)
                default:
                    break
                }
            }
        }
    }

    private static func unit(of scope: Scope) -> String {
        if case .run = scope { return "run" }
        return "stage"
    }

    /// Reports a target variable or label that some target the step runs on lacks.
    private func checkTargetsDefine(_ variable: TemplateVariable, at location: SourceLocation, step: Step?) {
        let when = step?.when ?? [:]
        let missing: [String]
        switch variable {
        case .targetVar(let key):
            missing = runbook.targets.lazy.filter { $0.matches(when) && $0.vars[key] == nil }.map(\.name)
        case .targetLabel(let key):
            missing = runbook.targets.lazy.filter { $0.matches(when) && $0.labels[key] == nil }.map(\.name)
        default:
            return
        }
        guard !missing.isEmpty else { return }
        let kind = if case .targetVar = variable { "vars" } else { "labels" }
        let who = missing.count == 1 ? "target `\(missing[0])`" : "\(missing.count) targets (\(Self.list(missing)))"
        sink.error("`\(variable)` is not defined for \(who); add it to each target's `\(kind)`, or limit the step with `when:`", at: location)
    }

    /// Warns about placeholders the author quoted by hand: sluice quotes values itself.
    private func checkQuoting(_ command: Command) {
        guard case .shell(let template) = command.form else { return }
        var previous: Character?
        for segment in template.segments {
            switch segment {
            case .literal(let text):
                previous = text.last
            case .variable(let variable, let location):
                if previous == "\"" || previous == "'" {
                    sink.warning("`{{ \(variable) }}` is inside quotes; sluice quotes inserted values itself, so these quotes become part of the value; remove them", at: location)
                }
                previous = nil
            }
        }
    }

    // MARK: Scripts

    private func checkScripts() {
        var checked = Set<String>()
        for command in runbook.allCommands {
            guard let script = command.script else { continue }
            let path = PathResolver.resolve(script, in: runbook.directory)
            guard checked.insert(path + "@" + command.location.description).inserted else { continue }
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                sink.error("script `\(script)` does not exist (looked for \(path)); create it or fix the path", at: command.location)
            } else if isDirectory.boolValue {
                sink.error("script `\(script)` is a folder, not a program", at: command.location)
            } else if !FileManager.default.isExecutableFile(atPath: path) {
                sink.error("script `\(script)` is not executable; run `chmod +x \(script)`", at: command.location)
            }
        }
    }

    // MARK: Helpers

    /// Up to three names, then how many more.
    static func list(_ names: [String]) -> String {
        let shown = names.prefix(3).joined(separator: ", ")
        return names.count > 3 ? "\(shown) and \(names.count - 3) more" : shown
    }
}
