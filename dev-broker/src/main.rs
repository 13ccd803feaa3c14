//! `dev-broker`: librdkafka's mock cluster as a program, so tests, `kcat` and the README's demo
//! have a broker that speaks the Kafka protocol over TCP on a machine where Apache Kafka cannot
//! be installed. It is for development only: it keeps everything in memory and is gone when the
//! process ends. Production points `KAFKA_BROKERS` at a real Kafka cluster.
//!
//! It prints the bootstrap address (`127.0.0.1:port,...`) as the first line on stdout, then
//! reads commands on stdin, one per line, and answers each with `ok` or `error: ...`:
//!
//! - `down <broker id>` / `up <broker id>`: take one broker off the network or bring it back
//!   (ids are 1..=brokers);
//! - `down all` / `up all`: the same for every broker (a whole-cluster outage);
//! - `quit`: exit.
//!
//! End of stdin does not stop it (so `dev-broker &` in a shell keeps running); it runs until
//! killed or told `quit`.
//!
//! Options: `--brokers N` (default 3, at most `BROKERS_MAX`).

use std::io::{BufRead, Write};
use std::process::ExitCode;

use rdkafka::mocking::MockCluster;

/// More brokers than this is no longer a "small development cluster".
const BROKERS_MAX: i32 = 16;
const BROKERS_DEFAULT: i32 = 3;

fn main() -> ExitCode {
    let brokers = match parse_args(std::env::args().skip(1)) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("dev-broker: {e}\nusage: dev-broker [--brokers N]");
            return ExitCode::from(2);
        }
    };
    let cluster = match MockCluster::new(brokers) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dev-broker: cannot start the mock cluster: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    // The first line is the contract with scripts and tests: the bootstrap address alone.
    if writeln!(stdout, "{}", cluster.bootstrap_servers())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    eprintln!(
        "dev-broker: {brokers} mock brokers up (development only; commands on stdin: down|up <id>|all, quit)"
    );
    serve_commands(&cluster, brokers);
    ExitCode::SUCCESS
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<i32, String> {
    let mut brokers = BROKERS_DEFAULT;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--brokers" => {
                let value = args.next().ok_or("--brokers needs a number")?;
                brokers = value
                    .parse()
                    .map_err(|_| format!("--brokers: not a number: {value:?}"))?;
                if !(1..=BROKERS_MAX).contains(&brokers) {
                    return Err(format!("--brokers must be 1..={BROKERS_MAX}"));
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(brokers)
}

/// Answers control commands until `quit`; at end of input, parks until killed.
fn serve_commands<C: rdkafka::ClientContext>(cluster: &MockCluster<'_, C>, brokers: i32) {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "quit" {
            return;
        }
        let answer = match run_command(cluster, brokers, line) {
            Ok(()) => "ok".to_owned(),
            Err(e) => format!("error: {e}"),
        };
        println!("{answer}");
    }
    loop {
        std::thread::park();
    }
}

fn run_command<C: rdkafka::ClientContext>(
    cluster: &MockCluster<'_, C>,
    brokers: i32,
    line: &str,
) -> Result<(), String> {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or_default();
    let target = words.next().ok_or("which broker? a number or `all`")?;
    let ids: Vec<i32> = if target == "all" {
        (1..=brokers).collect()
    } else {
        let id: i32 = target
            .parse()
            .map_err(|_| format!("not a broker id: {target:?}"))?;
        if !(1..=brokers).contains(&id) {
            return Err(format!("broker ids are 1..={brokers}"));
        }
        vec![id]
    };
    for id in ids {
        let result = match verb {
            "down" => cluster.broker_down(id),
            "up" => cluster.broker_up(id),
            other => return Err(format!("unknown command {other:?}")),
        };
        result.map_err(|e| format!("broker {id}: {e}"))?;
    }
    Ok(())
}
