//! SQLite [`Store`]: `<data-dir>/deskbeam.db`, WAL mode, schema created and migrated on open.
//! Hosts, tokens and links here; users, sessions and audit rows in `sqlite_rows`; the schema
//! and its migrations in `schema`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::schema::migrate;
use super::sqlite_rows as rows;
use super::{
    AuditRecord, HostRecord, HostTokenRecord, LinkRecord, SessionRecord, Store, StoreError,
    UserRecord,
};

/// Name of the database file inside the data dir.
pub const DB_FILE: &str = "deskbeam.db";

#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/deskbeam.db`.
    ///
    /// SQLite answers "busy" at once, without waiting, to some of what a connection does on a
    /// database another process is creating at the same moment (switching it to WAL, setting up
    /// its shared index), so a busy open is retried for a few seconds.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let deadline = std::time::Instant::now() + OPEN_RETRY_FOR;
        loop {
            match Self::open_once(data_dir) {
                Err(StoreError::Db(e)) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    tracing::debug!("database busy while opening; retrying");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn open_once(data_dir: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "SQLite did not switch to WAL journal mode");
        }
        conn.pragma_update(None, "foreign_keys", true)?;
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

/// How long opening the database is retried while another process holds it.
const OPEN_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(5);

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

pub(super) fn to_sql(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

pub(super) fn from_sql(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}")))
}

/// Maps a uniqueness violation to [`StoreError::Duplicate`].
pub(super) fn insert_result(result: rusqlite::Result<usize>, key: &str) -> Result<(), StoreError> {
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

const LINK_COLUMNS: &str = "id, host_id, scope, created_at, expires_at, max_viewers, \
     starts_at, label, single_use, used, pin_hash, secret_hash, revoked_at";

/// Raw columns of a `links` row, converted after the query so conversion errors are ours.
struct LinkRow {
    id: String,
    host_id: String,
    scope: String,
    created_at: i64,
    expires_at: i64,
    max_viewers: i64,
    starts_at: Option<i64>,
    label: Option<String>,
    single_use: bool,
    used: bool,
    pin_hash: Option<String>,
    secret_hash: Option<String>,
    revoked_at: Option<i64>,
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
            starts_at: row.get(6)?,
            label: row.get(7)?,
            single_use: row.get(8)?,
            used: row.get(9)?,
            pin_hash: row.get(10)?,
            secret_hash: row.get(11)?,
            revoked_at: row.get(12)?,
        })
    }

    fn into_record(self) -> Result<LinkRecord, StoreError> {
        let created_at = from_sql(self.created_at, "created_at")?;
        Ok(LinkRecord {
            scope: self.scope.parse().map_err(StoreError::Corrupt)?,
            created_at,
            starts_at: match self.starts_at {
                Some(t) => from_sql(t, "starts_at")?,
                None => created_at,
            },
            expires_at: from_sql(self.expires_at, "expires_at")?,
            max_viewers: u32::try_from(self.max_viewers)
                .map_err(|_| StoreError::Corrupt("max_viewers out of range".into()))?,
            id: self.id,
            host_id: self.host_id,
            label: self.label,
            single_use: self.single_use,
            used: self.used,
            pin_hash: self.pin_hash,
            secret_hash: self.secret_hash,
            revoked_at: self
                .revoked_at
                .map(|t| from_sql(t, "revoked_at"))
                .transpose()?,
        })
    }
}

fn read_host(r: &Row<'_>) -> rusqlite::Result<(String, String, i64, Option<String>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn host_record(row: (String, String, i64, Option<String>)) -> Result<HostRecord, StoreError> {
    let (id, name, created_at, owner) = row;
    Ok(HostRecord {
        id,
        name,
        created_at: from_sql(created_at, "created_at")?,
        owner,
    })
}

impl Store for SqliteStore {
    fn create_host(&self, host: &HostRecord) -> Result<(), StoreError> {
        let result = self.conn().execute(
            "INSERT INTO hosts (id, name, created_at, owner) VALUES (?1, ?2, ?3, ?4)",
            params![host.id, host.name, to_sql(host.created_at), host.owner],
        );
        insert_result(result, &host.id)
    }

    fn get_host(&self, id: &str) -> Result<Option<HostRecord>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT id, name, created_at, owner FROM hosts WHERE id = ?1",
                [id],
                read_host,
            )
            .optional()?;
        row.map(host_record).transpose()
    }

    fn list_hosts(&self) -> Result<Vec<HostRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, name, created_at, owner FROM hosts ORDER BY created_at, id")?;
        let rows = stmt.query_map([], read_host)?;
        rows.map(|r| host_record(r?)).collect()
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

    fn list_host_tokens(&self) -> Result<Vec<HostTokenRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT jti, host_id, created_at, revoked FROM host_tokens ORDER BY created_at, jti",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?, r.get(3)?))
        })?;
        rows.map(|r| {
            let (jti, host_id, created_at, revoked) = r?;
            Ok(HostTokenRecord {
                jti,
                host_id,
                created_at: from_sql(created_at, "created_at")?,
                revoked,
            })
        })
        .collect()
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
            &format!(
                "INSERT INTO links ({LINK_COLUMNS}, revoked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ),
            params![
                link.id,
                link.host_id,
                link.scope.as_str(),
                to_sql(link.created_at),
                to_sql(link.expires_at),
                link.max_viewers,
                to_sql(link.starts_at),
                link.label,
                link.single_use,
                link.used,
                link.pin_hash,
                link.secret_hash,
                link.revoked_at.map(to_sql),
                link.is_revoked(),
            ],
        );
        insert_result(result, &link.id)
    }

    fn get_link(&self, id: &str) -> Result<Option<LinkRecord>, StoreError> {
        let row = self
            .conn()
            .query_row(
                &format!("SELECT {LINK_COLUMNS} FROM links WHERE id = ?1"),
                [id],
                LinkRow::read,
            )
            .optional()?;
        row.map(LinkRow::into_record).transpose()
    }

    fn list_links(&self, host_id: &str) -> Result<Vec<LinkRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {LINK_COLUMNS} FROM links WHERE host_id = ?1 ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map([host_id], LinkRow::read)?;
        rows.map(|r| r?.into_record()).collect()
    }

    fn revoke_link(&self, id: &str, now: u64) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE links SET revoked = 1, revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
            params![id, to_sql(now)],
        )?;
        Ok(n > 0)
    }

    fn mark_link_used(&self, id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute("UPDATE links SET used = 1 WHERE id = ?1 AND used = 0", [id])?;
        Ok(n > 0)
    }

    fn append_audit(&self, event: &AuditRecord) -> Result<i64, StoreError> {
        rows::append_audit(&self.conn(), event)
    }

    fn list_audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        rows::list_audit(&self.conn(), after, limit)
    }

    fn create_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        rows::create_user(&self.conn(), user)
    }

    fn get_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        rows::get_user(&self.conn(), "id", id)
    }

    fn get_user_by_name(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        rows::get_user(&self.conn(), "name", name)
    }

    fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        rows::list_users(&self.conn())
    }

    fn set_user_totp(&self, user_id: &str, secret: Option<&str>) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE users SET totp_secret = ?2 WHERE id = ?1",
            params![user_id, secret],
        )?;
        Ok(n > 0)
    }

    fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        rows::create_session(&self.conn(), session)
    }

    fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        rows::get_session(&self.conn(), id_hash)
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
        Ok(())
    }

    fn delete_expired_sessions(&self, now: u64) -> Result<usize, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM sessions WHERE expires_at <= ?1", [to_sql(now)])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract;
    use crate::store::schema::SCHEMA_V1;

    fn temp_dir() -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("deskbeam-sqlite-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).ok();
        dir
    }

    #[test]
    fn two_processes_opening_a_fresh_directory_migrate_it_once() {
        for _ in 0..30 {
            let dir = temp_dir();
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    let dir = dir.clone();
                    std::thread::spawn(move || SqliteStore::open(&dir).map(|_| ()))
                })
                .collect();
            for opener in openers {
                let opened = opener.join().map_err(|_| "opener panicked");
                assert!(matches!(opened, Ok(Ok(()))), "{opened:?}");
            }
        }
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

    #[test]
    fn migrates_a_v1_database() -> Result<(), StoreError> {
        let dir = temp_dir();
        {
            let conn = Connection::open(dir.join(DB_FILE))?;
            conn.execute_batch(SCHEMA_V1)?;
            conn.execute_batch(
                "CREATE TABLE schema_version (version INTEGER NOT NULL);
                 INSERT INTO schema_version VALUES (1);
                 INSERT INTO hosts VALUES ('h1', 'pc', 5);
                 INSERT INTO host_tokens VALUES ('t1', 'h1', 5, 0);
                 INSERT INTO links VALUES ('l1', 'h1', 'view', 10, 70, 2, 0);
                 INSERT INTO links VALUES ('l2', 'h1', 'control', 11, 71, 1, 1);",
            )?;
        }
        let store = SqliteStore::open(&dir)?;
        let l1 = store
            .get_link("l1")?
            .ok_or(StoreError::Corrupt("l1 lost".into()))?;
        assert_eq!((l1.starts_at, l1.revoked_at, l1.used), (10, None, false));
        assert_eq!((l1.label, l1.pin_hash, l1.secret_hash), (None, None, None));
        let l2 = store
            .get_link("l2")?
            .ok_or(StoreError::Corrupt("l2 lost".into()))?;
        assert_eq!(l2.revoked_at, Some(11));
        assert_eq!(store.host_token_valid("t1")?, Some("h1".to_string()));
        assert_eq!(store.get_host("h1")?.and_then(|h| h.owner), None);
        assert!(store.mark_link_used("l1")?);
        drop(store);
        // Opening again is a no-op at version 2.
        let store = SqliteStore::open(&dir)?;
        let versions: i64 = store.conn().query_row(
            "SELECT COUNT(*) FROM schema_version WHERE version = 2",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(versions, 1);
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }

    #[test]
    fn audit_rows_cannot_change() -> Result<(), StoreError> {
        let dir = temp_dir();
        let store = SqliteStore::open(&dir)?;
        let event = AuditRecord {
            id: 0,
            at: 1,
            kind: "login_ok".into(),
            actor: Some("user:alice".into()),
            host_id: None,
            link_id: None,
            viewer_id: None,
            address: Some("127.0.0.1".into()),
            detail: serde_json::json!({}),
        };
        let id = store.append_audit(&event)?;
        let conn = store.conn();
        let update = conn.execute("UPDATE audit SET kind = 'x' WHERE id = ?1", [id]);
        assert!(
            matches!(&update, Err(e) if e.to_string().contains("append-only")),
            "{update:?}"
        );
        let delete = conn.execute("DELETE FROM audit", []);
        assert!(matches!(&delete, Err(e) if e.to_string().contains("append-only")));
        drop(conn);
        assert_eq!(store.list_audit(0, 10)?.len(), 1);
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}
