//! Rows and inbox messages a community server can send, read without panicking; the inputs
//! the `community` fuzz target found are kept here as data.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::*;
use crate::protocol::blinding::{blind15_key_pair, encrypt_for_blinded_recipient};
use crate::protocol::keys::{Identity, Seed};
use crate::protocol::padding::pad;
use crate::protocol::storage::AccountId;

/// A visible message Content with `sigTimestamp` 1 700 000 000 000 (communities.json `post`).
const CONTENT: &str = "0a0c0a026869aa06050a03626f747880d095ffbc31";

/// The `posted` of the fuzz target's crash input: the f64 with bits `fe37e43c8800759c`, about
/// -1.6e300 seconds, which saturates to `i64::MIN` ms.
const FUZZ_POSTED_BITS: u64 = 0xfe37_e43c_8800_759c;

fn author() -> Identity {
    Identity::from_seed(Seed::from_bytes([0x06; 32]))
}

/// A room row signed by its (unblinded, `00`) author.
fn signed_row(posted: f64) -> RoomMessage {
    let data = pad(&hex::decode(CONTENT).unwrap());
    let author = author();
    RoomMessage {
        id: 7,
        seqno: 8,
        session_id: Some(format!(
            "00{}",
            hex::encode(author.ed25519_public().as_bytes())
        )),
        posted: Some(posted),
        data: Some(STANDARD.encode(&data)),
        signature: Some(STANDARD.encode(author.sign(&data))),
        ..RoomMessage::default()
    }
}

#[test]
fn a_post_signed_in_time_is_accepted() {
    let row = signed_row(1_700_000_000.0);
    assert!(matches!(open_row("r", &row).change, RoomChange::Post(_)));
}

#[test]
fn a_posted_time_far_from_the_signature_is_refused_without_overflow() {
    for posted in [
        f64::from_bits(FUZZ_POSTED_BITS),
        -1e300,
        1e300,
        f64::NAN,
        1e5,
    ] {
        let row = signed_row(posted);
        assert_eq!(
            open_row("r", &row).change,
            RoomChange::Unreadable("bad_timestamp"),
            "posted {posted}"
        );
    }
}

#[test]
fn a_dm_posted_at_an_absurd_time_is_refused_without_overflow() {
    let own_identity = Identity::from_seed(Seed::from_bytes([0x05; 32]));
    let session_id = own_identity.session_id().to_string();
    let own = AccountKeys {
        account: AccountId::from_hex(&session_id).unwrap(),
        identity: own_identity,
        session_id,
    };
    let server_key = X25519PublicKey::from_bytes([0x09; 32]);
    let server = CommunityServer::new("http://sogs.example", server_key).unwrap();
    let sender = blind15_key_pair(&author(), &server_key);
    let recipient = blind15_key_pair(&own.identity, &server_key);
    let content = pad(&hex::decode(CONTENT).unwrap());
    let sealed = encrypt_for_blinded_recipient(
        &author(),
        &server_key,
        recipient.id(),
        &content,
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    let message = |posted_at: f64| InboxMessage {
        id: 3,
        posted_at,
        sender: sender.id().to_string(),
        recipient: recipient.id().to_string(),
        message: Some(STANDARD.encode(&sealed)),
    };
    assert!(open_dm(&own, &server, &message(1_700_000_000.0)).is_ok());
    for posted_at in [f64::from_bits(FUZZ_POSTED_BITS), -1e300, 1e300] {
        assert_eq!(
            open_dm(&own, &server, &message(posted_at)).err(),
            Some("bad_timestamp")
        );
    }
}
