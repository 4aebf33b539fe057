import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore
import Synchronization

/// What a webhook receives for one event of a run: a JSON object POSTed to its URL.
///
/// Every key is always present (`null` when it does not apply), so that a receiver can rely on
/// the shape. `text` is a sentence for people, which chat webhooks display as it is.
public struct WebhookMessage: Sendable, Equatable, Codable {
    /// The run's id, `r-YYYYMMDD-HHMMSS-xxxx`.
    public var runID: String
    /// The runbook's `id`.
    public var runbook: String
    /// Who runs it.
    public var actor: String
    /// The audit event kind, for example `stage.finished`.
    public var event: String
    public var stage: String?
    public var target: String?
    public var step: String?
    /// The event's status: a step's `succeeded`/`failed`, the run's outcome on `run.finished`.
    public var outcome: String?
    /// When the event was recorded, RFC 3339 in UTC with milliseconds.
    public var time: String
    /// The event's sequence number in the audit store, for ordering and for finding it there.
    public var seq: Int64?
    /// The event's hash in the audit store's chain. With ``seq`` it is an anchor (`SEQ:HASH`)
    /// that `sluice audit verify --anchor` checks the store still holds: kept by the receiver, it
    /// shows a store later cut short, emptied or replaced.
    public var hash: String?

    public init(
        runID: String, runbook: String, actor: String, event: String, stage: String? = nil, target: String? = nil,
        step: String? = nil, outcome: String? = nil, time: String, seq: Int64? = nil, hash: String? = nil
    ) {
        self.runID = runID
        self.runbook = runbook
        self.actor = actor
        self.event = event
        self.stage = stage
        self.target = target
        self.step = step
        self.outcome = outcome
        self.time = time
        self.seq = seq
        self.hash = hash
    }

    /// One line for people: `sluice r-...: alma-config stage canary: stage.finished succeeded`.
    /// On `run.finished` it ends with `; audit chain head SEQ:HASH`, so that a chat channel keeps
    /// each run's anchor where people see it.
    public var text: String {
        let place = [stage.map { "stage \($0)" }, target, step].compactMap { $0 }.joined(separator: " / ")
        var anchor = ""
        if event == "run.finished", let seq, let hash { anchor = "; audit chain head \(seq):\(hash)" }
        return "sluice \(runID): \(runbook)\(place.isEmpty ? "" : " " + place): \(event)\(outcome.map { " \($0)" } ?? "") (by \(actor))\(anchor)"
    }

    /// The message with every string passed through `redactor`.
    public func redacted(by redactor: Redactor) -> WebhookMessage {
        WebhookMessage(
            runID: redactor.redact(runID), runbook: redactor.redact(runbook), actor: redactor.redact(actor),
            event: redactor.redact(event), stage: stage.map(redactor.redact), target: target.map(redactor.redact),
            step: step.map(redactor.redact), outcome: outcome.map(redactor.redact), time: time, seq: seq, hash: hash)
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", runbook, actor, event, stage, target, step, outcome, time, seq, hash, text
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            runID: try container.decode(String.self, forKey: .runID), runbook: try container.decode(String.self, forKey: .runbook),
            actor: try container.decode(String.self, forKey: .actor), event: try container.decode(String.self, forKey: .event),
            stage: try container.decodeIfPresent(String.self, forKey: .stage),
            target: try container.decodeIfPresent(String.self, forKey: .target),
            step: try container.decodeIfPresent(String.self, forKey: .step),
            outcome: try container.decodeIfPresent(String.self, forKey: .outcome),
            time: try container.decode(String.self, forKey: .time), seq: try container.decodeIfPresent(Int64.self, forKey: .seq),
            hash: try container.decodeIfPresent(String.self, forKey: .hash))
    }

    public func encode(to encoder: any Encoder) throws {
        // Optionals are written as null, not left out: the shape is the same for every event.
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(runID, forKey: .runID)
        try container.encode(runbook, forKey: .runbook)
        try container.encode(actor, forKey: .actor)
        try container.encode(event, forKey: .event)
        try container.encode(stage, forKey: .stage)
        try container.encode(target, forKey: .target)
        try container.encode(step, forKey: .step)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(time, forKey: .time)
        try container.encode(seq, forKey: .seq)
        try container.encode(hash, forKey: .hash)
        try container.encode(text, forKey: .text)
    }
}

/// A notification that was not delivered, after its retry or because the run ended first.
public struct WebhookFailure: Sendable, Equatable, CustomStringConvertible {
    /// The webhook's scheme, host and port only: its path and query often hold a token.
    public var webhook: String
    /// Where the runbook lists the webhook.
    public var location: SourceLocation
    public var event: String
    public var seq: Int64?
    /// What went wrong: `connection refused`, `HTTP 500`, `no answer within 5s`, ...
    public var reason: String
    /// How many attempts were made (0 when the run ended before it was sent).
    public var attempts: Int

    public var description: String {
        "notifying \(webhook) (\(location)) of \(event)\(seq.map { " #\($0)" } ?? "") failed: \(reason)"
            + (attempts > 1 ? " (tried \(attempts) times)" : "") + "; the run goes on"
    }
}

/// Sends a run's events to the runbook's webhooks: one JSON POST per listed event, each with a
/// timeout and one retry, in the background.
///
/// ``send(_:)`` returns at once: deliveries run on the HTTP client's event loops, chained per
/// webhook so that each receives its events in the order they were sent, and never on the
/// run's path. ``drain()`` waits for what is outstanding, at most ``drainBound``, then gives up
/// on the rest, so a dead webhook can slow the end of a run by that much and no more. A failure
/// never throws: it is logged at once and returned by the next ``drain()`` for the audit store.
/// Every message passes through the run's ``Redactor`` before it is encoded.
public final class WebhookNotifier: Sendable {
    /// One `notify` entry.
    struct Subscription: Sendable {
        var events: Set<String>
        var location: SourceLocation
        /// Scheme, host and port, for logs and the audit store.
        var origin: String
        /// The POST every delivery starts from, made once; nil when the URL cannot be requested
        /// (the runbook's validation makes that rare), with `problem` saying why.
        var request: HTTPClient.Request?
        var problem: String?
    }

    /// A message waiting for, or in, delivery to one webhook.
    struct Pending: Sendable {
        var subscription: Int
        var message: WebhookMessage
        var body: Data
        var attempts = 0
    }

    struct State: Sendable {
        /// Per subscription, the end of its chain of deliveries.
        var tails: [EventLoopFuture<Void>?]
        var pending: [Int: Pending] = [:]
        var inFlight: [Int: HTTPClient.Task<HTTPClient.Response>] = [:]
        var failures: [WebhookFailure] = []
        var nextTicket = 0
    }

    /// Each attempt's limit, from connecting to the end of the answer.
    public static let defaultTimeout: Duration = .seconds(5)
    /// The pause before the one retry.
    public static let defaultRetryDelay: Duration = .seconds(1)

    /// The process's client for webhooks. Like `HTTPClient.shared` it lives as long as the
    /// process and is never shut down; unlike it, a refused connection fails the attempt at once
    /// instead of being retried with backoff until the deadline (the notifier retries once
    /// itself, and a webhook that is down should not cost the whole bound), and a redirect is
    /// an answer outside 2xx rather than a second request.
    public static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    private let subscriptions: [Subscription]
    private let client: HTTPClient
    private let timeout: Duration
    private let retryDelay: Duration
    private let redactor: Redactor
    private let log: @Sendable (String) -> Void
    private let onFailure: (@Sendable (WebhookFailure) -> Void)?
    private let state: Mutex<State>

    /// - Parameters:
    ///   - notify: the runbook's `notify` entries.
    ///   - redactor: the run's redactor; every message passes through it.
    ///   - client: the HTTP client (``sharedClient`` by default; it is never shut down here).
    ///   - log: told about each failure as it happens (standard error).
    ///   - onFailure: given each failure as it happens (for the audit store), as well as by ``drain()``.
    public init(
        notify: [SluiceCore.Notification], redactor: Redactor, client: HTTPClient = WebhookNotifier.sharedClient, timeout: Duration = WebhookNotifier.defaultTimeout,
        retryDelay: Duration = WebhookNotifier.defaultRetryDelay, log: @escaping @Sendable (String) -> Void,
        onFailure: (@Sendable (WebhookFailure) -> Void)? = nil
    ) {
        subscriptions = notify.map { entry in
            var subscription = Subscription(events: Set(entry.events), location: entry.location, origin: Self.origin(of: entry.webhook))
            do {
                var request = try HTTPClient.Request(url: entry.webhook, method: .POST)
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "User-Agent", value: "sluice-notify/\(SluiceVersion.current)")
                subscription.request = request
            } catch {
                subscription.problem = "not a usable URL: \(error)"
            }
            return subscription
        }
        self.client = client
        self.timeout = timeout
        self.retryDelay = retryDelay
        self.redactor = redactor
        self.log = log
        self.onFailure = onFailure
        state = Mutex(State(tails: Array(repeating: nil, count: notify.count)))
    }

    /// The longest ``drain()`` waits: an attempt, the pause, and the retry.
    public var drainBound: Duration { timeout * 2 + retryDelay }

    /// Queues `message` for every webhook that lists its event, and returns at once.
    public func send(_ message: WebhookMessage) {
        let targets = subscriptions.indices.filter { subscriptions[$0].events.contains(message.event) }
        guard !targets.isEmpty else { return }
        let clean = message.redacted(by: redactor)
        guard let body = try? Self.encoder.encode(clean) else { return }  // plain strings and numbers always encode
        for index in targets {
            let loop = client.eventLoopGroup.any()
            let done = loop.makePromise(of: Void.self)
            // Swap in this delivery as the chain's new end under the lock, but chain outside it:
            // a future that has already completed runs its callback at once, and that callback
            // takes the lock.
            let (ticket, previous) = state.withLock { state in
                let ticket = state.nextTicket
                state.nextTicket += 1
                state.pending[ticket] = Pending(subscription: index, message: clean, body: body)
                let previous = state.tails[index]
                state.tails[index] = done.futureResult
                return (ticket, previous)
            }
            guard let previous else {
                deliver(ticket, on: loop).cascade(to: done)
                continue
            }
            previous.whenComplete { _ in self.deliver(ticket, on: loop).cascade(to: done) }
        }
    }

    /// Waits for every queued delivery, at most ``drainBound``, and returns the failures since
    /// the last drain. Deliveries still outstanding at the bound are cancelled and returned as
    /// failures; the notifier can be used again afterwards.
    public func drain() async -> [WebhookFailure] {
        let tails = state.withLock { $0.tails.compactMap { $0 } }
        if !tails.isEmpty {
            let loop = client.eventLoopGroup.any()
            let finished = loop.makePromise(of: Bool.self)
            EventLoopFuture.andAllComplete(tails, on: loop).whenComplete { _ in finished.succeed(true) }
            // Completing a promise twice is a no-op in NIO: whichever comes first wins.
            let timer = loop.scheduleTask(in: TimeAmount(drainBound)) { finished.succeed(false) }
            let inTime = (try? await finished.futureResult.get()) ?? false
            timer.cancel()
            if !inTime { abandonOutstanding() }
        }
        return state.withLock { state in
            defer { state.failures = [] }
            return state.failures
        }
    }

    // MARK: Delivery

    /// Sends one queued message, retrying once; the future always succeeds.
    private func deliver(_ ticket: Int, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let pending = state.withLock({ state -> Pending? in
            state.pending[ticket]?.attempts += 1
            return state.pending[ticket]
        }) else { return loop.makeSucceededVoidFuture() }  // abandoned by a drain that ran out of time
        let subscription = subscriptions[pending.subscription]
        guard var headed = subscription.request else {
            fail(ticket, reason: subscription.problem ?? "not a usable URL")
            return loop.makeSucceededVoidFuture()
        }
        headed.body = .bytes(pending.body)
        headed.headers.add(name: "X-Sluice-Event", value: pending.message.event)
        let task = client.execute(
            request: headed, delegate: ResponseAccumulator(request: headed, maxBodySize: 1 << 20),
            eventLoop: .delegate(on: loop), deadline: .now() + TimeAmount(timeout))
        state.withLock { $0.inFlight[ticket] = task }
        return task.futureResult
            .map { response -> String? in
                (200..<300).contains(Int(response.status.code)) ? nil : "HTTP \(response.status.code)"
            }
            .recover { error in self.describe(error) }
            .flatMap { problem -> EventLoopFuture<Void> in
                let attempts = self.state.withLock { state -> Int? in
                    state.inFlight[ticket] = nil
                    if problem == nil { state.pending[ticket] = nil }
                    return state.pending[ticket]?.attempts
                }
                guard let problem, let attempts else { return loop.makeSucceededVoidFuture() }
                guard attempts < 2 else {
                    self.fail(ticket, reason: problem)
                    return loop.makeSucceededVoidFuture()
                }
                return loop.scheduleTask(in: TimeAmount(self.retryDelay)) {}.futureResult
                    .flatMap { self.deliver(ticket, on: loop) }
            }
    }

    /// Records `ticket` as failed (once) and logs it.
    private func fail(_ ticket: Int, reason: String) {
        let recorded = state.withLock { state -> WebhookFailure? in
            guard let pending = state.pending.removeValue(forKey: ticket) else { return nil }
            let recorded = failure(pending, reason: reason)
            state.failures.append(recorded)
            return recorded
        }
        if let recorded {
            log(recorded.description)
            onFailure?(recorded)
        }
    }

    /// Gives up on every delivery still outstanding: the run is over and the bound has passed.
    private func abandonOutstanding() {
        let bound = RunbookDuration.format(drainBound)
        let (abandoned, tasks) = state.withLock { state in
            let abandoned = state.pending.sorted { $0.key < $1.key }.map { _, pending in
                failure(pending, reason: pending.attempts == 0
                    ? "not sent: the run ended and earlier notifications to this webhook were still outstanding after \(bound)"
                    : "no answer by the end of the run and \(bound) more")
            }
            let tasks = Array(state.inFlight.values)
            state.failures += abandoned
            state.pending = [:]
            state.inFlight = [:]
            state.tails = Array(repeating: nil, count: state.tails.count)
            return (abandoned, tasks)
        }
        for task in tasks { task.cancel() }
        for failure in abandoned {
            log(failure.description)
            onFailure?(failure)
        }
    }

    private func failure(_ pending: Pending, reason: String) -> WebhookFailure {
        let subscription = subscriptions[pending.subscription]
        return WebhookFailure(
            webhook: subscription.origin, location: subscription.location, event: pending.message.event,
            seq: pending.message.seq, reason: redactor.redact(reason), attempts: pending.attempts)
    }

    private func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return "no answer within \(RunbookDuration.format(timeout))"
        }
        return NetworkHealthProber.describe(error)
    }

    /// How messages are written: keys sorted, slashes as they are.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// `http://host:port`, without the path and query, which often hold a token.
    static func origin(of url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else {
            return "a webhook"
        }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }
}
