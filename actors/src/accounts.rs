//! Shoppers' accounts: sign-up, login sessions with bearer tokens, logout, and who a token is.
//!
//! Accounts are not actors. They change rarely, are never contended, and hold no stock or money,
//! so a row per account and per session in the store is the whole model; the actors only carry
//! the resulting `CustomerId` on carts and orders.
//!
//! Passwords are hashed with Argon2id (memory-hard, so a stolen table is expensive to attack).
//! Hashing is deliberately slow and CPU-bound, so it runs on the blocking pool behind a
//! semaphore of `hashes_in_flight_max`: a flood of logins queues for at most `hash_wait_max` and
//! is then refused as overloaded, instead of starving the checkout traffic of both cores.
//!
//! Tokens are 244 random bits (two v4 UUIDs from the OS generator). Only their SHA-256 digest is
//! stored; sessions expire after `session_ttl` and logout deletes them. A bounded in-memory
//! cache of sessions keeps token checks off the database on the hot path; logout evicts from it.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use dashmap::DashMap;
use domain::{CustomerId, Email, Password, Timestamp};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::error::AppError;
use crate::ports::{AccountCreated, AccountRecord, Clock, SessionRecord, Store};

/// Sessions kept in the in-memory cache; beyond it the cache is emptied and refills from the
/// store, so memory stays bounded whatever the number of shoppers logged in.
pub const SESSION_CACHE_MAX: usize = 100_000;

/// Settings of the accounts use cases.
#[derive(Clone, Debug)]
pub struct AccountsConfig {
    /// How long a login token stays valid.
    pub session_ttl: Duration,
    /// Live sessions one account may hold (devices); older ones are revoked beyond it.
    pub sessions_per_account_max: u32,
    /// Password hashes computed at once; each takes one core and Argon2's memory for tens of ms.
    pub hashes_in_flight_max: usize,
    /// How long a sign-up or login waits for a hashing slot before it is refused as overloaded.
    pub hash_wait_max: Duration,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            session_ttl: Duration::from_secs(24 * 60 * 60),
            sessions_per_account_max: 20,
            hashes_in_flight_max: 2,
            hash_wait_max: Duration::from_secs(2),
        }
    }
}

/// An account as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub customer: CustomerId,
    pub email: Email,
    pub created_at: Timestamp,
}

/// A new login: the token is shown once, to the shopper who logged in.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    pub token: String,
    pub customer: CustomerId,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("token", &"<redacted>")
            .field("customer", &self.customer)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The accounts use cases. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<AccountsInner>,
}

struct AccountsInner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: AccountsConfig,
    /// Bounds the hashes computed at once (see the module doc).
    hashing: Semaphore,
    /// Token digest to session, for sessions seen recently. Entries are checked for expiry on
    /// every use, so a cached session never outlives its `expires_at`.
    sessions: DashMap<String, SessionRecord>,
    /// A hash of a random password, verified when the email is unknown so that an unknown email
    /// and a wrong password take the same time and cannot be told apart.
    decoy_hash: String,
}

impl Accounts {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: AccountsConfig) -> Accounts {
        let decoy = uuid::Uuid::new_v4().simple().to_string();
        // Hashing a fixed-size ASCII string with default parameters cannot fail; should it ever,
        // the decoy stays empty and unknown emails answer faster, which leaks only timing.
        let decoy_hash = hash_password(&decoy).unwrap_or_default();
        let permits = config.hashes_in_flight_max.max(1);
        Accounts {
            inner: Arc::new(AccountsInner {
                store,
                clock,
                hashing: Semaphore::new(permits),
                sessions: DashMap::new(),
                decoy_hash,
                config,
            }),
        }
    }

    /// Creates an account; the email must be free.
    pub async fn sign_up(&self, email: Email, password: Password) -> Result<Account, AppError> {
        let hash = self
            .hashing(move || hash_password(password.expose()))
            .await?
            .map_err(AppError::Internal)?;
        let record = AccountRecord {
            customer: CustomerId::from_u128(uuid::Uuid::new_v4().as_u128()),
            email,
            password_hash: hash,
            created_at: self.inner.clock.now(),
        };
        match self.inner.store.create_account(&record).await? {
            AccountCreated::Created => Ok(account(record)),
            AccountCreated::EmailTaken => Err(AppError::EmailTaken),
        }
    }

    /// Checks the credentials; the same error for an unknown email and a wrong password.
    pub async fn verify(&self, email: &Email, password: Password) -> Result<Account, AppError> {
        let found = self.inner.store.account_by_email(email).await?;
        let hash = match &found {
            Some(record) => record.password_hash.clone(),
            None => self.inner.decoy_hash.clone(),
        };
        let matches = self
            .hashing(move || verify_password(password.expose(), &hash))
            .await?;
        match found {
            Some(record) if matches => Ok(account(record)),
            _ => Err(AppError::InvalidCredentials),
        }
    }

    /// Opens a session for a verified account.
    pub async fn open_session(&self, customer: CustomerId) -> Result<NewSession, AppError> {
        let token = new_token();
        let now = self.inner.clock.now();
        let ttl_ms = i64::try_from(self.inner.config.session_ttl.as_millis()).unwrap_or(i64::MAX);
        let record = SessionRecord {
            token_digest: token_digest(&token),
            customer,
            created_at: now,
            expires_at: now.plus_ms(ttl_ms),
        };
        let max = self.inner.config.sessions_per_account_max.max(1);
        self.inner.store.create_session(&record, max).await?;
        Ok(NewSession {
            token,
            customer,
            expires_at: record.expires_at,
        })
    }

    /// Who holds this token: an unknown, revoked or expired token is `Unauthenticated`.
    pub async fn authenticate(&self, token: &str) -> Result<CustomerId, AppError> {
        let digest = token_digest(token);
        let now = self.inner.clock.now();
        if let Some(session) = self.inner.sessions.get(&digest).map(|s| s.clone()) {
            if session.expires_at > now {
                return Ok(session.customer);
            }
            self.inner.sessions.remove(&digest);
            return Err(AppError::Unauthenticated);
        }
        let session = self
            .inner
            .store
            .session(&digest, now)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if self.inner.sessions.len() >= SESSION_CACHE_MAX {
            self.inner.sessions.clear();
        }
        let customer = session.customer;
        self.inner.sessions.insert(digest, session);
        Ok(customer)
    }

    /// Revokes the session of this token.
    pub async fn log_out(&self, token: &str) -> Result<(), AppError> {
        let digest = token_digest(token);
        self.inner.store.delete_session(&digest).await?;
        self.inner.sessions.remove(&digest);
        Ok(())
    }

    pub async fn account(&self, customer: CustomerId) -> Result<Account, AppError> {
        let record = self.inner.store.account(customer).await?;
        record.map(account).ok_or(AppError::Unauthenticated)
    }

    /// Runs a hashing job on the blocking pool once a slot is free, or refuses it as overloaded
    /// after `hash_wait_max`.
    async fn hashing<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let wait = self.inner.config.hash_wait_max;
        let permit = tokio::time::timeout(wait, self.inner.hashing.acquire())
            .await
            .map_err(|_| AppError::Busy("password hashing"))?
            .map_err(|_| AppError::Busy("password hashing"))?;
        let result = tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")));
        drop(permit);
        result
    }
}

fn account(record: AccountRecord) -> Account {
    Account {
        customer: record.customer,
        email: record.email,
        created_at: record.created_at,
    }
}

fn hash_password(password: &str) -> Result<String, String> {
    let salt_bytes = *uuid::Uuid::new_v4().as_bytes();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| format!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| format!("password hashing failed: {e}"))
}

/// Whether `password` matches the PHC string `hash`; an unparseable hash matches nothing.
fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

fn new_token() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("{a}{b}")
}

/// The SHA-256 of a token, hex: what the store keeps in place of the token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_own_password() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery ", &hash));
        assert!(!verify_password(
            "correct horse battery",
            "not a phc string"
        ));
    }

    #[test]
    fn the_same_password_gets_a_different_salt_each_time() {
        let a = hash_password("same password").expect("hash");
        let b = hash_password("same password").expect("hash");
        assert_ne!(a, b);
    }

    #[test]
    fn tokens_are_long_random_and_stored_only_as_digests() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        let digest = token_digest(&a);
        assert_eq!(digest.len(), 64);
        assert_ne!(digest, a);
        assert_eq!(digest, token_digest(&a));
    }

    #[test]
    fn new_sessions_never_print_their_token() {
        let session = NewSession {
            token: "secret-token".to_owned(),
            customer: CustomerId::from_u128(1),
            expires_at: Timestamp::from_unix_ms(0),
        };
        assert!(!format!("{session:?}").contains("secret-token"));
    }
}
