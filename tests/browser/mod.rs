//! A headless Chromium driven over the DevTools protocol, for tests of the status page.
//!
//! No WebSocket: Chromium's `--remote-debugging-pipe` reads protocol messages from file
//! descriptor 3 and writes its answers to 4, each a JSON text ended by a NUL byte. The two
//! descriptors are named pipes (`mkfifo`) that a shell attaches before it `exec`s Chromium, so
//! the test needs neither `unsafe` nor a new dependency. One page target is created and
//! attached in flat mode; every command after that goes to its session.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

/// How long one protocol command may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The `chromium` (or `chromium-browser`) on `PATH`, if any.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A running headless Chromium with one page.
pub struct Browser {
    child: Child,
    commands: File,
    answers: mpsc::Receiver<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts `exe` headless with a fresh profile and opens a blank page.
    pub fn launch(exe: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let (to_browser, from_browser) = (profile.path().join("in"), profile.path().join("out"));
        for fifo in [&to_browser, &from_browser] {
            let made = Command::new("mkfifo").arg(fifo).status().unwrap();
            assert!(made.success(), "mkfifo {}", fifo.display());
        }
        let user_data = format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#"in="$1"; out="$2"; shift 2; exec "$@" 3<"$in" 4>"$out""#)
            .arg("sh")
            .arg(&to_browser)
            .arg(&from_browser)
            .arg(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-sync",
                "--disable-component-update",
                "--disable-dev-shm-usage",
                "--remote-debugging-pipe",
                "--window-size=1400,1000",
                &user_data,
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        // The shell opens `in` for reading, then `out` for writing; each open waits for this
        // side's, so open them in the same order.
        let commands = OpenOptions::new().write(true).open(&to_browser).unwrap();
        let reader = File::open(&from_browser).unwrap();
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            loop {
                let mut message = Vec::new();
                match reader.read_until(0, &mut message) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                message.pop();
                if let Ok(value) = serde_json::from_slice::<Value>(&message) {
                    if tx.send(value).is_err() {
                        return;
                    }
                }
            }
        });
        let mut browser = Browser {
            child,
            commands,
            answers,
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = browser.send(None, "Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"].as_str().unwrap().to_owned();
        let attached = browser.send(
            None,
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser.call("Page.enable", json!({}));
        browser.call("Runtime.enable", json!({}));
        browser
    }

    /// Sends one command (to the browser, or to `session`) and waits for its answer's result.
    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.try_send(session, method, params)
            .unwrap_or_else(|error| panic!("{method}: {error}"))
    }

    /// Sends one command and waits for its answer: the result, or the error the browser gave.
    fn try_send(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        self.commands.flush().unwrap();
        let deadline = std::time::Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let answer = self
                .answers
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer to {method} within {CALL_TIMEOUT:?}"));
            if answer["id"] == id {
                return match answer.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(answer["result"].clone()),
                };
            }
        }
    }

    /// A command to the page.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
    }

    /// Loads `url` in the page (returns once the navigation is committed).
    pub fn navigate(&mut self, url: &str) {
        let result = self.call("Page.navigate", json!({"url": url}));
        assert!(
            result.get("errorText").is_none(),
            "navigating to {url}: {result}"
        );
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression)
            .unwrap_or_else(|error| panic!("{expression}: {error}"))
    }

    /// Evaluates `expression`: its value, or why it could not be evaluated (a thrown exception,
    /// or the browser's error, such as the page navigating away while it ran).
    fn try_eval(&mut self, expression: &str) -> Result<Value, Value> {
        let session = self.session.clone();
        let result = self.try_send(
            Some(&session),
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )?;
        match result.get("exceptionDetails") {
            Some(exception) => Err(exception.clone()),
            None => Ok(result["result"]["value"].clone()),
        }
    }

    /// Polls `expression` until it is truthy (up to `secs`); returns its value.
    ///
    /// An evaluation that fails counts as "not yet": after a form is submitted, the page being
    /// replaced makes the browser answer "Inspected target navigated or closed". The last such
    /// failure is named if the wait times out.
    pub fn wait_for(&mut self, secs: u64, what: &str, expression: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        let mut last_failure = None;
        loop {
            match self.try_eval(expression) {
                Ok(value) if !(value.is_null() || value == false) => return value,
                Ok(_) => {}
                Err(failure) => last_failure = Some(failure),
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what} (last failure: {last_failure:?})"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG of the page to `path`.
    pub fn screenshot(&mut self, path: &Path) {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.next_id += 1;
        let close = json!({"id": self.next_id, "method": "Browser.close"});
        let mut bytes = serde_json::to_vec(&close).unwrap_or_default();
        bytes.push(0);
        let _ = self.commands.write_all(&bytes);
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
