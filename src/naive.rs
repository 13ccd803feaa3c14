//! The engine switch: `commerce serve --engine naive-sql` (or `ENGINE=naive-sql`) serves the API
//! with the classic one-transaction checkout of `persistence::naive` instead of the actor
//! runtime, on the same schema, so both can be driven by the same load tool and compared.
//!
//! [`Server`] builds either engine behind one interface (`port`, `admin_token`,
//! `run_until_stopped`); [`Application`] stays the actor engine's bootstrap, unchanged.

use crate::{generate_token, Application, Secret, Settings, SANDBOX_HANG};
use actors::sandbox::{SandboxPayments, SandboxShipping};
use anyhow::Context as _;
use commerce_http::{AdminToken, HttpLimits, NaiveState};
use persistence::naive::{NaiveConfig, NaiveGateways, NaiveSqlEngine, POSTGRES_REQUIRED};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Which engine serves the API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// The actor runtime with group commit: the product.
    #[default]
    Actors,
    /// One Postgres transaction per checkout with a row lock on the hot SKU: the baseline.
    NaiveSql,
}

impl Engine {
    pub fn parse(name: &str) -> Result<Engine, String> {
        match name.trim() {
            "actors" => Ok(Engine::Actors),
            "naive-sql" => Ok(Engine::NaiveSql),
            other => Err(format!(
                "unknown engine {other:?}: expected \"actors\" or \"naive-sql\""
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Actors => "actors",
            Engine::NaiveSql => "naive-sql",
        }
    }

    /// `--engine <name>` or `--engine=<name>` among `args` wins over `env` (the `ENGINE`
    /// variable); neither means the actor engine.
    pub fn from_args_and_env(args: &[String], env: Option<&str>) -> Result<Engine, String> {
        let mut flag = None;
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if arg == "--engine" {
                let value = rest.next().ok_or("--engine needs a value")?;
                flag = Some(value.as_str());
            } else if let Some(value) = arg.strip_prefix("--engine=") {
                flag = Some(value);
            }
        }
        match flag.or(env.filter(|e| !e.trim().is_empty())) {
            Some(name) => Engine::parse(name),
            None => Ok(Engine::Actors),
        }
    }
}

/// The baseline engine, built and bound, not yet serving.
pub struct NaiveApplication {
    listener: TcpListener,
    port: u16,
    admin_token: Secret,
    engine: Arc<NaiveSqlEngine>,
}

impl NaiveApplication {
    /// Connects to Postgres (migrating it, as the actor engine does) and binds the listener.
    /// Refuses to start without `DATABASE_URL`: the baseline exists to measure Postgres row locks.
    pub async fn build(settings: Settings) -> anyhow::Result<NaiveApplication> {
        let url = settings
            .database_url
            .as_ref()
            .map(Secret::expose)
            .ok_or_else(|| anyhow::anyhow!(POSTGRES_REQUIRED))?;
        let gateways = NaiveGateways {
            payments: Arc::new(SandboxPayments::new(SANDBOX_HANG)),
            shipping: Arc::new(SandboxShipping::new()),
            clock: Arc::new(actors::ports::SystemClock),
        };
        let config = NaiveConfig {
            payment_timeout: settings.commerce.payment_timeout,
            reservation_ttl: settings.commerce.reservation_ttl,
        };
        let engine = NaiveSqlEngine::connect(Some(url), &settings.pool, gateways, config)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the store: {e}"))?;
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .with_context(|| format!("binding {}", settings.http_addr))?;
        let port = listener.local_addr()?.port();
        Ok(NaiveApplication {
            listener,
            port,
            admin_token: settings.admin_token.clone().unwrap_or_else(generate_token),
            engine: Arc::new(engine),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn admin_token(&self) -> &Secret {
        &self.admin_token
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish. Nothing else
    /// needs draining: every answer was committed before it was sent.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = NaiveState {
            engine: self.engine,
            admin_token: AdminToken::new(self.admin_token.expose().to_string()),
            limits: HttpLimits::default(),
        };
        axum::serve(self.listener, commerce_http::naive_router(state))
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP")
    }
}

/// Either engine, built and bound.
pub enum Server {
    Actors(Box<Application>),
    NaiveSql(NaiveApplication),
}

impl Server {
    pub async fn build(settings: Settings, engine: Engine) -> anyhow::Result<Server> {
        Ok(match engine {
            Engine::Actors => Server::Actors(Box::new(Application::build(settings).await?)),
            Engine::NaiveSql => Server::NaiveSql(NaiveApplication::build(settings).await?),
        })
    }

    pub fn port(&self) -> u16 {
        match self {
            Server::Actors(app) => app.port(),
            Server::NaiveSql(app) => app.port(),
        }
    }

    pub fn admin_token(&self) -> &Secret {
        match self {
            Server::Actors(app) => app.admin_token(),
            Server::NaiveSql(app) => app.admin_token(),
        }
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        match self {
            Server::Actors(app) => app.run_until_stopped(shutdown).await,
            Server::NaiveSql(app) => app.run_until_stopped(shutdown).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(args: &[&str], env: Option<&str>) -> Result<Engine, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Engine::from_args_and_env(&args, env)
    }

    #[test]
    fn the_flag_wins_over_the_environment_and_actors_is_the_default() {
        assert_eq!(engine(&["serve"], None), Ok(Engine::Actors));
        assert_eq!(engine(&["serve"], Some("")), Ok(Engine::Actors));
        assert_eq!(engine(&["serve"], Some("naive-sql")), Ok(Engine::NaiveSql));
        let flag = ["serve", "--engine", "naive-sql"];
        assert_eq!(engine(&flag, Some("actors")), Ok(Engine::NaiveSql));
        assert_eq!(
            engine(&["serve", "--engine=actors"], Some("naive-sql")),
            Ok(Engine::Actors)
        );
    }

    #[test]
    fn a_bad_engine_is_refused_with_the_choices() {
        let err = engine(&["serve", "--engine", "mysql"], None).expect_err("unknown engine");
        assert!(err.contains("naive-sql"), "{err}");
        assert!(engine(&["serve", "--engine"], None).is_err());
    }
}
