//! SQLite rows of users, sessions and the append-only audit log (helpers of [`super::sqlite`]).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::sqlite::{from_sql, insert_result, to_sql};
use super::{AuditRecord, SessionRecord, StoreError, UserRecord};

const AUDIT_COLUMNS: &str = "id, at, kind, actor, host_id, link_id, viewer_id, address, detail";

pub fn append_audit(conn: &Connection, e: &AuditRecord) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO audit (at, kind, actor, host_id, link_id, viewer_id, address, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            to_sql(e.at),
            e.kind,
            e.actor,
            e.host_id,
            e.link_id,
            e.viewer_id,
            e.address,
            e.detail.to_string()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

type AuditRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn read_audit(r: &Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn audit_record(row: AuditRow) -> Result<AuditRecord, StoreError> {
    let (id, at, kind, actor, host_id, link_id, viewer_id, address, detail) = row;
    Ok(AuditRecord {
        id,
        at: from_sql(at, "at")?,
        kind,
        actor,
        host_id,
        link_id,
        viewer_id,
        address,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
    })
}

pub fn list_audit(
    conn: &Connection,
    after: i64,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![after, limit], read_audit)?;
    rows.map(|r| audit_record(r?)).collect()
}

type UserRow = (String, String, String, i64, Option<String>);

fn read_user(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn user_record(row: UserRow) -> Result<UserRecord, StoreError> {
    let (id, name, password_hash, created_at, totp_secret) = row;
    Ok(UserRecord {
        id,
        name,
        password_hash,
        created_at: from_sql(created_at, "created_at")?,
        totp_secret,
    })
}

const USER_COLUMNS: &str = "id, name, password_hash, created_at, totp_secret";

pub fn create_user(conn: &Connection, u: &UserRecord) -> Result<(), StoreError> {
    let result = conn.execute(
        &format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
        params![
            u.id,
            u.name,
            u.password_hash,
            to_sql(u.created_at),
            u.totp_secret
        ],
    );
    insert_result(result, &u.name)
}

/// `column` is one of our own literals (`id`, `name`), never input.
pub fn get_user(
    conn: &Connection,
    column: &'static str,
    value: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let row = conn
        .query_row(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = ?1"),
            [value],
            read_user,
        )
        .optional()?;
    row.map(user_record).transpose()
}

pub fn list_users(conn: &Connection) -> Result<Vec<UserRecord>, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))?;
    let rows = stmt.query_map([], read_user)?;
    rows.map(|r| user_record(r?)).collect()
}

pub fn create_session(conn: &Connection, s: &SessionRecord) -> Result<(), StoreError> {
    let result = conn.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            s.id_hash,
            s.user_id,
            s.csrf_token,
            to_sql(s.created_at),
            to_sql(s.expires_at)
        ],
    );
    insert_result(result, "session")
}

pub fn get_session(conn: &Connection, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
    let row: Option<(String, String, String, i64, i64)> = conn
        .query_row(
            "SELECT id_hash, user_id, csrf_token, created_at, expires_at
             FROM sessions WHERE id_hash = ?1",
            [id_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    row.map(|(id_hash, user_id, csrf_token, created_at, expires_at)| {
        Ok(SessionRecord {
            id_hash,
            user_id,
            csrf_token,
            created_at: from_sql(created_at, "created_at")?,
            expires_at: from_sql(expires_at, "expires_at")?,
        })
    })
    .transpose()
}
