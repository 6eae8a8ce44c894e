//! `AppState`: what every handler shares (store, keys, hub, clock, settings), cheap to clone.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use deskbeam_proto::token::{HostClaims, AUDIENCE_HOST, ISSUER};

use crate::clock::{Clock, SystemClock};
use crate::files;
use crate::hub::Hub;
use crate::store::{HostRecord, HostTokenRecord, MemoryStore, SqliteStore, Store, StoreError};
use crate::tokens::{Keys, TokenError};

/// How long a WHEP request waits for the agent's answer.
pub const DEFAULT_OFFER_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("could not create the data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// A host and the first token that opens it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedHost {
    pub host_id: String,
    pub token: String,
}

impl std::fmt::Debug for IssuedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedHost")
            .field("host_id", &self.host_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    keys: Keys,
    hub: Hub,
    clock: Arc<dyn Clock>,
    public_url: String,
    offer_timeout: Duration,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("public_url", &self.inner.public_url)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Assembles a state from its parts. `public_url` is the base of viewer links.
    pub fn new(
        store: Arc<dyn Store>,
        keys: Keys,
        clock: Arc<dyn Clock>,
        public_url: impl Into<String>,
    ) -> Self {
        let public_url = public_url.into().trim_end_matches('/').to_string();
        let inner = Inner {
            store,
            keys,
            hub: Hub::new(),
            clock,
            public_url,
            offer_timeout: DEFAULT_OFFER_TIMEOUT,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The real thing: SQLite and the key file in `data_dir` (created 0700 if missing).
    pub fn open(data_dir: &Path, public_url: impl Into<String>) -> Result<Self, StateError> {
        files::create_private_dir(data_dir).map_err(|source| StateError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let keys = Keys::load_or_create(data_dir)?;
        let store = SqliteStore::open(data_dir)?;
        tracing::debug!(data_dir = %data_dir.display(), "state opened");
        Ok(Self::new(
            Arc::new(store),
            keys,
            Arc::new(SystemClock),
            public_url,
        ))
    }

    /// Memory store and a fresh key: for tests.
    pub fn in_memory(
        public_url: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StateError> {
        Ok(Self::new(
            Arc::new(MemoryStore::new()),
            Keys::generate()?,
            clock,
            public_url,
        ))
    }

    /// Same state with another offer timeout (tests of the timeout path). Call before sharing.
    pub fn with_offer_timeout(self, timeout: Duration) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.offer_timeout = timeout;
                Self {
                    inner: Arc::new(inner),
                }
            }
            Err(inner) => {
                tracing::warn!("with_offer_timeout called on a shared state; ignored");
                Self { inner }
            }
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub fn now_unix(&self) -> u64 {
        self.inner.clock.now_unix()
    }

    /// Base URL of viewer links, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    pub fn offer_timeout(&self) -> Duration {
        self.inner.offer_timeout
    }

    /// Creates a host and a host token for it.
    pub fn issue_host_token(&self, name: &str) -> Result<IssuedHost, StateError> {
        let now = self.now_unix();
        let host_id = uuid::Uuid::new_v4().simple().to_string();
        self.store().create_host(&HostRecord {
            id: host_id.clone(),
            name: name.to_string(),
            created_at: now,
        })?;
        let token = self.issue_extra_host_token(&host_id)?;
        tracing::info!(host_id, name, "host created");
        Ok(IssuedHost { host_id, token })
    }

    /// Another token for an existing host (each one revocable on its own).
    pub fn issue_extra_host_token(&self, host_id: &str) -> Result<String, StateError> {
        let now = self.now_unix();
        let jti = uuid::Uuid::new_v4().simple().to_string();
        let claims = HostClaims {
            iss: ISSUER.to_string(),
            aud: AUDIENCE_HOST.to_string(),
            sub: host_id.to_string(),
            jti: jti.clone(),
            iat: now,
        };
        let token = self.keys().sign_host(&claims)?;
        let record = HostTokenRecord {
            jti,
            host_id: host_id.to_string(),
            created_at: now,
            revoked: false,
        };
        self.store().add_host_token(&record)?;
        Ok(token)
    }
}
