/// Operational failures of the audit store, whichever backend: the errors ``SluiceStore``'s
/// contract names are these cases. Each description names the subject and says what to do
/// next; the underlying cause, when there is one, is kept.
public enum AuditStoreError: Error, CustomStringConvertible {
    /// No store exists at the path and the caller asked not to create one.
    case storeNotFound(path: String)
    /// The store's folder or file could not be created with the required modes.
    case cannotCreate(path: String, reason: String)
    /// SQLite refused to open or migrate the store.
    case cannotOpen(path: String, underlying: any Error)
    /// A read or write failed after the busy timeout and retries.
    case databaseFailure(path: String, operation: String, underlying: any Error)
    /// An event draft is not acceptable (for example an empty kind or actor).
    case invalidEvent(String)
    /// A run with this id already exists.
    case duplicateRun(String)
    /// No run with this id is recorded.
    case unknownRun(String)
    /// The target is not locked.
    case lockNotFound(target: String)
    /// The lock's holder may still be running, so it cannot be forced.
    case lockHolderMayBeAlive(TargetLock, LockState)
    /// A file backup does not match what the audit chain recorded when it was taken.
    case backupTampered(path: String, runID: String, reason: String)

    /// What went wrong and what to do about it.
    public var description: String {
        switch self {
        case .storeNotFound(let path):
            return "no audit store at \(path). Pass --store PATH or set SLUICE_STORE to the store's location."
        case .cannotCreate(let path, let reason):
            return "cannot create the audit store at \(path): \(reason). Check the folder's owner and permissions, "
                + "or pass --store PATH to use another location."
        case .cannotOpen(let path, let underlying):
            return "cannot open the audit store at \(path): \(underlying). Check that it is a Sluice store and "
                + "that you may read and write it and its folder."
        case .databaseFailure(let path, let operation, let underlying):
            return "audit store \(path): \(operation) failed: \(underlying). Nothing was recorded by this call; "
                + "check free disk space and permissions, then retry."
        case .invalidEvent(let reason):
            return "invalid audit event: \(reason)"
        case .duplicateRun(let id):
            return "run \(id) is already recorded; generate a fresh run id."
        case .unknownRun(let id):
            return "no run \(id) in the audit store. List runs with `sluice runs`."
        case .backupTampered(let path, let runID, let reason):
            return "the backup of \(path) taken by run \(runID) cannot be trusted: \(reason). It is not restored; "
                + "check the store with `sluice audit verify`, then restore \(path) by hand from a copy you trust."
        case .lockNotFound(let target):
            return "target \(target) is not locked; nothing to unlock."
        case .lockHolderMayBeAlive(let lock, let state):
            let why: String
            switch state {
            case .live:
                why = lock.host == ProcessProbe.hostName
                    ? "its process \(lock.pid) is still running on \(lock.host)"
                    : "its heartbeat from \(lock.host) is recent"
            case .unverifiable:
                why = "it is held from host \(lock.host), whose processes cannot be checked from here"
            case .stale:
                why = "it is stale"
            }
            return "target \(lock.target) is locked by run \(lock.runID) (host \(lock.host), pid \(lock.pid)) and "
                + "cannot be forced: \(why). Wait for that run to finish, stop it (Ctrl-C), or run "
                + "`sluice unlock` on \(lock.host) once its process is gone."
        }
    }
}
