//! `commerce`: the server (`serve`, the default) and `migrate`.

use commerce::{Engine, Server, Settings};
use std::io::IsTerminal;

/// glibc's allocator showed up as an eighth of the CPU profile under load (every request
/// allocates small buffers on several threads); mimalloc's thread-local free lists are cheaper.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: commerce [serve|migrate|relay|rebuild-read-models]\n\n\
  serve    run the HTTP API (default); with --engine naive-sql (or ENGINE=naive-sql), the classic one-transaction checkout baseline (Postgres only)\n\
  migrate  apply the database migrations and exit\n\
  relay    run only the outbox relay and the event consumers\n\
  rebuild-read-models  rebuild the order read model from the outbox history and exit\n\n\
  Configuration comes from the environment; see README.md.";

/// Structured logs (JSON unless stdout is a terminal) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is
/// set, trace export over OTLP (HTTP/protobuf). Returns the tracer provider to flush at exit.
fn init_logging() -> Option<opentelemetry_sdk::trace::SdkTracerProvider> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Humans at a terminal get readable lines; everything else (files, collectors) gets JSON.
    let terminal = std::io::stdout().is_terminal();
    let (provider, otel) = match otlp_tracer_provider() {
        Ok(Some(provider)) => {
            use opentelemetry::trace::TracerProvider as _;
            let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("commerce"));
            (Some(provider), Some(layer))
        }
        Ok(None) => (None, None),
        Err(e) => {
            eprintln!("OTLP trace export disabled: {e}");
            (None, None)
        }
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(terminal.then(tracing_subscriber::fmt::layer))
        .with((!terminal).then(|| tracing_subscriber::fmt::layer().json()))
        .with(otel)
        .init();
    provider
}

/// The OTLP exporter reads `OTEL_EXPORTER_OTLP_ENDPOINT` (and the other standard `OTEL_*`
/// variables) itself and posts to `<endpoint>/v1/traces`; without the variable, no export at all.
fn otlp_tracer_provider() -> anyhow::Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>> {
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
    if !configured {
        return Ok(None);
    }
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "commerce".to_string());
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build();
    Ok(Some(provider))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let tracer_provider = init_logging();
    let code = run().await;
    if let Some(provider) = tracer_provider {
        // Flushes the spans still batched; blocking, so off the async worker.
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
    code
}

async fn run() -> std::process::ExitCode {
    let command = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "serve".to_string());
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = match command.as_str() {
        "serve" => serve(settings).await,
        "migrate" => commerce::open_store(&settings)
            .await
            .map(|_| println!("migrations applied")),
        "relay" => commerce::events::run_relay(settings).await,
        "rebuild-read-models" => commerce::events::rebuild(settings).await,
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => {
            eprintln!("unknown command {other:?}\n\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let store = match &settings.database_url {
        Some(_) => "postgres",
        None => "embedded sqlite",
    };
    let data_dir = settings.data_dir.display().to_string();
    let generated = settings.admin_token.is_none();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let engine_env = std::env::var("ENGINE").ok();
    let engine =
        Engine::from_args_and_env(&args, engine_env.as_deref()).map_err(anyhow::Error::msg)?;
    let app = Server::build(settings, engine).await?;
    println!(
        "commerce listening on http://127.0.0.1:{} (engine: {}, store: {store}, data dir: {data_dir})",
        app.port(),
        engine.as_str()
    );
    if generated {
        println!(
            "ADMIN_TOKEN (generated for this run): {}",
            app.admin_token().expose()
        );
    }
    app.run_until_stopped(commerce::shutdown_signal()).await
}
