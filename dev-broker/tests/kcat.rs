//! The `dev-broker` program as its users meet it: started as a process, its bootstrap address on
//! the first stdout line, Debian's `kcat` producing and consuming through it over TCP, and the
//! control commands on stdin. `scripts/test.sh` installs `kcat`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

/// The broker process, killed when dropped (also when an assertion fails).
struct Broker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    bootstrap: String,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    fn start(brokers: u32) -> Broker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dev-broker"))
            .args(["--brokers", &brokers.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dev-broker");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut bootstrap = String::new();
        stdout.read_line(&mut bootstrap).expect("bootstrap line");
        let bootstrap = bootstrap.trim().to_owned();
        Broker {
            child,
            stdin,
            stdout,
            bootstrap,
        }
    }

    fn command(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("write command");
        self.stdin.flush().expect("flush");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("answer");
        answer.trim().to_owned()
    }
}

fn kcat(args: &[&str], input: &str) -> String {
    let mut child = Command::new("kcat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kcat is installed (scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .expect("kcat stdin")
        .write_all(input.as_bytes())
        .expect("kcat input");
    let out = child.wait_with_output().expect("kcat output");
    assert!(out.status.success(), "kcat {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn kcat_produces_and_consumes_through_dev_broker() {
    let broker = Broker::start(3);
    assert_eq!(
        broker.bootstrap.split(',').count(),
        3,
        "{}",
        broker.bootstrap
    );
    let b = broker.bootstrap.as_str();
    kcat(
        &[
            "-b",
            b,
            "-t",
            "commerce.order",
            "-P",
            "-K",
            ":",
            "-H",
            "ce_type=order.placed",
        ],
        "order-1:{\"order_id\":\"order-1\"}\norder-1:{\"order_id\":\"order-1\",\"n\":2}\n",
    );
    let out = kcat(
        &[
            "-b",
            b,
            "-t",
            "commerce.order",
            "-C",
            "-e",
            "-q",
            "-f",
            "%k|%h|%s\n",
        ],
        "",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "order-1|ce_type=order.placed|{\"order_id\":\"order-1\"}",
            "order-1|ce_type=order.placed|{\"order_id\":\"order-1\",\"n\":2}",
        ],
        "same key, same partition, in order"
    );
}

#[test]
fn control_commands_take_brokers_down_and_up() {
    let mut broker = Broker::start(2);
    assert_eq!(broker.command("down 1"), "ok");
    assert_eq!(broker.command("up 1"), "ok");
    assert_eq!(broker.command("down all"), "ok");
    assert_eq!(broker.command("up all"), "ok");
    assert!(broker.command("down 3").starts_with("error:"));
    assert!(broker.command("sideways 1").starts_with("error:"));
    writeln!(broker.stdin, "quit").expect("quit");
    let status = broker.child.wait().expect("exit");
    assert!(status.success());
}
