//! The open-model driver end to end against the echo ceiling: in-process through the library,
//! and through the real binary with `echo-server` as a child.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use loadtest::cli::{Params, RunPlan};
use loadtest::report::RunReport;

fn echo_params(base_url: String, json: std::path::PathBuf) -> Params {
    Params {
        base_url: Some(base_url),
        rate: Some(200.0),
        burst: Some(0),
        duration_s: Some(1.0),
        max_in_flight: Some(32),
        setup: Some(false),
        verify: Some(false),
        quiet: Some(true),
        json: Some(json),
        max_error_rate: Some(0.0),
        ..Default::default()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn open_model_drives_200_requests_through_the_echo() {
    let (addr, server) = loadtest::echo::spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("echo binds");
    let dir = std::env::temp_dir().join(format!("loadtest-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json = dir.join("lib.json");
    let plan = RunPlan::resolve(
        "flash-sale",
        &echo_params(format!("http://{addr}"), json.clone()),
        "echo",
    )
    .expect("plan");
    let finished = loadtest::run::execute(&plan, "echo").await.expect("run");
    server.abort();

    let s = &finished.report.summary;
    assert_eq!(s.operations, 200);
    assert_eq!(s.http_requests, 200);
    assert_eq!(s.outcomes.created, 200);
    assert_eq!(s.orders_confirmed, 200);
    assert_eq!(s.errors, 0);
    assert!(finished.passed);
    // Corrected latency includes any lateness of the dispatcher, so it is never below uncorrected.
    assert!(s.corrected.max_ms >= s.uncorrected.max_ms);

    let parsed: RunReport =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written"))
            .expect("json parses");
    assert_eq!(parsed.summary.operations, 200);
    assert_eq!(parsed.scenario, "flash-sale");
    let series_ops: u64 = parsed.series.iter().map(|p| p.operations).sum();
    assert_eq!(
        series_ops, 200,
        "the per-second series accounts for every operation"
    );
}

/// Kills the child when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_runs_against_its_own_echo_server() {
    let exe = env!("CARGO_BIN_EXE_loadtest");
    let mut child = KillOnDrop(
        Command::new(exe)
            .args(["echo-server", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("echo-server starts"),
    );
    let stdout = child.0.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("echo-server prints its address");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("address at the end")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");

    let dir = std::env::temp_dir().join(format!("loadtest-echo-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (json, html) = (dir.join("run.json"), dir.join("run.html"));
    let out = Command::new(exe)
        .args([
            "flash-sale",
            "--base-url",
            &url,
            "--setup",
            "false",
            "--verify",
            "false",
            "--quiet",
        ])
        .args([
            "--rate",
            "200",
            "--burst",
            "0",
            "--duration-s",
            "1",
            "--max-error-rate",
            "0",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .output()
        .expect("loadtest runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "status {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("corrected (intended start)"), "{stdout}");
    let parsed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("parses");
    assert_eq!(parsed["summary"]["operations"], 200);
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.contains("<svg") && !page.contains("<script"));

    // A threshold that cannot hold makes the exit status non-zero and names itself.
    let fail = Command::new(exe)
        .args([
            "flash-sale",
            "--base-url",
            &url,
            "--setup",
            "false",
            "--verify",
            "false",
            "--quiet",
        ])
        .args([
            "--rate",
            "50",
            "--burst",
            "0",
            "--duration-s",
            "1",
            "--min-rps",
            "1000000",
        ])
        .output()
        .expect("loadtest runs");
    assert_eq!(fail.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&fail.stderr).contains("min-rps"));
}
