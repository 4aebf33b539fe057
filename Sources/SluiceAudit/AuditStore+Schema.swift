internal import GRDB

extension AuditStore {
    /// The schema's migrations. A shipped migration is never edited: change the schema by adding
    /// a new one at the end.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-audit-store") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                    id TEXT PRIMARY KEY NOT NULL CHECK (id GLOB 'r-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9][0-9][0-9]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
                    runbook_id TEXT NOT NULL CHECK (runbook_id <> ''),
                    title TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('change', 'maintenance')),
                    mode TEXT NOT NULL CHECK (mode IN ('apply', 'plan', 'rollback', 'resume')),
                    actor TEXT NOT NULL CHECK (actor <> ''),
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    content_hash TEXT NOT NULL,
                    runbook_path TEXT NOT NULL,
                    started_at TEXT NOT NULL,
                    finished_at TEXT,
                    outcome TEXT CHECK (outcome IN ('succeeded', 'completed_with_failures', 'rolled_back',
                        'rollback_incomplete', 'halted', 'refused', 'interrupted', 'checks_failed')),
                    CHECK ((finished_at IS NULL) = (outcome IS NULL))
                );
                CREATE INDEX runs_by_start ON runs (started_at, id);

                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    time TEXT NOT NULL,
                    run_id TEXT,
                    actor TEXT NOT NULL CHECK (actor <> ''),
                    kind TEXT NOT NULL CHECK (kind <> ''),
                    target TEXT,
                    stage TEXT,
                    step TEXT,
                    status TEXT,
                    exit_code INTEGER,
                    duration_ms INTEGER,
                    detail TEXT NOT NULL,
                    prev_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                );
                CREATE INDEX events_by_run ON events (run_id, seq);
                CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
                BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE is not allowed'); END;
                CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
                BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE is not allowed'); END;

                CREATE TABLE approvals (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    runbook_id TEXT NOT NULL CHECK (runbook_id <> ''),
                    content_hash TEXT NOT NULL CHECK (content_hash <> ''),
                    approver TEXT NOT NULL CHECK (approver <> ''),
                    comment TEXT,
                    approved_at TEXT NOT NULL
                );
                CREATE INDEX approvals_by_content ON approvals (runbook_id, content_hash);

                CREATE TABLE locks (
                    target TEXT PRIMARY KEY NOT NULL CHECK (target <> ''),
                    run_id TEXT NOT NULL,
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    acquired_at TEXT NOT NULL,
                    heartbeat_at TEXT NOT NULL,
                    ttl_ms INTEGER NOT NULL CHECK (ttl_ms > 0)
                );
                CREATE INDEX locks_by_run ON locks (run_id);

                CREATE TABLE file_backups (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id TEXT NOT NULL REFERENCES runs (id),
                    target TEXT NOT NULL,
                    step TEXT NOT NULL,
                    path TEXT NOT NULL,
                    existed INTEGER NOT NULL CHECK (existed IN (0, 1)),
                    content BLOB,
                    mode INTEGER,
                    taken_at TEXT NOT NULL,
                    UNIQUE (run_id, target, step, path),
                    CHECK ((existed = 1) = (content IS NOT NULL AND mode IS NOT NULL))
                );

                CREATE TABLE saved_plans (
                    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
                    runbook_id TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    run_id TEXT REFERENCES runs (id),
                    created_at TEXT NOT NULL,
                    plan_json TEXT NOT NULL CHECK (json_valid(plan_json))
                );
                """)
        }
        // Which files an approval covered, each with its hash, so that a refusal can name the
        // file that changed since: a JSON array of {role, path, sha256}. NULL for approvals
        // recorded before this column existed.
        migrator.registerMigration("v2-approval-files") { db in
            try db.execute(sql: """
                ALTER TABLE approvals ADD COLUMN content_files TEXT
                    CHECK (content_files IS NULL OR (json_valid(content_files) AND json_type(content_files) = 'array'));
                CREATE INDEX approvals_by_runbook ON approvals (runbook_id, id);
                """)
        }
        // A backup keeps the file's owner and group, and the SHA-256 over everything a restore
        // writes, which the chained `file.backed_up` event that takes it also records.
        migrator.registerMigration("v3-backup-owners-and-digests") { db in
            try db.execute(sql: """
                ALTER TABLE file_backups ADD COLUMN owner INTEGER;
                ALTER TABLE file_backups ADD COLUMN grp INTEGER;
                ALTER TABLE file_backups ADD COLUMN sha256 TEXT;
                """)
        }
        // One driver per run: the process that drives it now (SPEC section 4).
        migrator.registerMigration("v4-run-leases") { db in
            try db.execute(sql: """
                CREATE TABLE run_leases (
                    run_id TEXT PRIMARY KEY NOT NULL REFERENCES runs (id),
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    acquired_at TEXT NOT NULL,
                    heartbeat_at TEXT NOT NULL,
                    ttl_ms INTEGER NOT NULL CHECK (ttl_ms > 0)
                );
                """)
        }
        // Fencing tokens (SPEC section 7): each acquisition or takeover of a target lock or a
        // run's lease writes a fresh token, and a heartbeat, renewal or release acts only with
        // the token the lease holds. Locks and leases from before get one each.
        migrator.registerMigration("v5-lease-tokens") { db in
            try db.execute(sql: """
                ALTER TABLE locks ADD COLUMN token TEXT NOT NULL DEFAULT '';
                UPDATE locks SET token = lower(hex(randomblob(16)));
                ALTER TABLE run_leases ADD COLUMN token TEXT NOT NULL DEFAULT '';
                UPDATE run_leases SET token = lower(hex(randomblob(16)));
                """)
        }
        return migrator
    }
}
