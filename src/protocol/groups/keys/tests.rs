//! Group keys against `tests/vectors/groups_keys.json`: byte-exact oracle messages, the
//! scenario of libsession's `tests/test_group_keys.cpp`, and our own scenarios (§2).

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;

use super::*;
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::{Identity, Seed, SessionId};

#[derive(Deserialize)]
struct File {
    oracle: Oracle,
    libsession_test: Scenario,
}

#[derive(Deserialize)]
struct Oracle {
    input: OracleInput,
    group_pk: String,
    rekey: OracleRekey,
    supplement: OracleSupplement,
}

#[derive(Deserialize)]
struct OracleInput {
    group_seed: String,
    members: Vec<String>,
}

#[derive(Deserialize)]
struct OracleRekey {
    generation: i64,
    key: String,
    message_b64: String,
}

#[derive(Deserialize)]
struct OracleSupplement {
    recipients: Vec<String>,
    keys: Vec<SuppKey>,
    message_b64: String,
}

#[derive(Deserialize)]
struct SuppKey {
    g: i64,
    k: String,
    t: i64,
}

#[derive(Deserialize)]
struct Scenario {
    group_seed: String,
    parties: BTreeMap<String, Party>,
    t0_ms: i64,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Party {
    seed: String,
    session_id: String,
    admin: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Step {
    Rekey {
        rekey: String,
        by: String,
        members: Vec<String>,
        generation: i64,
        #[serde(default)]
        new_encryption_key: bool,
    },
    Supplement {
        supplement: String,
        by: String,
        to: Vec<String>,
    },
    Load {
        load: String,
        at_days: i64,
        found: BTreeMap<String, bool>,
        #[serde(default)]
        hashes: BTreeMap<String, Vec<String>>,
        #[serde(default)]
        key_counts: BTreeMap<String, usize>,
    },
}

fn file() -> File {
    serde_json::from_str(include_str!("../../../../tests/vectors/groups_keys.json"))
        .expect("groups_keys.json parses")
}

fn seed(text: &str) -> Seed {
    Seed::from_bytes(hex::decode(text).unwrap().try_into().unwrap())
}

fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn sid(text: &str) -> SessionId {
    text.parse().unwrap()
}

fn key32(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

#[test]
fn oracle_rekey_is_byte_exact() {
    let o = file().oracle;
    let group = GroupSecret::from_seed(seed(&o.input.group_seed));
    assert_eq!(group.public().to_string(), o.group_pk);
    let members: Vec<SessionId> = o.input.members.iter().map(|m| sid(m)).collect();
    let rekey = build_rekey(&group, &members, o.rekey.generation).unwrap();
    assert_eq!(rekey.key.expose_secret(), &key32(&o.rekey.key));
    assert_eq!(rekey.message, b64(&o.rekey.message_b64));
}

#[test]
fn oracle_supplement_is_byte_exact() {
    let o = file().oracle;
    let group = GroupSecret::from_seed(seed(&o.input.group_seed));
    let recipients: Vec<SessionId> = o.supplement.recipients.iter().map(|m| sid(m)).collect();
    let keys: Vec<KeyInfo> = o
        .supplement
        .keys
        .iter()
        .map(|k| KeyInfo {
            generation: k.g,
            timestamp_ms: k.t,
            key: GroupEncKey::from_bytes(key32(&k.k)),
        })
        .collect();
    let message = build_supplement(&group, &recipients, &keys).unwrap();
    assert_eq!(message, b64(&o.supplement.message_b64));
}

#[test]
fn oracle_messages_open_for_their_recipients_only() {
    let f = file();
    let o = f.oracle;
    let parties = &f.libsession_test.parties;
    let group = GroupSecret::from_seed(seed(&o.input.group_seed));
    let rekey = b64(&o.rekey.message_b64);
    let supp = b64(&o.supplement.message_b64);
    for (name, party) in parties {
        let me = Identity::from_seed(seed(&party.seed));
        let mut keys = GroupKeys::new(group.public());
        let in_rekey = o.input.members.contains(&party.session_id);
        assert_eq!(
            keys.load("r", &rekey, 5, KeysReader::Member(&me)),
            Ok(in_rekey),
            "{name}"
        );
        let in_supp = o.supplement.recipients.contains(&party.session_id);
        assert_eq!(
            keys.load("s", &supp, 6, KeysReader::Member(&me)),
            Ok(in_supp && !in_rekey),
            "{name}"
        );
        if in_rekey || in_supp {
            let key = keys.encryption_key().unwrap();
            assert_eq!(key.expose_secret(), &key32(&o.rekey.key), "{name}");
        }
    }
    let mut admin = GroupKeys::new(group.public());
    assert_eq!(
        admin.load("r", &rekey, 5, KeysReader::Admin(&group)),
        Ok(true)
    );
    assert_eq!(
        admin.load("s", &supp, 6, KeysReader::Admin(&group)),
        Ok(false)
    );
    assert_eq!(admin.keys().len(), 1);
}

struct Replay {
    group: GroupSecret,
    identities: BTreeMap<String, (Identity, SessionId, bool)>,
    states: BTreeMap<String, GroupKeys>,
    messages: BTreeMap<String, Vec<u8>>,
}

impl Replay {
    fn sids(&self, names: &[String]) -> Vec<SessionId> {
        names.iter().map(|n| self.identities[n].1).collect()
    }

    fn reader(&self, name: &str) -> KeysReader<'_> {
        let (me, _, admin) = &self.identities[name];
        if *admin {
            KeysReader::Admin(&self.group)
        } else {
            KeysReader::Member(me)
        }
    }
}

#[test]
fn libsession_scenario_replays() {
    let s = file().libsession_test;
    let group = GroupSecret::from_seed(seed(&s.group_seed));
    let mut replay = Replay {
        states: s
            .parties
            .keys()
            .map(|n| (n.clone(), GroupKeys::new(group.public())))
            .collect(),
        identities: s
            .parties
            .iter()
            .map(|(n, p)| {
                let me = Identity::from_seed(seed(&p.seed));
                assert_eq!(me.session_id().to_string(), p.session_id, "{n}");
                (n.clone(), (me, sid(&p.session_id), p.admin))
            })
            .collect(),
        group,
        messages: BTreeMap::new(),
    };
    let mut states = std::mem::take(&mut replay.states);
    for (i, step) in s.steps.iter().enumerate() {
        match step {
            Step::Rekey {
                rekey,
                by,
                members,
                generation,
                new_encryption_key,
            } => {
                let sids = replay.sids(members);
                let state = states.get_mut(by).unwrap();
                let old = state.encryption_key().cloned();
                let message = state.rekey(&replay.group, &sids).unwrap();
                let parsed = KeysMessage::parse(&message, &replay.group.public()).unwrap();
                assert_eq!(parsed.generation(), *generation, "step {i}");
                if *new_encryption_key {
                    assert_ne!(old.as_ref(), state.encryption_key(), "step {i}");
                }
                replay.messages.insert(rekey.clone(), message);
            }
            Step::Supplement { supplement, by, to } => {
                let sids = replay.sids(to);
                let message = states[by].supplement(&replay.group, &sids).unwrap();
                replay.messages.insert(supplement.clone(), message);
            }
            Step::Load {
                load,
                at_days,
                found,
                hashes,
                key_counts,
            } => {
                let at = s.t0_ms + at_days * 86_400_000;
                for (name, expected) in found {
                    let reader = replay.reader(name);
                    let message = &replay.messages[load];
                    let state = states.get_mut(name).unwrap();
                    let got = state.load(load, message, at, reader);
                    assert_eq!(got, Ok(*expected), "step {i} {name}");
                }
                for (name, expected) in hashes {
                    let got: Vec<&str> = states[name].active_hashes().into_iter().collect();
                    assert_eq!(got, *expected, "step {i} {name}");
                }
                for (name, expected) in key_counts {
                    assert_eq!(states[name].len(), *expected, "step {i} {name}");
                }
            }
        }
    }
    // Everyone still in the group encrypts with the same (newest) key; the expired
    // generations are gone.
    let admin_key = states["admin1"].encryption_key().cloned().unwrap();
    for name in ["admin2", "member1", "member2", "member3b", "member4b"] {
        let state = &states[name];
        assert_eq!(state.encryption_key(), Some(&admin_key), "{name}");
        let generations: Vec<i64> = state.keys().iter().map(|k| k.generation).collect();
        assert_eq!(generations, [4, 5], "{name}");
    }
}

fn party(n: u8) -> Identity {
    Identity::from_seed(Seed::from_bytes([n; 32]))
}

#[derive(Deserialize)]
struct ReadsOurs {
    group_seed: String,
    members: BTreeMap<String, OracleMember>,
}

#[derive(Deserialize)]
struct OracleMember {
    keys_loaded: usize,
    group_keys: Vec<String>,
}

#[test]
fn libsession_reads_our_messages_as_we_do() {
    #[derive(Deserialize)]
    struct Only {
        oracle_reads_ours: ReadsOurs,
    }
    let only: Only =
        serde_json::from_str(include_str!("../../../../tests/vectors/groups_keys.json")).unwrap();
    let v = only.oracle_reads_ours;
    let group = GroupSecret::from_seed(seed(&v.group_seed));
    let member = |n: u8| party(n).session_id();
    let mut admin = GroupKeys::new(group.public());
    let k0 = admin.rekey(&group, &[member(1), member(2)]).unwrap();
    admin
        .load("k0", &k0, 1000, KeysReader::Admin(&group))
        .unwrap();
    let k1 = admin.rekey(&group, &[member(1)]).unwrap();
    admin
        .load("k1", &k1, 2000, KeysReader::Admin(&group))
        .unwrap();
    let supp = admin.supplement(&group, &[member(3)]).unwrap();
    for (seed_hex, expected) in &v.members {
        let me = Identity::from_seed(seed(seed_hex));
        let mut keys = GroupKeys::new(group.public());
        let mut loaded = 0;
        for (hash, data, ts) in [("k0", &k0, 1000), ("k1", &k1, 2000), ("s", &supp, 3000)] {
            loaded += usize::from(keys.load(hash, data, ts, KeysReader::Member(&me)).unwrap());
        }
        let held: Vec<String> = keys
            .decryption_keys()
            .map(|k| hex::encode(k.expose_secret()))
            .collect();
        assert_eq!(loaded, expected.keys_loaded, "{seed_hex}");
        assert_eq!(held, expected.group_keys, "{seed_hex}");
    }
}
