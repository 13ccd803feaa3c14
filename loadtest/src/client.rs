//! A thin client of the commerce HTTP API over one pooled keep-alive `reqwest::Client`.
//!
//! Every call returns the status and the parsed JSON body (or `Null`), so callers classify
//! answers themselves; only a missing answer is an `Err`.

use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Value};

use crate::limits::{POOL_IDLE_PER_HOST_MAX, REQUEST_TIMEOUT_MS};

/// The shipping address every synthetic buyer uses: valid for the server's limits.
pub fn shipping_address() -> Value {
    json!({
        "name": "Load Tester",
        "line1": "1 Benchmark Road",
        "city": "London",
        "postal_code": "N1 7AA",
        "country": "GB"
    })
}

/// The body of a cart checkout; a pure function of its inputs so a replay sends the same bytes.
pub fn checkout_body(payment_token: &str) -> Value {
    json!({ "payment_token": payment_token, "shipping_address": shipping_address() })
}

/// The body of a buy-now order.
pub fn buy_now_body(lines: &[(String, u32)], payment_token: &str) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, q)| json!({ "sku": sku, "quantity": q }))
        .collect();
    json!({ "lines": lines, "payment_token": payment_token, "shipping_address": shipping_address() })
}

/// One HTTP answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The problem+json `code`, if the body has one.
    pub fn code(&self) -> Option<&str> {
        self.body.get("code").and_then(Value::as_str)
    }

    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    /// Without a trailing slash, e.g. `http://127.0.0.1:8080`.
    base_url: String,
    /// The bearer header value, built once; `None` when no admin token was given.
    admin: Option<HeaderValue>,
}

impl Api {
    pub fn new(base_url: &str, admin_token: Option<&str>) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST_MAX)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .build()?;
        let admin = match admin_token {
            Some(t) => Some(HeaderValue::from_str(&format!("Bearer {t}"))?),
            None => None,
        };
        Ok(Api {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            admin,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends one request. `idempotency_key` adds the header; `admin` adds the bearer token.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
        admin: bool,
    ) -> Result<Answer, reqwest::Error> {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base_url, path));
        if let Some(b) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        if admin {
            if let Some(h) = &self.admin {
                req = req.header(AUTHORIZATION, h.clone());
            }
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        // A non-JSON body (an HTML error page, an empty 204) is kept as Null: the status says enough.
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }

    pub async fn get(&self, path: &str) -> Result<Answer, reqwest::Error> {
        self.send(Method::GET, path, None, None, false).await
    }

    /// A GET of an admin route, with the admin token.
    pub async fn get_admin(&self, path: &str) -> Result<Answer, reqwest::Error> {
        self.send(Method::GET, path, None, None, true).await
    }

    /// A GET of an admin route whose answer is text (`/metrics`): the status and the body.
    pub async fn get_admin_text(&self, path: &str) -> Result<(u16, String), reqwest::Error> {
        let mut req = self.http.get(format!("{}{}", self.base_url, path));
        if let Some(h) = &self.admin {
            req = req.header(AUTHORIZATION, h.clone());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await?))
    }

    pub async fn put_product(
        &self,
        sku: &str,
        name: &str,
        price_minor: i64,
    ) -> Result<Answer, reqwest::Error> {
        let body = json!({ "name": name, "price": { "amount": price_minor, "currency": "USD" } });
        self.send(
            Method::PUT,
            &format!("/v1/products/{sku}"),
            Some(&body),
            None,
            true,
        )
        .await
    }

    pub async fn restock(&self, sku: &str, quantity: u64) -> Result<Answer, reqwest::Error> {
        let body = json!({ "quantity": quantity });
        self.send(
            Method::POST,
            &format!("/v1/inventory/{sku}/restock"),
            Some(&body),
            None,
            true,
        )
        .await
    }

    pub async fn inventory(&self, sku: &str) -> Result<Answer, reqwest::Error> {
        self.get(&format!("/v1/inventory/{sku}")).await
    }

    pub async fn create_cart(&self) -> Result<Answer, reqwest::Error> {
        self.send(Method::POST, "/v1/carts", Some(&json!({})), None, false)
            .await
    }

    pub async fn add_item(
        &self,
        cart: &str,
        sku: &str,
        quantity: u32,
    ) -> Result<Answer, reqwest::Error> {
        let body = json!({ "sku": sku, "quantity": quantity });
        self.send(
            Method::POST,
            &format!("/v1/carts/{cart}/items"),
            Some(&body),
            None,
            false,
        )
        .await
    }

    pub async fn set_quantity(
        &self,
        cart: &str,
        sku: &str,
        quantity: u32,
    ) -> Result<Answer, reqwest::Error> {
        let body = json!({ "quantity": quantity });
        self.send(
            Method::PUT,
            &format!("/v1/carts/{cart}/items/{sku}"),
            Some(&body),
            None,
            false,
        )
        .await
    }

    pub async fn remove_item(&self, cart: &str, sku: &str) -> Result<Answer, reqwest::Error> {
        self.send(
            Method::DELETE,
            &format!("/v1/carts/{cart}/items/{sku}"),
            None,
            None,
            false,
        )
        .await
    }

    pub async fn checkout(
        &self,
        cart: &str,
        key: &str,
        payment_token: &str,
    ) -> Result<Answer, reqwest::Error> {
        let body = checkout_body(payment_token);
        self.send(
            Method::POST,
            &format!("/v1/carts/{cart}/checkout"),
            Some(&body),
            Some(key),
            false,
        )
        .await
    }

    pub async fn buy_now(
        &self,
        key: &str,
        lines: &[(String, u32)],
        payment_token: &str,
    ) -> Result<Answer, reqwest::Error> {
        let body = buy_now_body(lines, payment_token);
        self.send(Method::POST, "/v1/orders", Some(&body), Some(key), false)
            .await
    }

    /// Polls `path` until it answers 2xx or `timeout` passes.
    pub async fn wait_ready(&self, path: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.get(path).await {
                Ok(a) if a.is_success() => return Ok(()),
                Ok(a) if tokio::time::Instant::now() >= deadline => {
                    anyhow::bail!(
                        "{}{path} still answers {} after {timeout:?}",
                        self.base_url,
                        a.status
                    )
                }
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    anyhow::bail!(
                        "{}{path} not reachable after {timeout:?}: {e}",
                        self.base_url
                    )
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}
