//! `session-gateway serve` refusing to start: a database it cannot use fails within seconds
//! with the cause named, and every start-up error is said once (issue 14).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a refused start may take: the probe's 5 s bound and process start-up, with room.
const DEADLINE: Duration = Duration::from_secs(10);

fn gateway(dir: &std::path::Path, database_url: Option<&str>, master: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_session-gateway"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("SESSION_GATEWAY__API__ADMIN_KEY", "startup-test-admin-key")
        .env("SESSION_GATEWAY__SECURITY__MASTER_KEY", master)
        .env("SESSION_GATEWAY__NETWORK__ENABLED", "false")
        .env_remove("SESSION_GATEWAY__DATABASE__URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        cmd.env("SESSION_GATEWAY__DATABASE__URL", url);
    }
    cmd
}

fn master_key() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([7u8; 32])
}

/// Runs `cmd` to its exit, failing the test if that takes longer than [`DEADLINE`]; the
/// output and how long it took.
fn run_bounded(cmd: &mut Command) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            return (child.wait_with_output().unwrap(), started.elapsed());
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after {DEADLINE:?}; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `error: …` line of a refused start (exactly one such line, nothing on stdout).
fn refusal(output: &Output) -> String {
    assert!(!output.status.success(), "the start must fail");
    assert!(output.stdout.is_empty(), "no ready line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    errors[0].to_owned()
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_closed_database_port_is_refused_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "postgres://gateway:hunter2@127.0.0.1:{}/gateway",
        closed_port()
    );
    let (output, took) = run_bounded(&mut gateway(dir.path(), Some(&url), &master_key()));
    let line = refusal(&output);
    assert!(took < Duration::from_secs(8), "took {took:?}: {line}");
    assert!(line.contains("connection refused"), "{line}");
    assert_eq!(line.matches("refused").count(), 1, "said once: {line}");
    assert!(!line.contains("pool timed out"), "{line}");
    assert!(!line.contains("hunter2"), "no password in errors: {line}");
}

#[test]
fn an_invalid_database_url_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://gateway@127.0.0.1:notaport/gateway";
    let (output, _) = run_bounded(&mut gateway(dir.path(), Some(url), &master_key()));
    let line = refusal(&output);
    assert!(line.contains("invalid database URL"), "{line}");
    assert_eq!(
        line.matches("invalid database URL").count(),
        1,
        "said once: {line}"
    );
}

#[test]
fn an_unopenable_sqlite_file_is_named_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("gateway.db");
    let url = format!("sqlite://{}", missing.display());
    let (output, _) = run_bounded(&mut gateway(dir.path(), Some(&url), &master_key()));
    let line = refusal(&output);
    assert!(line.contains("unable to open database file"), "{line}");
    assert!(line.contains(&url), "{line}");
}

#[test]
fn a_bad_master_key_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = run_bounded(&mut gateway(dir.path(), None, "c2hvcnQ="));
    let line = refusal(&output);
    assert_eq!(
        line,
        "error: security.master_key must be base64 of exactly 32 bytes"
    );
}

#[test]
fn a_missing_postgres_database_is_named() {
    let Some(cluster) = common::pg::cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/no_such_database",
        cluster.port
    );
    let (output, _) = run_bounded(&mut gateway(dir.path(), Some(&url), &master_key()));
    let line = refusal(&output);
    assert!(
        line.contains("database \"no_such_database\" does not exist"),
        "{line}"
    );
    assert_eq!(
        line.matches("does not exist").count(),
        1,
        "said once: {line}"
    );
}
