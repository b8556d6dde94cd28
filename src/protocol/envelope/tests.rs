use super::*;
use crate::protocol::protos::wire::{field_keys, FieldKey};
use crate::protocol::protos::{content, data_message, DataMessage, LokiProfile, TypingMessage};
use curve25519_dalek::edwards::CompressedEdwardsY;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

const TS: u64 = 1_700_000_000_123;
/// `TS` as a protobuf varint, encoded by hand.
const TS_VARINT: &str = "fbd095ffbc31";

fn key(number: u32, wire_type: u8) -> FieldKey {
    FieldKey { number, wire_type }
}

fn h(text: &str) -> Vec<u8> {
    hex::decode(text.split_whitespace().collect::<String>()).unwrap()
}

/// What LSU-new `encode_for_1o1` (used by Session Desktop 1.17.17) stores, built by hand from the
/// §3.1/§3.2/§3.3 tables: ciphertext `c1c2c3`, proSig 64 × 0x11.
fn lsu_new_fixture() -> Vec<u8> {
    let envelope = format!("0806 28{TS_VARINT} 3801 4203c1c2c3 5a40{}", "11".repeat(64));
    let envelope = h(&envelope);
    assert_eq!(envelope.len(), 0x52);
    let request = format!("0a00 1200 1a52{} 2000", hex::encode(&envelope));
    let request = h(&request);
    assert_eq!(request.len(), 0x5a);
    h(&format!("0801 125a{}", hex::encode(request)))
}

#[test]
fn encoder_matches_the_hand_built_lsu_new_bytes() {
    let pro_sig = ProSig::from_bytes([0x11; 64]);
    let encoded = encode_dm_payload(&[0xc1, 0xc2, 0xc3], TS, &pro_sig);
    assert_eq!(hex::encode(&encoded), hex::encode(lsu_new_fixture()));
}

#[test]
fn encoded_payload_has_the_table_field_numbers_and_wire_types() {
    let encoded = encode_dm_payload(b"sealed", TS, &ProSig::from_bytes([7; 64]));
    // WebSocketMessage: type (1, varint), request (2, length-delimited).
    assert_eq!(field_keys(&encoded).unwrap(), [key(1, 0), key(2, 2)]);
    let ws = WebSocketMessage::decode(encoded.as_slice()).unwrap();
    assert_eq!(ws.r#type, Some(1));
    let request = ws.request.unwrap();
    // WebSocketRequestMessage: verb (1), path (2), body (3), id (4, varint).
    let request_bytes = request.encode_to_vec();
    assert_eq!(
        field_keys(&request_bytes).unwrap(),
        [key(1, 2), key(2, 2), key(3, 2), key(4, 0)]
    );
    assert_eq!(request.verb.as_deref(), Some(""));
    assert_eq!(request.path.as_deref(), Some(""));
    assert_eq!(request.id, Some(0));
    // Envelope: type (1), timestamp (5), sourceDevice (7), content (8), proSig (11).
    let body = request.body.unwrap();
    assert_eq!(
        field_keys(&body).unwrap(),
        [key(1, 0), key(5, 0), key(7, 0), key(8, 2), key(11, 2)]
    );
    let envelope = Envelope::decode(body.as_slice()).unwrap();
    assert_eq!(envelope.r#type, 6);
    assert_eq!(envelope.timestamp, TS);
    assert_eq!(envelope.source_device, Some(1));
    assert_eq!(envelope.content.as_deref(), Some(&b"sealed"[..]));
    assert_eq!(envelope.pro_sig.unwrap().len(), 64);
}

#[test]
fn decodes_the_lsu_new_fixture() {
    let parsed = decode_dm_payload(&lsu_new_fixture()).unwrap();
    assert_eq!(parsed.timestamp_ms(), TS);
    assert_eq!(parsed.source(), None);
    assert_eq!(parsed.source_device(), Some(1));
    assert_eq!(parsed.pro_sig(), Some(&ProSig::from_bytes([0x11; 64])));
    assert_eq!(parsed.content_ciphertext(), [0xc1, 0xc2, 0xc3]);
}

/// The older iOS/Android wrapping (§3.1/§3.2): `source` present but empty, verb/path set, a
/// request id, no proSig. Built by hand.
#[test]
fn decodes_the_older_mobile_wrapping_without_pro_sig() {
    let envelope = h(&format!("0806 1200 28{TS_VARINT} 3801 4203c1c2c3"));
    let path = hex::encode("/api/v1/message");
    let request = h(&format!(
        "0a03505554 120f{path} 1a{:02x}{} 202a",
        envelope.len(),
        hex::encode(&envelope)
    ));
    let payload = h(&format!(
        "0801 12{:02x}{}",
        request.len(),
        hex::encode(&request)
    ));
    let parsed = decode_dm_payload(&payload).unwrap();
    assert_eq!(parsed.timestamp_ms(), TS);
    assert_eq!(parsed.source(), None);
    assert_eq!(parsed.pro_sig(), None);
    assert_eq!(parsed.content_ciphertext(), [0xc1, 0xc2, 0xc3]);
}

fn wrap(envelope: &[u8]) -> Vec<u8> {
    WebSocketMessage {
        r#type: None, // receivers do not look at it
        request: Some(WebSocketRequestMessage {
            body: Some(envelope.to_vec()),
            ..Default::default()
        }),
    }
    .encode_to_vec()
}

fn envelope_with(edit: impl FnOnce(&mut Envelope)) -> Vec<u8> {
    let mut envelope = Envelope {
        r#type: 6,
        timestamp: TS,
        content: Some(vec![1, 2, 3]),
        ..Default::default()
    };
    edit(&mut envelope);
    envelope.encode_to_vec()
}

#[test]
fn source_may_be_a_session_id() {
    let id = format!("05{}", "ab".repeat(32));
    let payload = wrap(&envelope_with(|e| e.source = Some(id.clone())));
    let parsed = decode_dm_payload(&payload).unwrap();
    assert_eq!(hex::encode(parsed.source().unwrap()), id);
}

#[test]
fn rejects_what_lsu_new_rejects() {
    let cases: Vec<(Vec<u8>, EnvelopeError)> = vec![
        (vec![0xff], EnvelopeError::MalformedWebSocketMessage),
        (h("0801"), EnvelopeError::MissingRequest),
        (h("0801 1200"), EnvelopeError::MissingBody),
        (wrap(&[0xff]), EnvelopeError::MalformedEnvelope),
        (
            wrap(&envelope_with(|e| e.source = Some("05ab".into()))),
            EnvelopeError::BadSource(4),
        ),
        (
            wrap(&envelope_with(|e| e.source = Some("a".repeat(64)))),
            EnvelopeError::BadSource(64),
        ),
        (
            wrap(&envelope_with(|e| e.source = Some("z".repeat(66)))),
            EnvelopeError::BadSource(66),
        ),
        (
            wrap(&envelope_with(|e| e.content = None)),
            EnvelopeError::MissingContent,
        ),
        (
            wrap(&envelope_with(|e| e.pro_sig = Some(vec![0; 63]))),
            EnvelopeError::BadProSigLength(63),
        ),
        (
            wrap(&envelope_with(|e| e.pro_sig = Some(vec![0; 65]))),
            EnvelopeError::BadProSigLength(65),
        ),
        (
            wrap(&envelope_with(|e| e.pro_sig = Some(Vec::new()))),
            EnvelopeError::BadProSigLength(0),
        ),
        // Envelope without its required `type` (1) / `timestamp` (5), built by hand.
        (
            wrap(&h(&format!("28{TS_VARINT} 420101"))),
            EnvelopeError::MissingRequiredField {
                message: "SessionProtos.Envelope",
                field: 1,
            },
        ),
        (
            wrap(&h("0806 420101")),
            EnvelopeError::MissingRequiredField {
                message: "SessionProtos.Envelope",
                field: 5,
            },
        ),
    ];
    for (payload, expected) in cases {
        assert_eq!(decode_dm_payload(&payload), Err(expected));
    }
}

#[test]
fn a_bare_envelope_is_not_a_dm_payload() {
    let bare = envelope_with(|_| {});
    assert_eq!(decode_dm_payload(&bare), Err(EnvelopeError::MissingRequest));
}

/// A Content as Session Desktop sends a text message with a profile, built by hand:
/// `dataMessage (1) { body (1) "hi", profile (101) { displayName (1) "Bot" } }`,
/// `sigTimestamp (15) = TS`.
fn desktop_content_fixture() -> Vec<u8> {
    h(&format!("0a0c 0a026869 aa0605 0a03426f74 78{TS_VARINT}"))
}

#[test]
fn parses_the_hand_built_desktop_content() {
    let mut padded = desktop_content_fixture();
    padded.push(0x80);
    padded.resize(160, 0);
    let content = parse_content(&padded, TS).unwrap();
    let data = content.data_message.unwrap();
    assert_eq!(data.body.as_deref(), Some("hi"));
    assert_eq!(data.profile.unwrap().display_name.as_deref(), Some("Bot"));
    assert_eq!(content.sig_timestamp, Some(TS));
}

#[test]
fn sig_timestamp_rule() {
    let with = |sig: Option<u64>| {
        Content {
            sig_timestamp: sig,
            typing_message: Some(TypingMessage {
                timestamp: 1,
                action: 0,
            }),
            ..Default::default()
        }
        .encode_to_vec()
    };
    assert!(parse_content(&pad(&with(Some(TS))), TS).is_ok());
    assert_eq!(
        parse_content(&pad(&with(Some(TS + 1))), TS),
        Err(EnvelopeError::SigTimestampMismatch {
            envelope: TS,
            signed: TS + 1
        })
    );
    // Legacy senders: absent or zero sigTimestamp; and a zero envelope timestamp.
    assert!(parse_content(&pad(&with(None)), TS).is_ok());
    assert!(parse_content(&pad(&with(Some(0))), TS).is_ok());
    assert!(parse_content(&pad(&with(Some(TS))), 0).is_ok());
    // Unpadded plaintext is accepted too (§3.4).
    assert!(parse_content(&with(Some(TS)), TS).is_ok());
}

#[test]
fn content_missing_a_nested_required_field_is_refused() {
    // dataMessage (1) { quote (8) { id (1) = 1 } }: Quote.author (2) is required. By hand.
    let content = h("0a04 4202 0801");
    assert_eq!(
        parse_content(&pad(&content), TS),
        Err(EnvelopeError::MissingRequiredField {
            message: "SessionProtos.DataMessage.Quote",
            field: 2,
        })
    );
    // The same quote split over two occurrences merges into a complete one.
    let merged = h("0a08 4202 0801 4202 1200");
    assert!(parse_content(&pad(&merged), TS).is_ok());
    // Repeated sub-messages are checked one by one: attachments (2) need their id (1).
    let attachment = h("0a04 1202 2005");
    assert_eq!(
        parse_content(&attachment, TS),
        Err(EnvelopeError::MissingRequiredField {
            message: "SessionProtos.AttachmentPointer",
            field: 1,
        })
    );
    // Group update sub-messages: inviteResponse (6) needs isApproved (1).
    let invite_response = h("0a05 c20702 3200");
    assert_eq!(
        parse_content(&invite_response, TS),
        Err(EnvelopeError::MissingRequiredField {
            message: "SessionProtos.GroupUpdateInviteResponseMessage",
            field: 1,
        })
    );
}

#[test]
fn outgoing_content_sets_sig_timestamp_and_pads() {
    let content = Content {
        sig_timestamp: Some(42), // overwritten
        data_message: Some(DataMessage {
            body: Some("hello".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let outgoing = OutgoingContent::new(content, TS);
    assert_eq!(outgoing.padded().len() % 160, 0);
    assert_eq!(outgoing.timestamp_ms(), TS);
    let unpadded = unpad(outgoing.padded());
    let keys = field_keys(unpadded).unwrap();
    assert_eq!(keys, [key(1, 2), key(15, 0)]);

    // A stand-in for 1:1 encryption that tags the plaintext, to see what `seal` hands over.
    let sealed = outgoing
        .clone()
        .seal(&ProSig::from_bytes([9; 64]), |m| {
            Ok::<_, ()>([b"SEAL".as_slice(), m].concat())
        })
        .unwrap();
    let parsed = decode_dm_payload(&sealed).unwrap();
    assert_eq!(parsed.timestamp_ms(), TS);
    let plaintext = parsed.content_ciphertext().strip_prefix(b"SEAL").unwrap();
    assert_eq!(plaintext, outgoing.padded());
    let content = parse_content(plaintext, parsed.timestamp_ms()).unwrap();
    assert_eq!(content.sig_timestamp, Some(TS));
    assert_eq!(content.data_message.unwrap().body.as_deref(), Some("hello"));
}

/// The intended call shape compiles with one rng serving the decoy and the encryption.
#[test]
fn seal_with_one_rng_for_decoy_and_encryption() {
    let mut rng = StdRng::seed_from_u64(1);
    let outgoing = OutgoingContent::new(Content::default(), TS);
    let payload = outgoing
        .seal(&ProSig::decoy(&mut rng), |m| {
            let mut noise = [0u8; 8];
            rand::RngCore::fill_bytes(&mut rng, &mut noise);
            Ok::<_, ()>([&noise[..], m].concat())
        })
        .unwrap();
    assert!(decode_dm_payload(&payload).is_ok());
}

#[test]
fn seal_propagates_encryption_errors() {
    let outgoing = OutgoingContent::new(Content::default(), TS);
    let result = outgoing.seal(&ProSig::from_bytes([0; 64]), |_| Err("no key"));
    assert_eq!(result, Err("no key"));
}

#[test]
fn decoy_pro_sig_is_a_validly_encoded_signature() {
    let mut rng = StdRng::seed_from_u64(7);
    let a = ProSig::decoy(&mut rng);
    let b = ProSig::decoy(&mut rng);
    assert_ne!(a, b);
    for sig in [a, b] {
        let bytes = sig.as_bytes();
        let r = CompressedEdwardsY(bytes[..32].try_into().unwrap())
            .decompress()
            .unwrap();
        assert!(r.is_torsion_free(), "R must be in the prime-order subgroup");
        let s: [u8; 32] = bytes[32..].try_into().unwrap();
        assert!(bool::from(Scalar::from_canonical_bytes(s).is_some()));
    }
}

#[test]
fn content_json_uses_snake_case_base64_and_enum_names() {
    let content = Content {
        data_message: Some(DataMessage {
            body: Some("hi".into()),
            profile_key: Some(vec![0xff; 3]),
            profile: Some(LokiProfile {
                display_name: Some("Bot".into()),
                profile_picture: None,
                last_update_seconds: Some(5),
            }),
            reaction: Some(data_message::Reaction {
                id: 1,
                author: "05ab".into(),
                emoji: Some("👍".into()),
                action: data_message::reaction::Action::Remove as i32,
            }),
            ..Default::default()
        }),
        expiration_type: Some(content::ExpirationType::DeleteAfterSend as i32),
        expiration_timer: Some(60),
        sig_timestamp: Some(TS),
        ..Default::default()
    };
    let json = content_to_json(&content);
    let expected = serde_json::json!({
        "data_message": {
            "body": "hi",
            "profile_key": "////",
            "reaction": {"id": 1, "author": "05ab", "emoji": "👍", "action": "REMOVE"},
            "profile": {"display_name": "Bot", "last_update_seconds": 5}
        },
        "expiration_type": "DELETE_AFTER_SEND",
        "expiration_timer": 60,
        "sig_timestamp": TS
    });
    assert_eq!(json, expected);
    // Unknown enum numbers fall back to the number.
    let odd = Content {
        expiration_type: Some(99),
        ..Default::default()
    };
    assert_eq!(
        content_to_json(&odd),
        serde_json::json!({"expiration_type": 99})
    );
}

proptest! {
    #[test]
    fn decode_dm_payload_never_panics(junk in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_dm_payload(&junk);
    }

    #[test]
    fn decode_dm_payload_never_panics_on_wrapped_junk(junk in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_dm_payload(&wrap(&junk));
    }

    #[test]
    fn parse_content_never_panics(junk in proptest::collection::vec(any::<u8>(), 0..400), ts in any::<u64>()) {
        let _ = parse_content(&junk, ts);
    }

    #[test]
    fn payload_round_trips(
        sealed in proptest::collection::vec(any::<u8>(), 0..300),
        ts in any::<u64>(),
        sig in proptest::array::uniform32(any::<u8>()),
    ) {
        let mut full = [0u8; 64];
        full[..32].copy_from_slice(&sig);
        let payload = encode_dm_payload(&sealed, ts, &ProSig::from_bytes(full));
        // A zero timestamp is encoded (proto2 required) and so is present on the wire.
        let parsed = decode_dm_payload(&payload).unwrap();
        prop_assert_eq!(parsed.timestamp_ms(), ts);
        prop_assert_eq!(parsed.content_ciphertext(), &sealed[..]);
        prop_assert_eq!(parsed.pro_sig().map(|p| *p.as_bytes()), Some(full));
    }
}
