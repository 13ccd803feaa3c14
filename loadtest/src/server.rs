//! Child servers for the bench: a free port, a fresh Postgres database, start, readiness, stop.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use sqlx::Connection;

use crate::client::Api;
use crate::limits::{SERVER_START_TIMEOUT_MS, SERVER_STOP_TIMEOUT_MS};

/// Lines of a child's log quoted when it fails to start.
const LOG_TAIL_LINES: usize = 15;

/// A free TCP port on loopback. The port is released before the child binds it; another
/// process could take it in between, in which case the child fails to start and says so.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// Creates database `name` through `admin_url` and returns its URL.
pub async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "bad database name {name:?}"
    );
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(with_database(admin_url, name))
}

pub async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// A running child server.
pub struct ChildServer {
    child: tokio::process::Child,
    pub name: String,
    pub base_url: String,
    pub pid: u32,
    pub log_path: PathBuf,
}

/// Why a child did not come up.
#[derive(Debug)]
pub enum StartError {
    /// It exited on its own: the usual way a binary rejects its arguments.
    Exited {
        status: ExitStatus,
        log_tail: String,
    },
    /// It ran but never answered /readyz.
    NotReady {
        reason: String,
        log_tail: String,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Exited { status, log_tail } => {
                write!(f, "exited with {status}: {log_tail}")
            }
            StartError::NotReady { reason, log_tail } => write!(f, "{reason}: {log_tail}"),
            StartError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// Starts `program args` with `env`, output to `log_path`, and waits for `/readyz` on `port`.
pub async fn start(
    name: &str,
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    port: u16,
    log_path: &Path,
) -> Result<ChildServer, StartError> {
    let log = std::fs::File::create(log_path).map_err(StartError::Io)?;
    let log_err = log.try_clone().map_err(StartError::Io)?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .kill_on_drop(true)
        .spawn()
        .map_err(StartError::Io)?;
    let pid = child.id().unwrap_or(0);
    let base_url = format!("http://127.0.0.1:{port}");
    let api = Api::new(&base_url, None).map_err(|e| StartError::NotReady {
        reason: e.to_string(),
        log_tail: String::new(),
    })?;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(SERVER_START_TIMEOUT_MS);
    loop {
        if let Some(status) = child.try_wait().map_err(StartError::Io)? {
            return Err(StartError::Exited {
                status,
                log_tail: log_tail(log_path),
            });
        }
        if matches!(api.get("/readyz").await, Ok(a) if a.is_success()) {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = child.kill().await;
            return Err(StartError::NotReady {
                reason: format!(
                    "no 2xx from {base_url}/readyz within {SERVER_START_TIMEOUT_MS} ms"
                ),
                log_tail: log_tail(log_path),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(ChildServer {
        child,
        name: name.to_string(),
        base_url,
        pid,
        log_path: log_path.to_path_buf(),
    })
}

/// Brings the database at `url` to the server's schema with `program migrate`.
pub async fn migrate(program: &Path, url: &str) -> anyhow::Result<()> {
    let run = tokio::process::Command::new(program)
        .arg("migrate")
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_millis(SERVER_START_TIMEOUT_MS), run)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "`{} migrate` took longer than {SERVER_START_TIMEOUT_MS} ms",
                program.display()
            )
        })??;
    anyhow::ensure!(
        output.status.success(),
        "`{} migrate` exited with {}: {}{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

impl ChildServer {
    /// SIGTERM (graceful: the server commits and stops its actors), then SIGKILL after
    /// SERVER_STOP_TIMEOUT_MS.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        // `kill` is used instead of a signal crate: this sends one signal to our own child's pid.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        match tokio::time::timeout(
            Duration::from_millis(SERVER_STOP_TIMEOUT_MS),
            self.child.wait(),
        )
        .await
        {
            Ok(status) => {
                status?;
            }
            Err(_) => {
                eprintln!(
                    "{} did not stop within {SERVER_STOP_TIMEOUT_MS} ms of SIGTERM; killing it",
                    self.name
                );
                self.child.kill().await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x_1"),
            "postgres://postgres@127.0.0.1:5432/x_1"
        );
        assert_eq!(
            with_database("postgres://u@h:5432/db?sslmode=disable", "n"),
            "postgres://u@h:5432/n?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "n"),
            "postgres://u@h:5432/n"
        );
    }

    #[test]
    fn free_port_is_nonzero() {
        assert_ne!(free_port().expect("loopback bind"), 0);
    }
}
