//! `AppState`: what every handler shares (store, keys, hub, clock, limiters, settings), cheap to
//! clone.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use deskbeam_proto::token::{HostClaims, AUDIENCE_HOST, ISSUER};

use crate::audit::{kinds, Event};
use crate::clock::{Clock, SystemClock};
use crate::files;
use crate::hub::Hub;
use crate::limits::FailureLimiter;
use crate::store::{HostRecord, HostTokenRecord, MemoryStore, SqliteStore, Store, StoreError};
use crate::tokens::{Keys, TokenError};

/// How long a WHEP request waits for the agent's answer.
pub const DEFAULT_OFFER_TIMEOUT: Duration = Duration::from_secs(15);
/// Wrong PINs before a link's PIN locks, and for how long (seconds).
pub const PIN_MAX_FAILURES: usize = 5;
pub const PIN_LOCK_SECS: u64 = 15 * 60;
/// Failed logins per account / per address within the window before login locks.
pub const LOGIN_MAX_PER_ACCOUNT: usize = 5;
pub const LOGIN_MAX_PER_ADDRESS: usize = 20;
pub const LOGIN_WINDOW_SECS: u64 = 15 * 60;

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
    /// Honour `X-Forwarded-For` (only behind a reverse proxy that sets it).
    trust_proxy: bool,
    /// Served over TLS: cookies get `Secure`.
    secure_cookies: bool,
    pin_limiter: FailureLimiter,
    login_account: FailureLimiter,
    login_address: FailureLimiter,
    /// STUN/TURN servers and TURN credentials for agents and viewers (none: host candidates only).
    ice: Option<crate::turn::IceIssuer>,
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
            trust_proxy: false,
            secure_cookies: false,
            pin_limiter: FailureLimiter::new(PIN_MAX_FAILURES, PIN_LOCK_SECS),
            login_account: FailureLimiter::new(LOGIN_MAX_PER_ACCOUNT, LOGIN_WINDOW_SECS),
            login_address: FailureLimiter::new(LOGIN_MAX_PER_ADDRESS, LOGIN_WINDOW_SECS),
            ice: None,
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
        self.configure(|inner| inner.offer_timeout = timeout)
    }

    /// Same state honouring `X-Forwarded-For` or not. Call before sharing.
    pub fn with_trust_proxy(self, trust: bool) -> Self {
        self.configure(|inner| inner.trust_proxy = trust)
    }

    /// Same state marking cookies `Secure` (served over TLS) or not. Call before sharing.
    pub fn with_secure_cookies(self, secure: bool) -> Self {
        self.configure(|inner| inner.secure_cookies = secure)
    }

    /// Same state handing out ICE servers from `issuer`. Call before sharing.
    pub fn with_ice(self, issuer: crate::turn::IceIssuer) -> Self {
        self.configure(|inner| inner.ice = Some(issuer))
    }

    /// ICE servers with fresh TURN credentials for `id` (a viewer or a host); only call this
    /// for a caller that showed a valid token.
    pub fn ice_servers(&self, id: &str) -> deskbeam_proto::ice::IceServerList {
        match &self.inner.ice {
            Some(issuer) => issuer.issue(id, self.now_unix()),
            None => deskbeam_proto::ice::IceServerList { ice_servers: Vec::new(), expires_at: self.now_unix() },
        }
    }

    fn configure(self, change: impl FnOnce(&mut Inner)) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                change(&mut inner);
                Self {
                    inner: Arc::new(inner),
                }
            }
            Err(inner) => {
                tracing::warn!("settings changed on a shared state; ignored");
                Self { inner }
            }
        }
    }

    pub fn trust_proxy(&self) -> bool {
        self.inner.trust_proxy
    }

    pub fn secure_cookies(&self) -> bool {
        self.inner.secure_cookies
    }

    /// Wrong-PIN counter, keyed by link id.
    pub fn pin_limiter(&self) -> &FailureLimiter {
        &self.inner.pin_limiter
    }

    /// Failed-login counters: per account name, per client address.
    pub fn login_limiters(&self) -> (&FailureLimiter, &FailureLimiter) {
        (&self.inner.login_account, &self.inner.login_address)
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

    /// Creates a host (owned by `owner`, a user id, if given) and a host token for it.
    pub fn issue_host_token(&self, name: &str) -> Result<IssuedHost, StateError> {
        self.issue_owned_host_token(name, None)
    }

    /// [`Self::issue_host_token`] for a host bound to a user account.
    pub fn issue_owned_host_token(
        &self,
        name: &str,
        owner: Option<&str>,
    ) -> Result<IssuedHost, StateError> {
        let now = self.now_unix();
        let host_id = uuid::Uuid::new_v4().simple().to_string();
        self.store().create_host(&HostRecord {
            id: host_id.clone(),
            name: name.to_string(),
            created_at: now,
            owner: owner.map(str::to_string),
        })?;
        let token = self.issue_extra_host_token(&host_id)?;
        tracing::info!(host_id, name, "host created");
        self.audit(
            Event::new(kinds::HOST_ENROLLED)
                .actor("cli")
                .host(&host_id)
                .detail(serde_json::json!({ "name": name, "owner": owner })),
        );
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
