//! Durable records: hosts, host tokens, links, users, sessions and the audit log, behind the
//! [`Store`] trait.
//!
//! Layout: [`sqlite`] is the real store (one file in the data dir), [`memory`] the test double.
//! Methods are synchronous and short; callers never hold a store call across an `.await`.

pub mod memory;
mod schema;
pub mod sqlite;
mod sqlite_rows;

use deskbeam_proto::Scope;

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("database schema version {found} is newer than this server ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("record {0} already exists")]
    Duplicate(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecord {
    pub id: String,
    pub name: String,
    pub created_at: u64,
    /// The user account the host belongs to, if any.
    pub owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTokenRecord {
    pub jti: String,
    pub host_id: String,
    pub created_at: u64,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    pub id: String,
    pub host_id: String,
    pub scope: Scope,
    pub created_at: u64,
    /// Not valid before this time (Unix seconds).
    pub starts_at: u64,
    pub expires_at: u64,
    pub max_viewers: u32,
    pub label: Option<String>,
    pub single_use: bool,
    /// A single-use link admitted its viewer.
    pub used: bool,
    /// Argon2id PHC string of the PIN; never the PIN.
    pub pin_hash: Option<String>,
    /// Hex SHA-256 of the issued link token (`None` for links made before schema v2).
    pub secret_hash: Option<String>,
    pub revoked_at: Option<u64>,
}

impl LinkRecord {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// A user account. `Debug` leaves out the password hash and the TOTP secret.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub created_at: u64,
    /// Base32 TOTP secret when the second factor is on.
    pub totp_secret: Option<String>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("totp", &self.totp_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// A login session, keyed by the SHA-256 of its cookie value. `Debug` leaves out the CSRF token.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: u64,
    pub expires_at: u64,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One row of the append-only audit log. `id` is assigned by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: u64,
    pub kind: String,
    pub actor: Option<String>,
    pub host_id: Option<String>,
    pub link_id: Option<String>,
    pub viewer_id: Option<String>,
    pub address: Option<String>,
    pub detail: serde_json::Value,
}

/// Everything the server remembers across restarts.
pub trait Store: Send + Sync {
    fn create_host(&self, host: &HostRecord) -> Result<(), StoreError>;
    fn get_host(&self, id: &str) -> Result<Option<HostRecord>, StoreError>;
    fn list_hosts(&self) -> Result<Vec<HostRecord>, StoreError>;
    fn add_host_token(&self, token: &HostTokenRecord) -> Result<(), StoreError>;
    fn list_host_tokens(&self) -> Result<Vec<HostTokenRecord>, StoreError>;
    /// The host a token opens, if the token is known and not revoked.
    fn host_token_valid(&self, jti: &str) -> Result<Option<String>, StoreError>;
    /// Returns whether a token with that id existed.
    fn revoke_host_token(&self, jti: &str) -> Result<bool, StoreError>;
    fn create_link(&self, link: &LinkRecord) -> Result<(), StoreError>;
    fn get_link(&self, id: &str) -> Result<Option<LinkRecord>, StoreError>;
    /// The links of one host, oldest first.
    fn list_links(&self, host_id: &str) -> Result<Vec<LinkRecord>, StoreError>;
    /// Sets `revoked_at` (first revocation wins). Returns whether the link existed.
    fn revoke_link(&self, id: &str, now: u64) -> Result<bool, StoreError>;
    /// Marks a link used; true only for the call that changed it from unused.
    fn mark_link_used(&self, id: &str) -> Result<bool, StoreError>;
    /// Appends an audit row and returns its id.
    fn append_audit(&self, event: &AuditRecord) -> Result<i64, StoreError>;
    /// Audit rows with `id > after`, oldest first, at most `limit`.
    fn list_audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;
    fn create_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    fn get_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;
    fn get_user_by_name(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;
    fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Returns whether the user existed.
    fn set_user_totp(&self, user_id: &str, secret: Option<&str>) -> Result<bool, StoreError>;
    fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError>;
    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
    /// Deletes sessions that expired at or before `now`; returns how many.
    fn delete_expired_sessions(&self, now: u64) -> Result<usize, StoreError>;
}

#[cfg(test)]
pub(crate) mod contract {
    //! One behavioural test suite that every `Store` implementation must pass.
    use super::*;

    pub fn host(id: &str) -> HostRecord {
        HostRecord {
            id: id.into(),
            name: format!("name of {id}"),
            created_at: 10,
            owner: None,
        }
    }

    pub fn link(id: &str, host_id: &str) -> LinkRecord {
        LinkRecord {
            id: id.into(),
            host_id: host_id.into(),
            scope: Scope::Control,
            created_at: 10,
            starts_at: 10,
            expires_at: 70,
            max_viewers: 3,
            label: Some("label".into()),
            single_use: true,
            used: false,
            pin_hash: Some("$argon2id$x".into()),
            secret_hash: Some("ab".into()),
            revoked_at: None,
        }
    }

    pub fn check(store: &dyn Store) -> Result<(), StoreError> {
        store.create_host(&host("h1"))?;
        assert_eq!(store.get_host("h1")?, Some(host("h1")));
        assert_eq!(store.get_host("nope")?, None);
        assert!(matches!(
            store.create_host(&host("h1")),
            Err(StoreError::Duplicate(_))
        ));

        let token = HostTokenRecord {
            jti: "t1".into(),
            host_id: "h1".into(),
            created_at: 11,
            revoked: false,
        };
        store.add_host_token(&token)?;
        assert_eq!(store.host_token_valid("t1")?, Some("h1".to_string()));
        assert_eq!(store.host_token_valid("t2")?, None);
        assert!(store.revoke_host_token("t1")?);
        assert!(!store.revoke_host_token("t2")?);
        assert_eq!(store.host_token_valid("t1")?, None);

        store.create_link(&link("l1", "h1"))?;
        assert_eq!(store.get_link("l1")?, Some(link("l1", "h1")));
        assert_eq!(store.get_link("l2")?, None);
        store.create_link(&link("l0", "h1"))?;
        let ids: Vec<String> = store.list_links("h1")?.into_iter().map(|l| l.id).collect();
        assert_eq!(ids.len(), 2);
        assert!(store.list_links("h2")?.is_empty());
        assert!(store.mark_link_used("l1")?);
        assert!(!store.mark_link_used("l1")?);
        assert!(store.revoke_link("l1", 20)?);
        assert!(store.revoke_link("l1", 30)?);
        let l1 = store.get_link("l1")?;
        assert_eq!(
            l1.as_ref().map(|l| (l.revoked_at, l.used)),
            Some((Some(20), true))
        );
        assert!(!store.revoke_link("l2", 20)?);
        check_accounts(store)?;
        check_audit(store)
    }

    fn check_accounts(store: &dyn Store) -> Result<(), StoreError> {
        let user = UserRecord {
            id: "u1".into(),
            name: "alice".into(),
            password_hash: "$argon2id$y".into(),
            created_at: 5,
            totp_secret: None,
        };
        store.create_user(&user)?;
        let mut twin = user.clone();
        twin.id = "u2".into();
        assert!(matches!(
            store.create_user(&twin),
            Err(StoreError::Duplicate(_))
        ));
        assert_eq!(store.get_user_by_name("alice")?, Some(user.clone()));
        assert_eq!(store.get_user("u1")?, Some(user.clone()));
        assert!(store.set_user_totp("u1", Some("SECRET"))?);
        assert!(!store.set_user_totp("nobody", None)?);
        assert_eq!(store.list_users()?.len(), 1);
        assert_eq!(
            store.get_user("u1")?.and_then(|u| u.totp_secret),
            Some("SECRET".to_string())
        );
        let mut owned = host("h9");
        owned.owner = Some("u1".into());
        store.create_host(&owned)?;
        assert!(store.list_hosts()?.contains(&owned));
        let session = SessionRecord {
            id_hash: "s".into(),
            user_id: "u1".into(),
            csrf_token: "c".into(),
            created_at: 1,
            expires_at: 2,
        };
        store.create_session(&session)?;
        assert_eq!(store.get_session("s")?, Some(session.clone()));
        store.delete_session("s")?;
        assert_eq!(store.get_session("s")?, None);
        store.create_session(&session)?;
        assert_eq!(store.delete_expired_sessions(1)?, 0);
        assert_eq!(store.delete_expired_sessions(2)?, 1);
        assert_eq!(store.get_session("s")?, None);
        assert_eq!(store.list_host_tokens()?.len(), 1);
        Ok(())
    }

    fn check_audit(store: &dyn Store) -> Result<(), StoreError> {
        let mut event = AuditRecord {
            id: 0,
            at: 7,
            kind: "link_created".into(),
            actor: Some("host:h1".into()),
            host_id: Some("h1".into()),
            link_id: Some("l1".into()),
            viewer_id: None,
            address: None,
            detail: serde_json::json!({"scope": "view"}),
        };
        let first = store.append_audit(&event)?;
        event.kind = "link_revoked".into();
        let second = store.append_audit(&event)?;
        assert!(second > first);
        let all = store.list_audit(0, 10)?;
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].id, second);
        assert_eq!(all[1].detail, serde_json::json!({"scope": "view"}));
        let after = store.list_audit(first, 10)?;
        assert_eq!(after.iter().map(|e| e.id).collect::<Vec<_>>(), vec![second]);
        assert_eq!(store.list_audit(0, 1)?.len(), 1);
        Ok(())
    }
}
