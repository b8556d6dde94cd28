//! What the file server answers and what a sender's attachment pointer says about it
//! (`messages.md` §5): the upload answer (`{"id": …}`), the file URL (`/file/<id>`, `#p=`,
//! `#d`), and the `AttachmentPointer` read from a peer's message with the blob it points to.
//!
//! Input: one mode byte, then the bytes. Modes (low 3 bits):
//! * 0: an upload answer (`u16` status, then the body): a URL that is accepted names the id
//!   it came from, on the configured server.
//! * 1: a URL: the server's `file_id` and the pointer URL parser.
//! * 2: an `AttachmentPointer` protobuf, `0xFF 0xFE`, then the blob it points to: the pointer
//!   reads, converts back to an equal pointer, and decrypts (or refuses) the blob.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use serde_json::Map;
use session_gateway::network::{file_id, read_upload_answer};
use session_gateway::protocol::chat::pointer::{file_id_from_url, AttachmentInfo, FileUrl};
use session_gateway::protocol::onion::V4Response;
use session_gateway::protocol::protos::AttachmentPointer;

const BASE: &str = "http://files.example:8080";

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = common::mode(data) else {
        return;
    };
    match mode & 0x07 {
        0 => {
            let (code, body) = common::take_u16(rest);
            let answer = V4Response {
                code,
                headers: Map::new(),
                body: Some(body.to_vec()),
            };
            if let Ok(upload) = read_upload_answer(BASE, &answer) {
                assert_eq!(file_id(BASE, &upload.url), Some(upload.id.as_str()));
                let url = FileUrl::parse(&upload.url).expect("our own URL parses");
                assert_eq!((url.base(), url.id()), (BASE, upload.id.as_str()));
            }
        }
        1 => {
            if let Some(url) = common::text(rest) {
                if let Some(id) = file_id(BASE, url) {
                    assert!(!id.is_empty());
                }
                let _ = file_id_from_url(url);
                if let Ok(parsed) = FileUrl::parse(url) {
                    assert!(!parsed.id().is_empty());
                }
            }
        }
        2 => {
            let parts = common::pieces(rest, 2);
            let (pointer, blob) = (parts[0], parts.get(1).copied().unwrap_or_default());
            let Ok(pointer) = AttachmentPointer::decode(pointer) else {
                return;
            };
            if let Ok(info) = AttachmentInfo::parse(&pointer) {
                let again = AttachmentInfo::parse(&info.to_pointer()).expect("our own pointer");
                assert_eq!(again, info);
                let _ = info.file_url();
                let _ = info.decrypt(blob);
            }
        }
        _ => {}
    }
});
