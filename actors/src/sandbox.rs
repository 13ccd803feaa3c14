//! Sandbox payment and shipping adapters that behave like a provider's test mode. They keep their
//! idempotency records in memory: a real provider keeps them on its side, and the saga persists
//! the outcome it got before moving on, so a restart only loses the sandbox's own memory.

use crate::ports::{Authorization, GatewayError, PaymentGateway, ShippingGateway};
use async_trait::async_trait;
use dashmap::DashMap;
use domain::{Money, Order, OrderId, PaymentId, ShipmentId};
use std::time::Duration;

/// Test tokens, as documented in the README.
pub const TOKEN_APPROVE: &str = "tok_visa";
pub const TOKEN_DECLINE: &str = "tok_decline";
pub const TOKEN_TIMEOUT: &str = "tok_timeout";

/// Upper bound of remembered authorizations, so the sandbox cannot grow without limit.
const SANDBOX_RECORDS_MAX: usize = 1_000_000;

/// A payment provider in test mode: `tok_visa` approves, `tok_decline` declines, `tok_timeout`
/// never answers within `timeout`; any other token is declined as unknown.
pub struct SandboxPayments {
    timeout: Duration,
    authorizations: DashMap<OrderId, Authorization>,
}

impl SandboxPayments {
    pub fn new(timeout: Duration) -> Self {
        SandboxPayments {
            timeout,
            authorizations: DashMap::new(),
        }
    }
}

#[async_trait]
impl PaymentGateway for SandboxPayments {
    async fn authorize(
        &self,
        order_id: OrderId,
        _amount: Money,
        token: &str,
    ) -> Result<Authorization, GatewayError> {
        if let Some(previous) = self.authorizations.get(&order_id) {
            return Ok(previous.clone());
        }
        let answer = match token {
            TOKEN_APPROVE => Authorization::Approved {
                payment_id: PaymentId::from_u128(uuid::Uuid::new_v4().as_u128()),
            },
            TOKEN_DECLINE => Authorization::Declined {
                reason: "card_declined".into(),
            },
            TOKEN_TIMEOUT => {
                // The provider hangs; the caller's timeout is what ends the wait.
                tokio::time::sleep(self.timeout).await;
                return Err(GatewayError::Timeout);
            }
            _ => Authorization::Declined {
                reason: "unknown_payment_token".into(),
            },
        };
        if self.authorizations.len() < SANDBOX_RECORDS_MAX {
            self.authorizations.insert(order_id, answer.clone());
        }
        Ok(answer)
    }

    async fn void(
        &self,
        order_id: OrderId,
        _payment_id: Option<PaymentId>,
    ) -> Result<(), GatewayError> {
        // A voided authorization is gone; a later authorize for the order starts afresh.
        self.authorizations.remove(&order_id);
        Ok(())
    }
}

/// A shipping provider in test mode: every request gets a shipment id derived from the order, so
/// asking twice for one order yields the same shipment.
#[derive(Default)]
pub struct SandboxShipping;

#[async_trait]
impl ShippingGateway for SandboxShipping {
    async fn request_shipment(
        &self,
        order_id: OrderId,
        _order: &Order,
    ) -> Result<ShipmentId, GatewayError> {
        ShipmentId::parse(&format!("shp_{order_id}"))
            .map_err(|e| GatewayError::Failed(e.to_string()))
    }
}
