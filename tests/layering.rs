//! Enforces style.md habit 1: `src/protocol/` is pure. No I/O, async runtime, database, actor,
//! HTTP or clock use may appear there, so every protocol function is deterministic given its
//! arguments and testable without a network.

#![allow(clippy::unwrap_used)] // a test: a failure to read its own sources should fail loudly

use std::fs;
use std::path::Path;

/// Paths and identifiers that would bring I/O, async or a clock into the protocol layer.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "sqlx",
    "actix",
    "reqwest",
    "std::net",
    "std::fs",
    "std::io::stdin",
    "SystemTime",
    "Instant::now",
    "async fn",
    ".await",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn protocol_layer_does_no_io_and_reads_no_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/protocol");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "src/protocol has no Rust files");
    let mut offences = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in FORBIDDEN {
                if code.contains(word) {
                    offences.push(format!("{}:{}: {}", file.display(), number + 1, word));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "protocol/ must stay pure:\n{}",
        offences.join("\n")
    );
}
