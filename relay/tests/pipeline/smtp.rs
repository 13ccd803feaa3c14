//! The SMTP notifier against a real SMTP server: Debian's aiosmtpd (an RFC 5321 server),
//! listening on a local port and storing what it receives in a Maildir. Orders placed by the
//! runtime flow through the embedded pipeline to the notifications consumer, which mails each
//! outcome once through lettre; the test then reads the mails the server stored.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use relay::{ConsumerConfig, Pipeline, SmtpNotifier};
use tokio::sync::watch;

use crate::harness::*;

/// Debian's interpreter, which has the `python3-aiosmtpd` package (`scripts/test.sh` installs
/// it); a `python3` earlier on PATH (pyenv) may not.
const PYTHON: &str = "/usr/bin/python3";

/// A running aiosmtpd that stores every message it accepts in a Maildir. Killed on drop.
struct MailServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl MailServer {
    async fn start() -> MailServer {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            probe.local_addr().expect("address").port()
        };
        let maildir = std::env::temp_dir().join(format!("smtp-{}", uuid::Uuid::new_v4()));
        let child = Command::new(PYTHON)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts (scripts/test.sh installs python3-aiosmtpd)");
        let server = MailServer {
            child,
            port,
            maildir,
        };
        let up = eventually(Duration::from_secs(15), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(up, "aiosmtpd did not listen on {port}");
        server
    }

    /// The messages stored so far (the Maildir's `new/`), as text.
    fn mails(&self) -> Vec<String> {
        read_dir_texts(&self.maildir.join("new"))
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

fn read_dir_texts(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect()
}

/// Orders confirmed and failed reach the mail server as one mail each, from the configured
/// sender, with the outcome and the order id in the subject and the customer in the body: to the
/// customer's account email when the customer has an account, else to the configured mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_outcomes_are_mailed_through_a_real_smtp_server() {
    let mail = MailServer::start().await;
    let world = World::new(Backend::Postgres).await;
    let notifier = SmtpNotifier::new(
        &format!("smtp://127.0.0.1:{}", mail.port),
        "Shop <shop@example.com>",
        "orders@example.com",
    )
    .expect("notifier");
    let (stop_tx, stop_rx) = watch::channel(false);
    let settings = pipeline_settings(None, ConsumerConfig::default(), Arc::new(notifier));
    let pipeline = Pipeline::start(world.db.clone(), settings, stop_rx).expect("pipeline");

    let sku = world.stock("MAIL-1", 5).await;
    let account = world
        .commerce
        .accounts()
        .sign_up(
            domain::Email::parse("Ann@Example.com").expect("email"),
            domain::Password::parse("correct horse battery").expect("password"),
        )
        .await
        .expect("sign up");
    let ann = account.customer;
    let stranger = customer();
    let confirmed = world.buy(ann, &sku, "tok_visa").await;
    let failed = world.buy(stranger, &sku, "tok_decline").await;

    let arrived = eventually(Duration::from_secs(30), || async {
        mail.mails().len() >= 2
    })
    .await;
    // A moment more: a duplicate mail would arrive now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = mail.mails();
    assert!(arrived, "two mails arrived: {mails:?}");
    assert_eq!(mails.len(), 2, "one mail per outcome: {mails:?}");
    for (kind, order, customer, to) in [
        ("order_confirmed", confirmed, ann, "ann@example.com"),
        ("order_failed", failed, stranger, "orders@example.com"),
    ] {
        let found = mails
            .iter()
            .find(|m| m.contains(&format!("Subject: [{kind}] {order}")))
            .unwrap_or_else(|| panic!("a mail for {kind} of {order}: {mails:?}"));
        assert!(found.contains("From: Shop <shop@example.com>"), "{found}");
        assert!(found.contains(&format!("To: {to}")), "{found}");
        assert!(found.contains(&format!("Customer: {customer}")), "{found}");
    }
    let notified = world
        .count(
            "SELECT COUNT(*) FROM notifications WHERE kind IN ('order_confirmed', 'order_failed')",
        )
        .await;
    assert_eq!(notified, 2, "each outcome recorded once");

    let _ = stop_tx.send(true);
    pipeline.join().await;
    world.close().await;
}
