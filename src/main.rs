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

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // Humans at a terminal get readable lines; everything else (files, collectors) gets JSON.
    if std::io::stdout().is_terminal() {
        builder.init();
    } else {
        builder.json().init();
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_logging();
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
