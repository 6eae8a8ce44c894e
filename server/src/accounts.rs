//! User accounts: creating one, logging in (password, optional TOTP, failure limits per
//! account and per address), sessions (only the SHA-256 of the cookie value is stored).

use std::sync::OnceLock;

use crate::audit::{kinds, Event};
use crate::error::ApiError;
use crate::secrets::{self, HashError};
use crate::state::AppState;
use crate::store::{SessionRecord, StoreError, UserRecord};
use crate::totp;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Session lifetime: 12 hours.
pub const SESSION_SECS: u64 = 12 * 60 * 60;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("user names are 1 to 64 characters: letters, digits, '.', '_', '-', '@'")]
    BadName,
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    ShortPassword,
    #[error("a user named {0:?} already exists")]
    Exists(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// A session just opened: the cookie value goes to the browser, never to the store.
pub struct NewSession {
    pub cookie_value: String,
    pub session: SessionRecord,
    pub user: UserRecord,
}

/// The login attempt, as the handler read it. No `Debug`: it holds the password.
pub struct Attempt<'a> {
    pub name: &'a str,
    pub password: &'a str,
    pub totp: Option<&'a str>,
    pub address: Option<&'a str>,
}

/// A hash to verify against when the user does not exist, so both cases take as long.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| secrets::hash_secret("not a real password").unwrap_or_default())
}

impl AppState {
    /// Creates a user with an Argon2id password hash.
    pub fn add_user(&self, name: &str, password: &str) -> Result<UserRecord, AccountError> {
        if !valid_name(name) {
            return Err(AccountError::BadName);
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AccountError::ShortPassword);
        }
        let user = UserRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            name: name.to_string(),
            password_hash: secrets::hash_secret(password)?,
            created_at: self.now_unix(),
            totp_secret: None,
        };
        match self.store().create_user(&user) {
            Err(StoreError::Duplicate(_)) => Err(AccountError::Exists(name.to_string())),
            other => other.map(|()| user).map_err(AccountError::from),
        }
    }

    /// Turns TOTP on for `name` with a fresh secret; returns the `otpauth://` URI.
    pub fn enable_totp(&self, name: &str) -> Result<String, AccountError> {
        let user = self
            .store()
            .get_user_by_name(name)?
            .ok_or_else(|| AccountError::NoSuchUser(name.to_string()))?;
        let secret = totp::new_secret();
        self.store().set_user_totp(&user.id, Some(&secret))?;
        Ok(totp::otpauth_uri(&user.name, &secret))
    }

    /// Checks the limits, the password and the second factor; opens a session on success.
    pub fn login(&self, attempt: &Attempt<'_>) -> Result<NewSession, ApiError> {
        let now = self.now_unix();
        let (per_account, per_address) = self.login_limiters();
        let address_key = attempt.address.unwrap_or("unknown");
        let locked = per_address
            .check(address_key, now)
            .and_then(|()| per_account.check(attempt.name, now));
        if let Err(l) = locked {
            self.login_refused(attempt, kinds::LOGIN_LOCKED, "locked");
            return Err(ApiError::LoginLocked {
                retry_after: l.retry_after,
            });
        }
        let user = self.store().get_user_by_name(attempt.name)?;
        let hash = user
            .as_ref()
            .map_or(dummy_hash(), |u| u.password_hash.as_str());
        let password_ok = secrets::verify_secret(attempt.password, hash) && user.is_some();
        let user = match user {
            Some(user) if password_ok => user,
            _ => {
                let refused = ApiError::InvalidCredentials;
                return Err(self.login_failed(attempt, now, "bad password or user", refused));
            }
        };
        if let Some(secret) = &user.totp_secret {
            match attempt.totp {
                None => return Err(ApiError::TotpRequired),
                Some(code) if !totp::verify(secret, code, now) => {
                    return Err(self.login_failed(attempt, now, "bad code", ApiError::TotpInvalid));
                }
                Some(_) => {}
            }
        }
        per_account.succeed(attempt.name);
        let session = self.open_session(&user, now)?;
        tracing::info!(user = %user.name, address = attempt.address, "login");
        self.audit(
            Event::new(kinds::LOGIN_OK)
                .actor(format!("user:{}", user.name))
                .address(attempt.address.map(str::to_string)),
        );
        Ok(session)
    }

    fn open_session(&self, user: &UserRecord, now: u64) -> Result<NewSession, ApiError> {
        let purged = self.store().delete_expired_sessions(now)?;
        if purged > 0 {
            tracing::debug!(purged, "expired sessions deleted");
        }
        let cookie_value = secrets::random_token();
        let session = SessionRecord {
            id_hash: secrets::sha256_hex(cookie_value.as_bytes()),
            user_id: user.id.clone(),
            csrf_token: secrets::random_token(),
            created_at: now,
            expires_at: now + SESSION_SECS,
        };
        self.store().create_session(&session)?;
        Ok(NewSession {
            cookie_value,
            session,
            user: user.clone(),
        })
    }

    /// Counts a failure against the account and the address; returns `refused`, or
    /// `LoginLocked` when this failure locked the account or the address.
    fn login_failed(
        &self,
        attempt: &Attempt<'_>,
        now: u64,
        why: &str,
        refused: ApiError,
    ) -> ApiError {
        let (per_account, per_address) = self.login_limiters();
        let by_address = per_address.fail(attempt.address.unwrap_or("unknown"), now);
        let by_account = per_account.fail(attempt.name, now);
        match by_account.or(by_address) {
            Some(l) => {
                self.login_refused(attempt, kinds::LOGIN_LOCKED, why);
                ApiError::LoginLocked {
                    retry_after: l.retry_after,
                }
            }
            None => {
                self.login_refused(attempt, kinds::LOGIN_FAILED, why);
                refused
            }
        }
    }

    fn login_refused(&self, attempt: &Attempt<'_>, kind: &'static str, why: &str) {
        tracing::warn!(
            user = attempt.name,
            address = attempt.address,
            why,
            kind,
            "login refused"
        );
        self.audit(
            Event::new(kind)
                .actor(format!(
                    "user:{}",
                    attempt.name.chars().take(64).collect::<String>()
                ))
                .address(attempt.address.map(str::to_string))
                .detail(serde_json::json!({ "reason": why })),
        );
    }
}
