import ArgumentParser
import Foundation
import SluiceAudit

/// Options every subcommand that touches the audit store or acts on someone's behalf shares.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The audit store (default: $SLUICE_STORE, else .sluice/audit.sqlite under the current folder).",
        valueName: "path"))
    var store: String?

    /// The store path after applying the documented fallbacks.
    var resolvedStorePath: String {
        if let store { return store }
        if let fromEnvironment = ProcessInfo.processInfo.environment["SLUICE_STORE"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return FileManager.default.currentDirectoryPath + "/.sluice/audit.sqlite"
    }

    /// A `scheme://` store is refused until that scheme is supported: a `postgres://` value
    /// would otherwise become a local folder named `postgres:`. Only the scheme is named, never
    /// the rest (it may carry a password).
    func validate() throws {
        let value = resolvedStorePath
        guard let scheme = value.firstMatch(of: /^([A-Za-z][A-Za-z0-9+.\-]*):\/\//)?.output.1 else { return }
        let source = store != nil ? "--store" : "$SLUICE_STORE"
        throw ValidationError("\(source) names a \(scheme):// store, which this version of sluice does not support; give the path of a SQLite file instead, such as .sluice/audit.sqlite.")
    }
}

extension StoreOptions {
    /// Opens the store, creating it if needed; when it cannot be opened, says why and exits with
    /// `status` (apply's 4: refused, nothing changed; 1 for the commands that only record).
    func openStore(failingWith status: Int32) throws -> any SluiceStore {
        do {
            return try StoreOpener.open(resolvedStorePath, createIfMissing: true)
        } catch {
            Console.fail("\(error)")
            throw ExitCode(status)
        }
    }
}

/// Opens the store a `--store` value (or `$SLUICE_STORE`) names: the one place that knows which
/// backend a value means. Today every value is a SQLite file's path (``StoreOptions/validate()``
/// refuses a `scheme://` one first).
enum StoreOpener {
    /// Opens the store at `location`, creating it when `createIfMissing` is true.
    ///
    /// - Throws: ``AuditStoreError/storeNotFound(path:)`` when there is none and
    ///   `createIfMissing` is false; the backend's error when it cannot be opened.
    static func open(_ location: String, createIfMissing: Bool) throws -> any SluiceStore {
        try AuditStore(path: location, createIfMissing: createIfMissing)
    }
}

/// What starts a change (`apply` and `resume`): confirmation, the window override and its
/// reason, and JSON output.
struct StartOptions: ParsableArguments {
    @Flag(name: .long, help: "Do not ask for confirmation (required when standard input is not a terminal).")
    var yes = false

    @Flag(name: .long, help: "Start even outside the window or during a freeze (needs --reason; audited).")
    var overrideWindow = false

    @Option(name: .long, help: ArgumentHelp("Why the window is overridden (or, for resume, changes accepted); recorded.", valueName: "text"))
    var reason: String?

    @Flag(name: .long, help: "Print each event as a JSON line instead of progress lines.")
    var json = false

    /// Whether a reason that says something was given.
    var hasReason: Bool { !(reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty }

    func validate() throws {
        if overrideWindow, !hasReason {
            throw ValidationError("--override-window needs --reason TEXT saying why; it is recorded in the audit store.")
        }
    }
}

/// Who is acting: `--as`, else `$SLUICE_USER`, else the login name.
struct ActorOptions: ParsableArguments {
    @Option(name: .customLong("as"), help: ArgumentHelp(
        "Who is acting (default: $SLUICE_USER, else the login name).", valueName: "name"))
    var actor: String?

    var resolvedActor: String {
        if let actor, !actor.isEmpty { return actor }
        let environment = ProcessInfo.processInfo.environment
        if let user = environment["SLUICE_USER"], !user.isEmpty { return user }
        if let login = getlogin().map({ String(cString: $0) }), !login.isEmpty { return login }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name.map({ String(cString: $0) }), !name.isEmpty {
            return name
        }
        return environment["USER"] ?? "uid-\(getuid())"
    }
}

/// Output options shared by commands that print.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Never colour the output, even on a terminal.")
    var noColor = false

    /// Colour only when standard output is a terminal, `--no-color` is absent and NO_COLOR unset.
    var useColor: Bool {
        !noColor && isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }
}

/// The shared freeze calendar: `--calendar FILE`, else `$SLUICE_CALENDAR`.
struct CalendarOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A calendar file of freezes that bind every runbook (default: $SLUICE_CALENDAR; none when unset).",
        valueName: "file"))
    var calendar: String?

    /// The calendar file to read, if any. A path that is given but cannot be read is an error,
    /// never a silent "no freezes": a forgotten freeze would let a change through.
    var resolvedCalendarPath: String? {
        if let calendar { return calendar }
        if let fromEnvironment = ProcessInfo.processInfo.environment["SLUICE_CALENDAR"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return nil
    }
}
