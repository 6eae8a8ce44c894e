//! Durable records: hosts, host tokens and links, behind the [`Store`] trait.
//!
//! Layout: [`sqlite`] is the real store (one file in the data dir), [`memory`] the test double.
//! Methods are synchronous and short; callers never hold a store call across an `.await`.

pub mod memory;
pub mod sqlite;

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
    pub expires_at: u64,
    pub max_viewers: u32,
    pub revoked: bool,
}

/// Everything the server remembers across restarts.
pub trait Store: Send + Sync {
    fn create_host(&self, host: &HostRecord) -> Result<(), StoreError>;
    fn get_host(&self, id: &str) -> Result<Option<HostRecord>, StoreError>;
    fn add_host_token(&self, token: &HostTokenRecord) -> Result<(), StoreError>;
    /// The host a token opens, if the token is known and not revoked.
    fn host_token_valid(&self, jti: &str) -> Result<Option<String>, StoreError>;
    /// Returns whether a token with that id existed.
    fn revoke_host_token(&self, jti: &str) -> Result<bool, StoreError>;
    fn create_link(&self, link: &LinkRecord) -> Result<(), StoreError>;
    fn get_link(&self, id: &str) -> Result<Option<LinkRecord>, StoreError>;
    /// Returns whether a link with that id existed.
    fn revoke_link(&self, id: &str) -> Result<bool, StoreError>;
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
        }
    }

    pub fn link(id: &str, host_id: &str) -> LinkRecord {
        LinkRecord {
            id: id.into(),
            host_id: host_id.into(),
            scope: Scope::Control,
            created_at: 10,
            expires_at: 70,
            max_viewers: 3,
            revoked: false,
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
        assert!(store.revoke_link("l1")?);
        assert_eq!(store.get_link("l1")?.map(|l| l.revoked), Some(true));
        assert!(!store.revoke_link("l2")?);
        Ok(())
    }
}
