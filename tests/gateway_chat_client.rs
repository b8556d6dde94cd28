//! What a Session client sends that the gateway has no endpoint to send itself (a profile with
//! an avatar, a data-extraction notification, a community invitation and a call offer), and
//! what another device of the account sees on its own swarm after an unsend. The
//! client is simulated with its own keys and network client, its Contents built by the same
//! `protocol::chat` builders Desktop's message classes correspond to (messages.md §3.3), or
//! field by field for the call offer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod netsupport;

use gateway_support as gs;
use rand::SeedableRng as _;
use session_gateway::actors::inbox;
use session_gateway::actors::keys::AccountKeys;
use session_gateway::ids::SessionIdText;
use session_gateway::protocol::attachment::ProfileKey;
use session_gateway::protocol::chat::{
    community_invitation, data_extraction, Avatar, ChatEvent, Disappearing, Profile, TextMessage,
};
use session_gateway::protocol::dm;
use session_gateway::protocol::envelope::{OutgoingContent, ProSig};
use session_gateway::protocol::keys::{Identity, SessionId};
use session_gateway::protocol::protos::{call_message, CallMessage, Content};
use session_gateway::protocol::storage::{AccountId, Namespace, Signer};

fn seal(from: &Identity, to: &SessionId, content: OutgoingContent) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    content
        .seal(&ProSig::decoy(&mut rng), |padded| {
            dm::encrypt_for_recipient_deterministic(from, to.x25519(), padded)
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_session_client_sends_reaches_the_gateway_as_events() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let b = gw.create_account().await;
    let to: SessionId = b.parse().unwrap();
    let swarm = AccountId::from_hex(&b).unwrap();
    let client = netsupport::identity();
    let me = client.session_id().to_string();
    let network = gs::network(&devnet);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let store = |payload: Vec<u8>| {
        let network = network.clone();
        async move {
            network
                .store(&swarm, Namespace(0), &payload, 60_000, None)
                .await
                .unwrap();
        }
    };

    // A first message with a profile and an avatar.
    let profile = Profile {
        display_name: Some("Desk".into()),
        avatar: Some(Avatar {
            url: "http://filev2.getsession.org/file/1234".into(),
            key: ProfileKey::from_slice(&[9; 32]).unwrap(),
        }),
        updated_seconds: Some(now / 1000),
    };
    let text = TextMessage {
        body: Some("hi from desktop".into()),
        profile: Some(profile),
        ..TextMessage::default()
    };
    let first = text.build(now).unwrap().into_content();
    store(seal(&client, &to, first)).await;
    gw.received(&b, &me, "hi from desktop").await;
    let profile = gw
        .wait_event(&b, "profile.updated", |d| d["conversation"] == me.as_str())
        .await;
    assert_eq!(profile["display_name"], "Desk");
    assert_eq!(
        profile["avatar_url"],
        "http://filev2.getsession.org/file/1234"
    );
    let conv = gw
        .on("GET", &b, &format!("/conversations/{me}"), None)
        .await;
    assert_eq!(
        conv.body["profile"]["avatar_url"],
        "http://filev2.getsession.org/file/1234"
    );
    // The key is 32 bytes of 9: neither its hex nor its base64 may show. (Checking for "0909"
    // alone failed about one run in a hundred, when a random hash or id in the body held it.)
    let body = conv.body.to_string();
    let key_hex = "09".repeat(32);
    let key_base64 = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk";
    assert!(
        !body.contains(&key_hex) && !body.contains(key_base64),
        "the profile key stays inside"
    );

    // A screenshot notification, a community invitation, a call offer.
    let shot = data_extraction(true, now, Disappearing::Off, now + 1).into_content();
    store(seal(&client, &to, shot)).await;
    let invite = community_invitation(
        "https://open.getsession.org/session?public_key=a03c",
        "Session",
        None,
        Disappearing::Off,
        now + 2,
    )
    .unwrap()
    .into_content();
    store(seal(&client, &to, invite)).await;
    let call = Content {
        call_message: Some(CallMessage {
            r#type: call_message::Type::PreOffer as i32,
            uuid: "c0ffee".into(),
            ..CallMessage::default()
        }),
        ..Content::default()
    };
    store(seal(&client, &to, OutgoingContent::new(call, now + 3))).await;

    let shot = gw
        .wait_event(&b, "data_extraction.received", |_| true)
        .await;
    assert_eq!(shot["kind"], "screenshot");
    assert_eq!(shot["conversation"], me.as_str());
    let invite = gw
        .wait_event(&b, "community_invitation.received", |_| true)
        .await;
    assert_eq!(invite["name"], "Session");
    let call = gw.wait_event(&b, "call.offered", |_| true).await;
    assert_eq!(call["uuid"], "c0ffee");
    assert_eq!(call["kind"], "pre_offer");

    // One request event for the whole conversation, accepted (the default policy).
    let requests = gw.events_typed(&b, "message_request.received").await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["data"]["state"], "accepted");

    gw.stop().await;
    devnet.shutdown().await;
}

/// The texts of the sync copies on `keys`' own swarm, as another of its devices would see them.
async fn own_copies(
    network: &session_gateway::network::SessionNetwork,
    keys: &AccountKeys,
) -> Vec<String> {
    let signer = Signer::Account(keys.identity.signing_key());
    let answers = network
        .retrieve(&keys.account, &signer, &[(Namespace(0), None)])
        .await
        .unwrap();
    answers
        .iter()
        .flat_map(|a| a.messages.iter())
        .filter_map(|m| match inbox::classify(keys, m) {
            inbox::Verdict::Accepted(a) => a.events.into_iter().find_map(|e| match e {
                ChatEvent::Message(m) if m.sync_target.is_some() => m.text,
                _ => None,
            }),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsend_deletes_our_own_swarm_copy() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let me = netsupport::identity();
    let a = gw.import(&me).await;
    let b = gw.create_account().await;
    let id = SessionIdText::parse(&a).unwrap();
    let entropy = me.recovery_phrase().unwrap().entropy().to_vec();
    let keys = AccountKeys::from_stored_seed(&id, &entropy).unwrap();
    let network = gs::network(&devnet);

    let sent = gw.send(&a, &b, "regret").await;
    gw.received(&b, &a, "regret").await;
    let network = &network;
    let keys = &keys;
    common::eventually(30, "the sync copy", || async move {
        own_copies(network, keys)
            .await
            .contains(&"regret".to_owned())
            .then_some(())
    })
    .await;
    let r = gw
        .on("DELETE", &a, &format!("/messages/{sent}"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    gw.wait_event(&b, "message.deleted", |d| d["scope"] == "everyone")
        .await;
    common::eventually(30, "the sync copy deleted", || async move {
        (!own_copies(network, keys)
            .await
            .contains(&"regret".to_owned()))
        .then_some(())
    })
    .await;

    gw.stop().await;
    devnet.shutdown().await;
}
