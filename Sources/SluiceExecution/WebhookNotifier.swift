import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore

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
    /// The event's stage, if it has one.
    public var stage: String?
    /// The event's target, if it has one.
    public var target: String?
    /// The event's step, hold or guard name, if it has one.
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

    /// A message for one event.
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
        if event == EventKind.runFinished.rawValue, let seq, let hash { anchor = "; audit chain head \(seq):\(hash)" }
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
    /// The audit event kind that was not delivered.
    public var event: String
    /// The event's sequence number in the audit store, when it has one.
    public var seq: Int64?
    /// What went wrong: `connection refused`, `HTTP 500`, `no answer within 5s`, ...
    public var reason: String
    /// How many attempts were made (0 when the run ended before it was sent).
    public var attempts: Int

    /// The failure in words, for the warning printed on standard error.
    public var description: String {
        "notifying \(webhook) (\(location)) of \(event)\(seq.map { " #\($0)" } ?? "") failed: \(reason)"
            + (attempts > 1 ? " (tried \(attempts) times)" : "") + "; the run goes on"
    }
}

/// Sends a run's events to the runbook's webhooks: one JSON POST per listed event, each attempt
/// with a timeout, and one retry.
///
/// ``send(_:)`` only queues, and returns at once: each webhook has an ordered queue of its own,
/// which ``delivering(clock:during:)`` drains from a child task per webhook, one message after
/// another. So each webhook receives its events in the order they were sent, and a slow or dead
/// webhook delays neither the run nor the other webhooks. When the body is done the queues are
/// finished, and the deliveries get at most ``drainBound`` more before they are cancelled: a dead
/// webhook can slow the end of a run by that much and no more. A failure never throws: it is
/// logged and given to `onFailure` as it happens (for the audit store), and a message still
/// queued or in flight at the bound is one too. Every message passes through the run's
/// ``Redactor`` before it is encoded.
public final class WebhookNotifier: Sendable {
    /// A message ready to POST, encoded once for every webhook that lists it.
    struct Queued: Sendable {
        /// As sent: redacted.
        var message: WebhookMessage
        var body: ByteBuffer
    }

    /// One `notify` entry and its queue.
    struct Webhook: Sendable {
        var events: Set<String>
        var location: SourceLocation
        /// Scheme, host and port, for logs and the audit store.
        var origin: String
        /// The POST every delivery starts from; nil when the URL cannot be requested (the
        /// runbook's validation makes that rare), with `problem` saying why.
        var request: HTTPClientRequest?
        var problem: String?
        /// Unbounded: it holds the listed events of one run, small messages without commands or
        /// output, and dropping one would break the webhook's view of the run.
        var queue: AsyncStream<Queued>
        var continuation: AsyncStream<Queued>.Continuation
    }

    /// Each attempt's limit, from connecting to the end of the answer.
    public static let defaultTimeout: Duration = .seconds(5)
    /// The pause before the one retry.
    public static let defaultRetryDelay: Duration = .seconds(1)
    /// The most of an answer's body that is read (and thrown away).
    static let answerLimit = 1 << 20

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

    private let webhooks: [Webhook]
    private let client: HTTPClient
    private let timeout: Duration
    private let retryDelay: Duration
    private let redactor: Redactor
    private let log: @Sendable (String) -> Void
    private let onFailure: (@Sendable (WebhookFailure) async -> Void)?

    /// - Parameters:
    ///   - notify: the runbook's `notify` entries.
    ///   - redactor: the run's redactor; every message passes through it.
    ///   - client: the HTTP client (``sharedClient`` by default; it is never shut down here).
    ///   - log: told about each failure as it happens (standard error).
    ///   - onFailure: given each failure as it happens, after `log` (for the audit store); the
    ///     webhook's next delivery waits for it.
    public init(
        notify: [SluiceCore.Notification], redactor: Redactor, client: HTTPClient = WebhookNotifier.sharedClient, timeout: Duration = WebhookNotifier.defaultTimeout,
        retryDelay: Duration = WebhookNotifier.defaultRetryDelay, log: @escaping @Sendable (String) -> Void,
        onFailure: (@Sendable (WebhookFailure) async -> Void)? = nil
    ) {
        webhooks = notify.map { entry in
            let (queue, continuation) = AsyncStream.makeStream(of: Queued.self, bufferingPolicy: .unbounded)
            var webhook = Webhook(
                events: Set(entry.events), location: entry.location, origin: Self.origin(of: entry.webhook),
                queue: queue, continuation: continuation)
            do {
                // Parsed here only to learn early, and in the same words, that the URL is unusable.
                _ = try HTTPClient.Request(url: entry.webhook, method: .POST)
                var request = HTTPClientRequest(url: entry.webhook)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "User-Agent", value: "sluice-notify/\(SluiceVersion.current)")
                webhook.request = request
            } catch {
                webhook.problem = "not a usable URL: \(error)"
            }
            return webhook
        }
        self.client = client
        self.timeout = timeout
        self.retryDelay = retryDelay
        self.redactor = redactor
        self.log = log
        self.onFailure = onFailure
    }

    /// The longest the deliveries go on after the run: an attempt, the pause, and the retry.
    public var drainBound: Duration { timeout * 2 + retryDelay }

    /// Queues `message` for every webhook that lists its event, and returns at once. After the
    /// queues are finished (at the end of ``delivering(clock:during:)`` or ``drain(clock:)``) a
    /// message is dropped.
    public func send(_ message: WebhookMessage) {
        let listing = webhooks.filter { $0.events.contains(message.event) }
        guard !listing.isEmpty else { return }
        let clean = message.redacted(by: redactor)
        guard let body = try? Self.encoder.encode(clean) else { return }  // plain strings and numbers always encode
        let queued = Queued(message: clean, body: ByteBuffer(bytes: body))
        for webhook in listing { webhook.continuation.yield(queued) }
    }

    /// Runs `body` while a child task per webhook delivers what is sent, in order; then
    /// finishes the queues and waits for what is outstanding at most ``drainBound`` on `clock`
    /// (whether `body` returned or threw), gives up on the rest, and returns what `body` returned
    /// or throws what it threw. Call it once: the queues stay finished.
    public func delivering<T, C: Clock>(clock: C, during body: () async throws -> T) async throws -> T where C.Duration == Duration {
        var outcome: Result<T, any Error>?
        _ = await runDeliveries(clock: clock) {
            do {
                outcome = .success(try await body())
            } catch {
                outcome = .failure(error)
            }
        }
        guard let outcome else { preconditionFailure("the deliveries ended without running their body") }
        return try outcome.get()
    }

    /// Finishes the queues and delivers what they hold, at most ``drainBound`` on `clock`, then
    /// gives up on the rest. Returns every failure, each webhook's in the order of its messages,
    /// the webhooks in the runbook's order; each was also logged and given to `onFailure`.
    public func drain<C: Clock>(clock: C) async -> [WebhookFailure] where C.Duration == Duration {
        await runDeliveries(clock: clock) {}
    }

    // MARK: Delivery

    /// The deliveries' task group: a child per webhook, and once `body` is done a child that
    /// waits out the bound. Whichever ends first, all the deliveries or the bound, ends the rest.
    private func runDeliveries<C: Clock>(clock: C, whileRunning body: () async -> Void) async -> [WebhookFailure] where C.Duration == Duration {
        guard !webhooks.isEmpty else {
            await body()
            return []
        }
        return await withTaskGroup(of: (webhook: Int, failures: [WebhookFailure])?.self) { group in
            for index in webhooks.indices {
                group.addTask { (index, await self.deliverQueue(of: index, clock: clock)) }
            }
            await body()
            finish()
            let bound = drainBound
            group.addTask {
                try? await clock.sleep(for: bound)
                return nil
            }
            var failures: [Int: [WebhookFailure]] = [:]
            for await ended in group {
                guard let ended else {
                    group.cancelAll()  // the bound passed: what is outstanding fails
                    continue
                }
                failures[ended.webhook] = ended.failures
                if failures.count == webhooks.count { group.cancelAll() }  // all delivered: the bound need not pass
            }
            return webhooks.indices.flatMap { failures[$0] ?? [] }
        }
    }

    /// No more messages: each webhook's delivery ends once it has sent what is queued.
    private func finish() {
        for webhook in webhooks { webhook.continuation.finish() }
    }

    /// Delivers one webhook's messages one after another, and returns its failures. Cancelled
    /// (the bound passed), it fails the message in flight and each one still queued: a cancelled
    /// task's stream still hands out what it holds, then ends.
    private func deliverQueue<C: Clock>(of index: Int, clock: C) async -> [WebhookFailure] where C.Duration == Duration {
        let webhook = webhooks[index]
        var failures: [WebhookFailure] = []
        for await queued in webhook.queue {
            guard let failure = await deliver(queued, to: webhook, clock: clock) else { continue }
            failures.append(failure)
            log(failure.description)
            // The audit store's append does not stop for cancellation, so a failure reported
            // after the bound is recorded all the same.
            await onFailure?(failure)
        }
        return failures
    }

    /// Sends one message, retrying once; nil when it was delivered, else why not.
    private func deliver<C: Clock>(_ queued: Queued, to webhook: Webhook, clock: C) async -> WebhookFailure? where C.Duration == Duration {
        let bound = RunbookDuration.format(drainBound)
        guard !Task.isCancelled else {
            return failure(queued, to: webhook, attempts: 0,
                           reason: "not sent: the run ended and earlier notifications to this webhook were still outstanding after \(bound)")
        }
        guard var request = webhook.request else {
            return failure(queued, to: webhook, attempts: 1, reason: webhook.problem ?? "not a usable URL")
        }
        request.body = .bytes(queued.body)
        request.headers.add(name: "X-Sluice-Event", value: queued.message.event)
        let abandoned = "no answer by the end of the run and \(bound) more"
        var attempts = 0
        while true {
            attempts += 1
            guard let problem = await attempt(request, clock: clock) else { return nil }
            if Task.isCancelled { return failure(queued, to: webhook, attempts: attempts, reason: abandoned) }
            if attempts == 2 { return failure(queued, to: webhook, attempts: attempts, reason: problem) }
            try? await clock.sleep(for: retryDelay)
            if Task.isCancelled { return failure(queued, to: webhook, attempts: attempts, reason: abandoned) }
        }
    }

    /// One POST: nil when the webhook answered 2xx, else what went wrong. `clock` bounds the
    /// whole attempt, the answer's body included; the client's own timeout, which ends the
    /// request on its event loop, stops counting once the answer's head is in.
    private func attempt<C: Clock>(_ request: HTTPClientRequest, clock: C) async -> String? where C.Duration == Duration {
        let (client, timeout) = (client, timeout)
        return await withTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    let response = try await client.execute(request, timeout: TimeAmount(timeout))
                    _ = try await response.body.collect(upTo: Self.answerLimit)
                    return (200..<300).contains(Int(response.status.code)) ? nil : "HTTP \(response.status.code)"
                } catch {
                    return self.describe(error)
                }
            }
            group.addTask {
                try? await clock.sleep(for: timeout)
                return self.noAnswer
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    private func failure(_ queued: Queued, to webhook: Webhook, attempts: Int, reason: String) -> WebhookFailure {
        WebhookFailure(
            webhook: webhook.origin, location: webhook.location, event: queued.message.event,
            seq: queued.message.seq, reason: redactor.redact(reason), attempts: attempts)
    }

    private var noAnswer: String { "no answer within \(RunbookDuration.format(timeout))" }

    private func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return noAnswer
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
