//! A throwaway PostgreSQL cluster for one test binary (design.md §9).
//!
//! The first test that asks for PostgreSQL starts it: `initdb` into a fresh temp dir, then
//! `postgres` on a free 127.0.0.1 port with fsync off. Every test gets its own database in it.
//! When running as root, the cluster runs as the `postgres` user (`runuser -u postgres --`),
//! which also creates the temp dir, so the server can use it.
//!
//! Stopped at exit: the server runs under a small shell that waits for EOF on its stdin, whose
//! other end this process holds for its whole life. When the test binary exits (normally,
//! by panic or by a signal), the pipe closes, and the shell stops the server (fast shutdown)
//! and removes the directory. No static destructor is needed.
//!
//! Without PostgreSQL binaries the PostgreSQL variants of tests print why and pass, unless
//! `REQUIRE_POSTGRES=1`, where they fail.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::Connection as _;

/// A running cluster.
pub struct Cluster {
    pub port: u16,
    /// The cluster's data directory (tests scan it for plaintext secrets).
    pub data_dir: PathBuf,
    /// The PostgreSQL binaries (`pg_ctl` for [`Cluster::stop`] and [`Cluster::start`]).
    bin: PathBuf,
    /// Holding this keeps the cluster alive; see the module docs.
    _lifeline: Mutex<ChildStdin>,
}

impl Cluster {
    /// Stops the server (fast shutdown: sessions are cut, as in a crash of the database host
    /// seen from the client) and waits until it is down. For outage tests: every test of the
    /// binary shares the cluster, so such a test must be the only one in its binary.
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast", "-w"]);
    }

    /// Starts the stopped server again on the same port and data, and waits until it accepts
    /// connections.
    pub fn start(&self) {
        let dir = self.data_dir.parent().expect("the cluster's temp dir");
        let options = format!("-p {} -k {} {SERVER_OPTIONS}", self.port, dir.display());
        let log = dir.join("postgres-restarted.log");
        self.pg_ctl(&[
            "start",
            "-w",
            "-o",
            &options,
            "-l",
            &log.display().to_string(),
        ]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.data_dir.display().to_string();
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let output = command
            .args(["-D", &data])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run pg_ctl: {e}"));
        assert!(
            output.status.success(),
            "pg_ctl {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Server settings for tests: loopback only, no durability work, room for many pools.
const SERVER_OPTIONS: &str = "-c listen_addresses=127.0.0.1 -c fsync=off \
    -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 \
    -c shared_buffers=64MB";

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn required() -> bool {
    std::env::var("REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// The binary's cluster, started on first use; `None` (after printing why) where PostgreSQL is
/// unavailable. Panics instead when `REQUIRE_POSTGRES=1`.
pub fn cluster() -> Option<&'static Cluster> {
    match CLUSTER.get_or_init(start) {
        Ok(cluster) => Some(cluster),
        Err(reason) if required() => panic!("REQUIRE_POSTGRES=1 but {reason}"),
        Err(reason) => {
            eprintln!("skipping the PostgreSQL variant: {reason}");
            None
        }
    }
}

/// A new empty database in the cluster; its URL.
pub async fn fresh_database() -> Option<String> {
    let cluster = cluster()?;
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let mut conn = sqlx::postgres::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test cluster: {e}"));
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
    let _ = conn.close().await;
    Some(format!(
        "postgres://postgres@127.0.0.1:{}/{name}",
        cluster.port
    ))
}

/// `initdb`'s directory: on PATH, else the newest `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

const SCRIPT: &str = r#"
set -e
dir=$(mktemp -d "${TMPDIR:-/tmp}/session-gateway-pg.XXXXXX")
"$BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
    echo "initdb failed: $(tail -n 5 "$dir/initdb.log" | tr '\n' ' ')"; rm -rf "$dir"; exit 1; }
echo "$dir"
"$BIN/postgres" -D "$dir/data" -p "$PORT" -k "$dir" $OPTIONS >"$dir/postgres.log" 2>&1 &
pid=$!
cat >/dev/null || true
# pg_ctl finds the server through its pid file, so this also stops one a test restarted.
"$BIN/pg_ctl" -D "$dir/data" stop -m fast -w >/dev/null 2>&1 || kill -INT "$pid" 2>/dev/null || true
wait "$pid" || true
rm -rf "$dir"
"#;

fn start() -> Result<Cluster, String> {
    let bin =
        bin_dir().ok_or("no PostgreSQL binaries (initdb) on PATH or in /usr/lib/postgresql")?;
    let mut last_error = String::new();
    for _ in 0..3 {
        match start_once(&bin) {
            Ok(cluster) => return Ok(cluster),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn start_once(bin: &Path) -> Result<Cluster, String> {
    let port = free_port()?;
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", SCRIPT]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", SCRIPT]);
        c
    };
    let mut child = command
        .env("BIN", bin)
        .env("PORT", port.to_string())
        .env("OPTIONS", SERVER_OPTIONS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run the cluster script: {e}"))?;
    let lifeline = child.stdin.take().ok_or("no stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut first = String::new();
    stdout
        .read_line(&mut first)
        .map_err(|e| format!("cluster script: {e}"))?;
    let dir = PathBuf::from(first.trim());
    if !first.starts_with('/') {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        return Err(format!("cannot start PostgreSQL: {} {rest}", first.trim()));
    }
    // Dropping `child` neither kills nor waits: the shell lives until our exit closes its stdin.
    drop(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // The server logs this line once it accepts connections (and a fatal line if not).
        let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
        if log.contains("database system is ready to accept connections") {
            break;
        }
        if Instant::now() > deadline || log.contains("FATAL") {
            drop(lifeline);
            return Err(format!("PostgreSQL did not become ready: {log}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Cluster {
        port,
        data_dir: dir.join("data"),
        bin: bin.to_path_buf(),
        _lifeline: Mutex::new(lifeline),
    })
}
