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

/// Where the sandbox's shipment of an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SandboxShipment {
    Requested,
    Withdrawn,
}

/// A shipping provider in test mode: every request gets a shipment id derived from the order, so
/// asking twice for one order yields the same shipment; a cancellation withdraws it, and a later
/// request puts it back.
#[derive(Default)]
pub struct SandboxShipping {
    shipments: DashMap<OrderId, SandboxShipment>,
}

impl SandboxShipping {
    pub fn new() -> Self {
        SandboxShipping::default()
    }

    /// What the sandbox knows of the order's shipment (`None`: never asked, or forgotten past
    /// its bound).
    pub fn shipment(&self, order_id: OrderId) -> Option<SandboxShipment> {
        self.shipments.get(&order_id).map(|s| *s)
    }

    fn remember_requested(&self, order_id: OrderId) {
        if self.shipments.contains_key(&order_id) || self.shipments.len() < SANDBOX_RECORDS_MAX {
            self.shipments.insert(order_id, SandboxShipment::Requested);
        }
    }
}

#[async_trait]
impl ShippingGateway for SandboxShipping {
    async fn request_shipment(
        &self,
        order_id: OrderId,
        _order: &Order,
    ) -> Result<ShipmentId, GatewayError> {
        let shipment = ShipmentId::parse(&format!("shp_{order_id}"))
            .map_err(|e| GatewayError::Failed(e.to_string()))?;
        self.remember_requested(order_id);
        Ok(shipment)
    }

    async fn cancel_shipment(&self, order_id: OrderId) -> Result<(), GatewayError> {
        if let Some(mut shipment) = self.shipments.get_mut(&order_id) {
            *shipment = SandboxShipment::Withdrawn;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        Order::new(OrderId::from_u128(7))
    }

    #[tokio::test]
    async fn a_shipment_is_one_per_order_and_a_cancellation_withdraws_it_until_asked_again() {
        let shipping = SandboxShipping::new();
        let id = OrderId::from_u128(7);
        shipping
            .cancel_shipment(id)
            .await
            .expect("nothing to withdraw is no error");
        assert_eq!(shipping.shipment(id), None);
        let first = shipping
            .request_shipment(id, &order())
            .await
            .expect("requested");
        let again = shipping
            .request_shipment(id, &order())
            .await
            .expect("requested");
        assert_eq!(first, again);
        assert_eq!(shipping.shipment(id), Some(SandboxShipment::Requested));
        shipping.cancel_shipment(id).await.expect("withdrawn");
        shipping.cancel_shipment(id).await.expect("withdrawn twice");
        assert_eq!(shipping.shipment(id), Some(SandboxShipment::Withdrawn));
        shipping
            .request_shipment(id, &order())
            .await
            .expect("requested");
        assert_eq!(shipping.shipment(id), Some(SandboxShipment::Requested));
    }
}
