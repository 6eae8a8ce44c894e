//! SQLite [`Store`]: `<data-dir>/deskbeam.db`, WAL mode, schema created and versioned on open.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{HostRecord, HostTokenRecord, LinkRecord, Store, StoreError};

/// Name of the database file inside the data dir.
pub const DB_FILE: &str = "deskbeam.db";

/// Version of the schema below. Bump and add a migration step on any change.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
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

#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/deskbeam.db`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "SQLite did not switch to WAL journal mode");
        }
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // Each statement is atomic in SQLite, so a panic elsewhere cannot leave it half-written.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")?;
    let found: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        })?;
    match found {
        Some(v) if v > SCHEMA_VERSION => Err(StoreError::SchemaTooNew {
            found: v,
            supported: SCHEMA_VERSION,
        }),
        Some(_) => Ok(()),
        None => {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(SCHEMA)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [SCHEMA_VERSION],
            )?;
            tx.commit()?;
            tracing::info!(version = SCHEMA_VERSION, "created database schema");
            Ok(())
        }
    }
}

fn to_sql(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

fn from_sql(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}")))
}

/// Maps a uniqueness violation to [`StoreError::Duplicate`].
fn insert_result(result: rusqlite::Result<usize>, key: &str) -> Result<(), StoreError> {
    match result {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::Duplicate(key.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Raw columns of a `links` row, converted after the query so conversion errors are ours.
struct LinkRow {
    id: String,
    host_id: String,
    scope: String,
    created_at: i64,
    expires_at: i64,
    max_viewers: i64,
    revoked: bool,
}

impl LinkRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            host_id: row.get(1)?,
            scope: row.get(2)?,
            created_at: row.get(3)?,
            expires_at: row.get(4)?,
            max_viewers: row.get(5)?,
            revoked: row.get(6)?,
        })
    }

    fn into_record(self) -> Result<LinkRecord, StoreError> {
        Ok(LinkRecord {
            scope: self.scope.parse().map_err(StoreError::Corrupt)?,
            created_at: from_sql(self.created_at, "created_at")?,
            expires_at: from_sql(self.expires_at, "expires_at")?,
            max_viewers: u32::try_from(self.max_viewers)
                .map_err(|_| StoreError::Corrupt("max_viewers out of range".into()))?,
            id: self.id,
            host_id: self.host_id,
            revoked: self.revoked,
        })
    }
}

impl Store for SqliteStore {
    fn create_host(&self, host: &HostRecord) -> Result<(), StoreError> {
        let result = self.conn().execute(
            "INSERT INTO hosts (id, name, created_at) VALUES (?1, ?2, ?3)",
            params![host.id, host.name, to_sql(host.created_at)],
        );
        insert_result(result, &host.id)
    }

    fn get_host(&self, id: &str) -> Result<Option<HostRecord>, StoreError> {
        let row: Option<(String, String, i64)> = self
            .conn()
            .query_row(
                "SELECT id, name, created_at FROM hosts WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(id, name, created_at)| {
            Ok(HostRecord {
                id,
                name,
                created_at: from_sql(created_at, "created_at")?,
            })
        })
        .transpose()
    }

    fn add_host_token(&self, token: &HostTokenRecord) -> Result<(), StoreError> {
        let result = self.conn().execute(
            "INSERT INTO host_tokens (jti, host_id, created_at, revoked) VALUES (?1, ?2, ?3, ?4)",
            params![
                token.jti,
                token.host_id,
                to_sql(token.created_at),
                token.revoked
            ],
        );
        insert_result(result, &token.jti)
    }

    fn host_token_valid(&self, jti: &str) -> Result<Option<String>, StoreError> {
        let host = self
            .conn()
            .query_row(
                "SELECT host_id FROM host_tokens WHERE jti = ?1 AND revoked = 0",
                [jti],
                |r| r.get(0),
            )
            .optional()?;
        Ok(host)
    }

    fn revoke_host_token(&self, jti: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute("UPDATE host_tokens SET revoked = 1 WHERE jti = ?1", [jti])?;
        Ok(n > 0)
    }

    fn create_link(&self, link: &LinkRecord) -> Result<(), StoreError> {
        let result = self.conn().execute(
            "INSERT INTO links (id, host_id, scope, created_at, expires_at, max_viewers, revoked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                link.id,
                link.host_id,
                link.scope.as_str(),
                to_sql(link.created_at),
                to_sql(link.expires_at),
                link.max_viewers,
                link.revoked
            ],
        );
        insert_result(result, &link.id)
    }

    fn get_link(&self, id: &str) -> Result<Option<LinkRecord>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT id, host_id, scope, created_at, expires_at, max_viewers, revoked
                 FROM links WHERE id = ?1",
                [id],
                LinkRow::read,
            )
            .optional()?;
        row.map(LinkRow::into_record).transpose()
    }

    fn revoke_link(&self, id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute("UPDATE links SET revoked = 1 WHERE id = ?1", [id])?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract;

    fn temp_dir() -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("deskbeam-sqlite-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).ok();
        dir
    }

    #[test]
    fn passes_the_store_contract() -> Result<(), StoreError> {
        let dir = temp_dir();
        contract::check(&SqliteStore::open(&dir)?)?;
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }

    #[test]
    fn refuses_a_newer_schema() -> Result<(), StoreError> {
        let dir = temp_dir();
        drop(SqliteStore::open(&dir)?);
        Connection::open(dir.join(DB_FILE))?
            .execute("INSERT INTO schema_version (version) VALUES (99)", [])?;
        assert!(matches!(
            SqliteStore::open(&dir),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}
