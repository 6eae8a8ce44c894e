//! The SQLite schema, its versions and the migration run when the database is opened.

use rusqlite::Connection;

use super::StoreError;

/// Version of the schema below. Bump and add a migration step on any change.
pub const SCHEMA_VERSION: i64 = 2;

/// Schema version 1, as first released; later versions migrate from it step by step.
pub const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS hosts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS host_tokens (
    jti TEXT PRIMARY KEY,
    host_id TEXT NOT NULL REFERENCES hosts(id),
    created_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS links (
    id TEXT PRIMARY KEY,
    host_id TEXT NOT NULL REFERENCES hosts(id),
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_viewers INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
";

/// v1 → v2: link management columns, users, sessions, host owners, the append-only audit log.
const MIGRATE_V2: &str = "
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    totp_secret TEXT
);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
ALTER TABLE hosts ADD COLUMN owner TEXT REFERENCES users(id);
ALTER TABLE links ADD COLUMN starts_at INTEGER;
ALTER TABLE links ADD COLUMN label TEXT;
ALTER TABLE links ADD COLUMN single_use INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN pin_hash TEXT;
ALTER TABLE links ADD COLUMN secret_hash TEXT;
ALTER TABLE links ADD COLUMN revoked_at INTEGER;
UPDATE links SET starts_at = created_at;
UPDATE links SET revoked_at = created_at WHERE revoked = 1;
CREATE INDEX links_by_host ON links(host_id);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    host_id TEXT,
    link_id TEXT,
    viewer_id TEXT,
    address TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// Brings the schema up to date. The write lock is taken before the version is read, so two
/// processes opening a fresh data directory at once (the server and `host-token`) migrate it
/// once: the second waits (busy timeout), then finds it done.
pub(super) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match migrate_locked(conn) {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn migrate_locked(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")?;
    let found: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        })?;
    if let Some(v) = found.filter(|v| *v > SCHEMA_VERSION) {
        return Err(StoreError::SchemaTooNew {
            found: v,
            supported: SCHEMA_VERSION,
        });
    }
    let mut version = found.unwrap_or(0);
    if version < 1 {
        conn.execute_batch(SCHEMA_V1)?;
        version = 1;
    }
    if version < 2 {
        conn.execute_batch(MIGRATE_V2)?;
        version = 2;
    }
    if found != Some(version) {
        conn.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [version],
        )?;
        tracing::info!(
            from = found.unwrap_or(0),
            to = version,
            "migrated database schema"
        );
    }
    Ok(())
}
