//! Bootstrap of the `commerce` binary: reads settings, opens the store, starts the actor system
//! and the use cases, and serves the HTTP API. It owns no business logic; it only wires.
//!
//! `Application::build` binds the listener and exposes `port()`, so tests run the very same code
//! on port 0.

pub mod events;
pub mod naive;
pub mod observability;
pub mod settings;

use actors::sandbox::{SandboxPayments, SandboxShipping};
use actors::{Commerce, Ports};
use anyhow::Context as _;
use commerce_http::AppState;
pub use naive::{Engine, Server};
use runtime::ActorSystem;
pub use settings::{Secret, Settings};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long the sandbox payment provider hangs for `tok_timeout`: far beyond any timeout.
const SANDBOX_HANG: Duration = Duration::from_secs(3600);

/// A built, bound, not yet serving application.
pub struct Application {
    listener: TcpListener,
    port: u16,
    admin_token: Secret,
    commerce: Commerce,
    system: ActorSystem,
    settings: Settings,
    /// The store's database for the relay, consumers and read-model queries.
    db: relay::Db,
}

/// Opens the configured store, running migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn actors::ports::Store>> {
    let url = settings.database_url.as_ref().map(Secret::expose);
    persistence::open_store(url, &settings.data_dir, &settings.pool)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the store: {e}"))
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let (store, db) = events::open_store_and_db(&settings).await?;
        let system =
            ActorSystem::start(settings.runtime.arbiters).context("starting the actor threads")?;
        let ports = Ports {
            store,
            payments: Arc::new(SandboxPayments::new(SANDBOX_HANG)),
            shipping: Arc::new(SandboxShipping::new()),
            clock: Arc::new(actors::ports::SystemClock),
        };
        let commerce = Commerce::new(&system, &settings.runtime, settings.commerce.clone(), ports);
        // Every saga still in flight belonged to a previous process: finish or compensate it
        // before taking traffic, so stock held by a crash returns promptly.
        match commerce.recover_after_restart().await {
            Ok((0, 0)) => {}
            Ok((sagas, keys)) => tracing::info!(
                sagas,
                idempotency_keys = keys,
                "recovered what the previous process left in flight"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "start-up recovery failed; the background loop retries sagas")
            }
        }
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .with_context(|| format!("binding {}", settings.http_addr))?;
        let port = listener.local_addr()?.port();
        let admin_token = settings.admin_token.clone().unwrap_or_else(generate_token);
        Ok(Application {
            listener,
            port,
            admin_token,
            commerce,
            system,
            settings,
            db,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn admin_token(&self) -> &Secret {
        &self.admin_token
    }

    pub fn commerce(&self) -> &Commerce {
        &self.commerce
    }

    /// Serves until `shutdown` resolves, then drains: stops accepting, lets in-flight requests
    /// finish, lets every actor commit what it decided, and stops the actor threads.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            admin_token,
            commerce,
            system,
            settings,
            db,
            ..
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let background = commerce.spawn_background(stop_rx.clone());
        observability::start_metrics(settings.metrics_enabled, stop_rx.clone());
        let pipeline = if settings.events.relay_in_serve {
            let pipeline_settings = settings.events.pipeline()?;
            Some(
                relay::Pipeline::start(db.clone(), pipeline_settings, stop_rx)
                    .map_err(anyhow::Error::msg)?,
            )
        } else {
            None
        };
        let read_models =
            commerce_http::routes_read::ReadModelsHandle(Arc::new(relay::SqlReadModels::new(db)));
        let state = AppState {
            commerce: commerce.clone(),
            admin_token: commerce_http::AdminToken::new(admin_token.expose().to_string()),
            limits: settings.http_limits,
        };
        let ops = observability::ops_handle(pipeline.as_ref());
        let app = commerce_http::router(state)
            .layer(axum::Extension(read_models))
            .layer(axum::Extension(ops));
        // The peer address feeds the per-client rate limits of sign-up and login.
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop_tx.send(true);
        if background.await.is_err() {
            tracing::error!("background task panicked");
        }
        if let Some(pipeline) = pipeline {
            pipeline.join().await;
        }
        if !commerce.shutdown(settings.shutdown_timeout).await {
            tracing::warn!("some actors did not stop within the shutdown timeout");
        }
        tokio::task::spawn_blocking(move || system.shutdown()).await?;
        served.context("serving HTTP")
    }
}

fn generate_token() -> Secret {
    let bytes: [u8; 32] = rand::random();
    Secret::new(hex::encode(bytes))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested");
}
