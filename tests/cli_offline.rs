//! The offline tools of the binary (`id`, `message`), run as a person would run them: JSON on
//! stdout, or one `error: …` line on stderr with a non-zero exit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: failures should be loud

use std::process::{Command, Output};

use serde_json::Value;

/// The libsession identity vector (messages.md §1.4) and its phrase (§1.2).
const VECTOR_PHRASE: &str =
    "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept";
const VECTOR_SESSION_ID: &str =
    "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const VECTOR_ED25519: &str = "4cb76fdc6d32278e3f83dbf608360ecc6b65727934b85d2fb86862ff98c46ab7";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_session-gateway"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn json_ok(args: &[&str]) -> Value {
    let output = run(args);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

/// Asserts a failure: non-zero exit, nothing on stdout, exactly one line on stderr.
fn one_line_error(args: &[&str]) -> String {
    let output = run(args);
    assert!(!output.status.success(), "{args:?} should fail");
    assert!(
        output.stdout.is_empty(),
        "{args:?} printed to stdout on failure"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr:?}"
    );
    assert!(stderr.starts_with("error: "), "{stderr:?}");
    stderr
}

fn field(value: &Value, name: &str) -> String {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {value}"))
        .to_owned()
}

#[test]
fn id_from_phrase_reproduces_the_libsession_identity_vector() {
    let id = json_ok(&["id", "from-phrase", VECTOR_PHRASE]);
    assert_eq!(field(&id, "session_id"), VECTOR_SESSION_ID);
    assert_eq!(field(&id, "ed25519_pubkey"), VECTOR_ED25519);
    assert_eq!(field(&id, "phrase"), VECTOR_PHRASE);
}

#[test]
fn id_new_round_trips_through_its_phrase() {
    let new = json_ok(&["id", "new"]);
    let phrase = field(&new, "phrase");
    assert_eq!(phrase.split(' ').count(), 13);
    let restored = json_ok(&["id", "from-phrase", &phrase]);
    assert_eq!(restored, new);
}

#[test]
fn phrase_to_message_and_back_keeps_non_ascii_text() {
    let sender = json_ok(&["id", "new"]);
    let recipient = json_ok(&["id", "new"]);
    let text = "héllo wörld — 你好 🎉\nsecond line";
    let sealed = json_ok(&[
        "message",
        "encrypt",
        "--phrase",
        &field(&sender, "phrase"),
        "--to",
        &field(&recipient, "session_id"),
        "--text",
        text,
    ]);
    let data = field(&sealed, "data");
    let timestamp = sealed["timestamp"].as_u64().unwrap();

    let opened = json_ok(&[
        "message",
        "decrypt",
        "--phrase",
        &field(&recipient, "phrase"),
        "--data",
        &data,
    ]);
    assert_eq!(field(&opened, "from"), field(&sender, "session_id"));
    assert_eq!(opened["timestamp"].as_u64(), Some(timestamp));
    assert_eq!(
        opened["content"]["data_message"]["body"].as_str(),
        Some(text)
    );
    assert_eq!(opened["content"]["sig_timestamp"].as_u64(), Some(timestamp));

    // Anyone else, the sender included, cannot open it.
    one_line_error(&[
        "message",
        "decrypt",
        "--phrase",
        &field(&sender, "phrase"),
        "--data",
        &data,
    ]);
}

#[test]
fn bad_input_gets_one_line_errors() {
    let wrong_checksum =
        "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted voted";
    assert!(one_line_error(&["id", "from-phrase", wrong_checksum]).contains("checksum"));
    one_line_error(&["id", "from-phrase", "not a phrase"]);
    let to_bad_hex = [
        "message",
        "encrypt",
        "--phrase",
        VECTOR_PHRASE,
        "--to",
        "05zz",
        "--text",
        "x",
    ];
    one_line_error(&to_bad_hex);
    let bad_prefix = format!("15{}", &VECTOR_SESSION_ID[2..]);
    let to_bad_prefix = [
        "message",
        "encrypt",
        "--phrase",
        VECTOR_PHRASE,
        "--to",
        &bad_prefix,
        "--text",
        "x",
    ];
    one_line_error(&to_bad_prefix);
    one_line_error(&[
        "message",
        "decrypt",
        "--phrase",
        VECTOR_PHRASE,
        "--data",
        "!!not base64!!",
    ]);
    one_line_error(&[
        "message",
        "decrypt",
        "--phrase",
        VECTOR_PHRASE,
        "--data",
        "aGVsbG8=",
    ]);
}
