import SluiceCore
import SluiceExecution

/// A request a fake answers from a script: a command for ``RecordingTransport``, a probe for
/// ``ScriptedHealthProber``.
public protocol ScriptedRequest: Sendable {
    /// What a matcher's text is looked for in: the rendered command (the shell string, or the argv
    /// words shell-quoted), or the probe (`GET URL`, `connect to HOST:PORT`, its command).
    var scriptedText: String { get }
    /// The variables the request carries (`SLUICE_TARGET`, `SLUICE_MODE`, the step's `env:`).
    var scriptedEnvironment: [String: String] { get }
}

extension CommandRequest: ScriptedRequest {
    public var scriptedText: String { command.description }
    public var scriptedEnvironment: [String: String] { environment }
}

extension ProbeRequest: ScriptedRequest {
    public var scriptedText: String { probe.description }
    public var scriptedEnvironment: [String: String] { environment }
}

/// Which requests a rule of a fake's script answers. A string literal matches every request whose
/// text contains it.
public struct RequestMatcher<Request: ScriptedRequest>: Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    let test: @Sendable (Request) -> Bool
    public let description: String

    /// A matcher named `description` (for failure messages) that answers with `test`.
    public init(_ description: String, _ test: @escaping @Sendable (Request) -> Bool) {
        self.description = description
        self.test = test
    }

    /// Requests whose text contains `value`.
    public init(stringLiteral value: String) { self = .containing(value) }

    public func matches(_ request: Request) -> Bool { test(request) }

    /// Every request.
    public static var any: RequestMatcher { RequestMatcher("any request") { _ in true } }

    /// Requests whose text contains `text`.
    public static func containing(_ text: String) -> RequestMatcher {
        RequestMatcher("containing `\(text)`") { $0.scriptedText.contains(text) }
    }

    /// Requests whose text is exactly `text`.
    public static func exactly(_ text: String) -> RequestMatcher {
        RequestMatcher("exactly `\(text)`") { $0.scriptedText == text }
    }

    /// Requests whose environment has `key` set to `value`, e.g. `SLUICE_TARGET` to `web2`.
    public static func environment(_ key: String, _ value: String) -> RequestMatcher {
        RequestMatcher("with \(key)=\(value)") { $0.scriptedEnvironment[key] == value }
    }

    /// Requests both match.
    public static func && (left: RequestMatcher, right: RequestMatcher) -> RequestMatcher {
        RequestMatcher("\(left.description) and \(right.description)") { left.test($0) && right.test($0) }
    }
}

/// The rules of a fake's script, the latest first: the rule added last that matches answers, so
/// that a test can set a world's usual answers and then override some. A rule answers with its
/// answers in turn; after the last, with its `then` when it has one, else with its last answer
/// again.
struct Script<Request: ScriptedRequest, Answer: Sendable>: Sendable {
    struct Rule: Sendable {
        var matcher: RequestMatcher<Request>
        var answers: [Answer]
        var then: Answer?
        var used = 0
        /// For a rule that computes its answer from the request.
        var compute: (@Sendable (Request) -> Answer)?
    }

    var rules: [Rule] = []
    var fallback: Answer

    init(fallback: Answer) { self.fallback = fallback }

    mutating func add(_ matcher: RequestMatcher<Request>, _ answers: [Answer], then: Answer?) {
        precondition(!answers.isEmpty || then != nil, "a script rule needs an answer (\(matcher))")
        rules.append(Rule(matcher: matcher, answers: answers, then: then))
    }

    mutating func add(_ matcher: RequestMatcher<Request>, compute: @escaping @Sendable (Request) -> Answer) {
        rules.append(Rule(matcher: matcher, answers: [], then: nil, compute: compute))
    }

    /// The answer to `request`, using up one answer of the rule that gives it. A computed answer
    /// is computed outside the fake's lock, by the caller: it is returned as `compute`.
    mutating func answer(_ request: Request) -> (answer: Answer?, compute: (@Sendable (Request) -> Answer)?) {
        guard let index = rules.lastIndex(where: { $0.matcher.matches(request) }) else { return (fallback, nil) }
        if let compute = rules[index].compute { return (nil, compute) }
        let rule = rules[index]
        rules[index].used += 1
        if rule.used < rule.answers.count { return (rule.answers[rule.used], nil) }
        return (rule.then ?? rule.answers.last, nil)
    }
}
