//! Accounts and sessions on Postgres.

use actors::ports::{AccountCreated, AccountRecord, SessionRecord, StoreError};
use domain::{CustomerId, Email, Timestamp};

use super::{uuid, PgStore};
use crate::convert::corrupt;
use crate::error;

type AccountRow = (uuid::Uuid, String, String, i64);

fn account(row: AccountRow) -> Result<AccountRecord, StoreError> {
    let (customer, email, password_hash, created_at) = row;
    Ok(AccountRecord {
        customer: CustomerId::from_u128(customer.as_u128()),
        email: Email::parse(&email).map_err(|e| corrupt("email", e))?,
        password_hash,
        created_at: Timestamp::from_unix_ms(created_at),
    })
}

const SELECT_ACCOUNT: &str =
    "SELECT customer_id, email, password_hash, unix_ms(created_at) FROM accounts";

impl PgStore {
    pub(super) async fn insert_account(
        &self,
        a: &AccountRecord,
    ) -> Result<AccountCreated, StoreError> {
        // ON CONFLICT on the email alone: a clash of random customer ids is a bug and must fail.
        let inserted = sqlx::query(
            "INSERT INTO accounts (customer_id, email, password_hash, created_at)
             VALUES ($1, $2, $3, from_unix_ms($4))
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(uuid(a.customer.as_u128()))
        .bind(a.email.as_str())
        .bind(&a.password_hash)
        .bind(a.created_at.unix_ms())
        .execute(&self.pool)
        .await
        .map_err(error::map)?;
        Ok(match inserted.rows_affected() {
            0 => AccountCreated::EmailTaken,
            _ => AccountCreated::Created,
        })
    }

    pub(super) async fn select_account_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let row: Option<AccountRow> = sqlx::query_as(&format!("{SELECT_ACCOUNT} WHERE email = $1"))
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(error::map)?;
        row.map(account).transpose()
    }

    pub(super) async fn select_account(
        &self,
        customer: CustomerId,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let row: Option<AccountRow> =
            sqlx::query_as(&format!("{SELECT_ACCOUNT} WHERE customer_id = $1"))
                .bind(uuid(customer.as_u128()))
                .fetch_optional(&self.pool)
                .await
                .map_err(error::map)?;
        row.map(account).transpose()
    }

    pub(super) async fn insert_session(
        &self,
        s: &SessionRecord,
        per_account_max: u32,
    ) -> Result<(), StoreError> {
        let customer = uuid(s.customer.as_u128());
        let mut tx = self.pool.begin().await.map_err(error::map)?;
        sqlx::query(
            "DELETE FROM sessions WHERE customer_id = $1 AND expires_at <= from_unix_ms($2)",
        )
        .bind(customer)
        .bind(s.created_at.unix_ms())
        .execute(&mut *tx)
        .await
        .map_err(error::map)?;
        sqlx::query(
            "INSERT INTO sessions (token_digest, customer_id, created_at, expires_at)
             VALUES ($1, $2, from_unix_ms($3), from_unix_ms($4))",
        )
        .bind(&s.token_digest)
        .bind(customer)
        .bind(s.created_at.unix_ms())
        .bind(s.expires_at.unix_ms())
        .execute(&mut *tx)
        .await
        .map_err(error::map)?;
        sqlx::query(
            "DELETE FROM sessions WHERE customer_id = $1 AND token_digest NOT IN (
                 SELECT token_digest FROM sessions WHERE customer_id = $1
                 ORDER BY created_at DESC, token_digest LIMIT $2)",
        )
        .bind(customer)
        .bind(i64::from(per_account_max))
        .execute(&mut *tx)
        .await
        .map_err(error::map)?;
        tx.commit().await.map_err(error::map)
    }

    pub(super) async fn select_session(
        &self,
        token_digest: &str,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<(uuid::Uuid, i64, i64)> = sqlx::query_as(
            "SELECT customer_id, unix_ms(created_at), unix_ms(expires_at) FROM sessions
             WHERE token_digest = $1 AND expires_at > from_unix_ms($2)",
        )
        .bind(token_digest)
        .bind(now.unix_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(error::map)?;
        Ok(row.map(|(customer, created_at, expires_at)| SessionRecord {
            token_digest: token_digest.to_owned(),
            customer: CustomerId::from_u128(customer.as_u128()),
            created_at: Timestamp::from_unix_ms(created_at),
            expires_at: Timestamp::from_unix_ms(expires_at),
        }))
    }

    pub(super) async fn remove_session(&self, token_digest: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_digest = $1")
            .bind(token_digest)
            .execute(&self.pool)
            .await
            .map_err(error::map)?;
        Ok(())
    }
}
