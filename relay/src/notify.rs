//! Notifications: order confirmed, failed, cancelled and shipped become notification records
//! (stored in `notifications`, in the consumer's transaction, one per order and kind) and
//! are handed to a [`Notifier`] port: [`LogNotifier`] by default, [`SmtpNotifier`] when SMTP is
//! configured. Delivery happens before the transaction commits, so a failed delivery is
//! retried (and dead-lettered after the attempts); a crash between delivery and commit can
//! repeat a delivery, never lose one.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use uuid::Uuid;

use crate::consumer::{apply_each, Handler, HandlerError};
use crate::db::Tx;
use crate::envelope::Envelope;

pub const NOTIFICATIONS: &str = "notifications";

/// What a customer is told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    OrderConfirmed,
    OrderFailed,
    OrderCancelled,
    OrderShipped,
}

impl NotificationKind {
    pub fn of_event(event_type: &str) -> Option<NotificationKind> {
        Some(match event_type {
            "order.confirmed" => NotificationKind::OrderConfirmed,
            "order.failed" => NotificationKind::OrderFailed,
            "order.cancelled" => NotificationKind::OrderCancelled,
            "order.shipped" => NotificationKind::OrderShipped,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::OrderConfirmed => "order_confirmed",
            NotificationKind::OrderFailed => "order_failed",
            NotificationKind::OrderCancelled => "order_cancelled",
            NotificationKind::OrderShipped => "order_shipped",
        }
    }

    fn message(self, order_id: Uuid) -> String {
        match self {
            NotificationKind::OrderConfirmed => format!("Your order {order_id} is confirmed."),
            NotificationKind::OrderFailed => {
                format!("Your order {order_id} could not be completed.")
            }
            NotificationKind::OrderCancelled => format!("Your order {order_id} was cancelled."),
            NotificationKind::OrderShipped => format!("Your order {order_id} has shipped."),
        }
    }
}

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// Derived from the event id, so a repeated delivery carries the same id.
    pub notification_id: Uuid,
    /// `None` for a guest order: recorded and logged, but nobody to address.
    pub customer_id: Option<Uuid>,
    /// The customer's account email, when the customer has an account.
    pub email: Option<String>,
    pub order_id: Uuid,
    pub kind: NotificationKind,
    pub message: String,
}

/// Sends a notification to the customer.
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    async fn notify(&self, notification: &Notification) -> Result<(), String>;
}

/// The default adapter: the record is already stored; this logs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), String> {
        tracing::info!(
            notification_id = %n.notification_id,
            customer_id = ?n.customer_id,
            order_id = %n.order_id,
            kind = n.kind.as_str(),
            "notification: {}", n.message
        );
        Ok(())
    }
}

/// E-mails each notification through an SMTP server: to the customer's account email, or, for a
/// guest order (or an address the mail library will not take), to one configured mailbox
/// (`NOTIFY_MAIL_TO`, e.g. a customer-service desk) naming the customer.
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Mailbox,
}

impl SmtpNotifier {
    /// `url` as lettre reads it: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`,
    /// `smtps://host:465`.
    pub fn new(url: &str, from: &str, to: &str) -> Result<SmtpNotifier, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP_URL: {e}"))?
            .build();
        Ok(SmtpNotifier {
            transport,
            from: from.parse().map_err(|e| format!("NOTIFY_MAIL_FROM: {e}"))?,
            to: to.parse().map_err(|e| format!("NOTIFY_MAIL_TO: {e}"))?,
        })
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), String> {
        let customer = n
            .customer_id
            .map_or_else(|| "guest".to_owned(), |c| c.to_string());
        let to = n
            .email
            .as_deref()
            .and_then(|e| e.parse::<Mailbox>().ok())
            .unwrap_or_else(|| self.to.clone());
        let mail = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(format!("[{}] {}", n.kind.as_str(), n.order_id))
            .body(format!("Customer: {customer}\n\n{}\n", n.message))
            .map_err(|e| format!("cannot build the mail: {e}"))?;
        self.transport
            .send(mail)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }
}

/// The notifications consumer.
pub struct NotificationHandler {
    notifier: std::sync::Arc<dyn Notifier>,
}

impl NotificationHandler {
    pub fn new(notifier: std::sync::Arc<dyn Notifier>) -> Self {
        NotificationHandler { notifier }
    }
}

#[derive(Deserialize)]
struct Placed {
    order_id: Uuid,
    customer_id: Option<Uuid>,
}

#[derive(Deserialize)]
struct OrderOnly {
    order_id: Uuid,
}

/// What one order event means to this consumer.
enum Reading {
    /// An order was placed: remember whom to tell about it.
    Placed {
        order_id: Uuid,
        customer_id: Option<Uuid>,
    },
    /// An outcome to tell the customer about.
    Due {
        order_id: Uuid,
        kind: NotificationKind,
    },
}

/// Reads `e`; `None` for events nobody is told about.
fn reading(e: &Envelope) -> Result<Option<Reading>, HandlerError> {
    let bad = |err: serde_json::Error| HandlerError::Rejected(format!("{}: {err}", e.event_type));
    if e.event_type == "order.placed" {
        let p: Placed = serde_json::from_str(&e.payload).map_err(bad)?;
        return Ok(Some(Reading::Placed {
            order_id: p.order_id,
            customer_id: p.customer_id,
        }));
    }
    let Some(kind) = NotificationKind::of_event(&e.event_type) else {
        return Ok(None);
    };
    let o: OrderOnly = serde_json::from_str(&e.payload).map_err(bad)?;
    Ok(Some(Reading::Due {
        order_id: o.order_id,
        kind,
    }))
}

/// The notification `e` calls for; its id derives from the event's, so a repeated delivery
/// carries the same id.
fn notification(
    e: &Envelope,
    order_id: Uuid,
    kind: NotificationKind,
    (customer_id, email): (Option<Uuid>, Option<String>),
) -> Notification {
    Notification {
        notification_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, e.event_id.as_bytes()),
        customer_id,
        email,
        order_id,
        kind,
        message: kind.message(order_id),
    }
}

#[async_trait]
impl Handler for NotificationHandler {
    fn name(&self) -> &'static str {
        NOTIFICATIONS
    }

    fn streams(&self) -> &'static [&'static str] {
        &["order"]
    }

    /// Recipients are inserted with `ON CONFLICT DO NOTHING`, and a notification is sent only
    /// when its record (one per order and kind) was new: a repeat records and sends nothing.
    fn deduplicates_itself(&self) -> bool {
        true
    }

    async fn apply(&self, tx: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        match reading(e)? {
            Some(Reading::Placed {
                order_id,
                customer_id,
            }) => remember_recipient(tx, order_id, customer_id).await,
            Some(Reading::Due { order_id, kind }) => {
                let n = notification(e, order_id, kind, recipient(tx, order_id).await?);
                if record(tx, &n, e.occurred_at_ms).await? {
                    self.notifier
                        .notify(&n)
                        .await
                        .map_err(HandlerError::Rejected)?;
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// On Postgres three statements per batch: the recipients of the orders placed in it, the
    /// recipients of the orders it notifies about, and the notifications (those recorded
    /// before are skipped, and not sent again). Sent in the batch's order, before the commit.
    async fn apply_batch(&self, tx: &mut Tx, batch: &[&Envelope]) -> Result<(), HandlerError> {
        let Tx::Postgres(pg) = tx else {
            return apply_each(self, tx, batch).await;
        };
        let (mut placed, mut customers) = (Vec::new(), Vec::new());
        let mut due: Vec<(&Envelope, Uuid, NotificationKind)> = Vec::new();
        for e in batch {
            match reading(e)? {
                Some(Reading::Placed {
                    order_id,
                    customer_id,
                }) => {
                    placed.push(order_id);
                    customers.push(customer_id);
                }
                Some(Reading::Due { order_id, kind }) => due.push((e, order_id, kind)),
                None => {}
            }
        }
        if !placed.is_empty() {
            sqlx::query(
                "INSERT INTO notification_recipients (order_id, customer_id) \
                 SELECT * FROM UNNEST($1::UUID[], $2::UUID[]) ON CONFLICT DO NOTHING",
            )
            .bind(&placed)
            .bind(&customers)
            .execute(&mut **pg)
            .await?;
        }
        if due.is_empty() {
            return Ok(());
        }
        let orders: Vec<Uuid> = due.iter().map(|(_, order, _)| *order).collect();
        let recipients: HashMap<Uuid, (Option<Uuid>, Option<String>)> =
            sqlx::query_as::<_, (Uuid, Option<Uuid>, Option<String>)>(
                "SELECT r.order_id, r.customer_id, a.email FROM notification_recipients r \
                 LEFT JOIN accounts a ON a.customer_id = r.customer_id \
                 WHERE r.order_id = ANY($1)",
            )
            .persistent(false)
            .bind(&orders)
            .fetch_all(&mut **pg)
            .await?
            .into_iter()
            .map(|(order, customer, email)| (order, (customer, email)))
            .collect();
        let mut notifications = Vec::with_capacity(due.len());
        let (mut ids, mut customers, mut kinds, mut messages, mut at_ms) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (e, order_id, kind) in due {
            let to = recipients.get(&order_id).cloned().unwrap_or_default();
            let n = notification(e, order_id, kind, to);
            ids.push(n.notification_id);
            customers.push(n.customer_id);
            kinds.push(kind.as_str());
            messages.push(n.message.clone());
            at_ms.push(e.occurred_at_ms);
            notifications.push(n);
        }
        let recorded: HashSet<Uuid> = sqlx::query_scalar::<_, Uuid>(
            "INSERT INTO notifications (notification_id, customer_id, order_id, kind, message, \
             created_at) \
             SELECT u.id, u.customer, u.order_id, u.kind, u.message, from_unix_ms(u.at) \
             FROM UNNEST($1::UUID[], $2::UUID[], $3::UUID[], $4::TEXT[], $5::TEXT[], $6::INT8[]) \
                  AS u(id, customer, order_id, kind, message, at) \
             ON CONFLICT DO NOTHING RETURNING notification_id",
        )
        .bind(&ids)
        .bind(&customers)
        .bind(&orders)
        .bind(&kinds)
        .bind(&messages)
        .bind(&at_ms)
        .fetch_all(&mut **pg)
        .await?
        .into_iter()
        .collect();
        for n in &notifications {
            if recorded.contains(&n.notification_id) {
                self.notifier
                    .notify(n)
                    .await
                    .map_err(HandlerError::Rejected)?;
            }
        }
        Ok(())
    }
}

async fn remember_recipient(
    tx: &mut Tx,
    order_id: Uuid,
    customer: Option<Uuid>,
) -> Result<(), HandlerError> {
    match tx {
        Tx::Postgres(tx) => {
            sqlx::query(
                "INSERT INTO notification_recipients (order_id, customer_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(order_id)
            .bind(customer)
            .execute(&mut **tx)
            .await?;
        }
        Tx::Sqlite(tx) => {
            sqlx::query(
                "INSERT INTO notification_recipients (order_id, customer_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(order_id.hyphenated().to_string())
            .bind(customer.map(|c| c.hyphenated().to_string()))
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// The order's customer, and the customer's account email if the customer has an account
/// (accounts are the customer directory; orders keep no foreign key to them).
async fn recipient(
    tx: &mut Tx,
    order_id: Uuid,
) -> Result<(Option<Uuid>, Option<String>), HandlerError> {
    const SQL: &str = "SELECT r.customer_id, a.email FROM notification_recipients r \
                       LEFT JOIN accounts a ON a.customer_id = r.customer_id WHERE r.order_id = $1";
    Ok(match tx {
        Tx::Postgres(tx) => sqlx::query_as::<_, (Option<Uuid>, Option<String>)>(SQL)
            .bind(order_id)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or_default(),
        Tx::Sqlite(tx) => {
            let (customer, email) = sqlx::query_as::<_, (Option<String>, Option<String>)>(SQL)
                .bind(order_id.hyphenated().to_string())
                .fetch_optional(&mut **tx)
                .await?
                .unwrap_or_default();
            (customer.and_then(|t| Uuid::parse_str(&t).ok()), email)
        }
    })
}

/// Stores the notification; `false` if this order already has one of this kind.
async fn record(tx: &mut Tx, n: &Notification, at_ms: i64) -> Result<bool, HandlerError> {
    let inserted = match tx {
        Tx::Postgres(tx) => sqlx::query(
            "INSERT INTO notifications (notification_id, customer_id, order_id, kind, message, \
             created_at) VALUES ($1, $2, $3, $4, $5, from_unix_ms($6)) ON CONFLICT DO NOTHING",
        )
        .bind(n.notification_id)
        .bind(n.customer_id)
        .bind(n.order_id)
        .bind(n.kind.as_str())
        .bind(&n.message)
        .bind(at_ms)
        .execute(&mut **tx)
        .await?
        .rows_affected(),
        Tx::Sqlite(tx) => sqlx::query(
            "INSERT INTO notifications (notification_id, customer_id, order_id, kind, message, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(n.notification_id.hyphenated().to_string())
        .bind(n.customer_id.map(|c| c.hyphenated().to_string()))
        .bind(n.order_id.hyphenated().to_string())
        .bind(n.kind.as_str())
        .bind(&n.message)
        .bind(at_ms)
        .execute(&mut **tx)
        .await?
        .rows_affected(),
    };
    Ok(inserted == 1)
}
