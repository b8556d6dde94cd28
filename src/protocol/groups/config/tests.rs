//! The vectors of libsession's `tests/test_configdata.cpp` (`tests/vectors/groups_config.json`):
//! encodings, diffs, hashes, the signature, and the merge examples of
//! `docs/config-merge-logic.md`, each built with the same edits as the upstream test.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::data::{data_to_bt, parse_data};
use super::*;
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::Seed;
use crate::protocol::vectors::{hex_array, load, unhex, Source};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[allow(dead_code)]
    description: String,
    hashes: BTreeMap<String, String>,
    hashes_source: Source,
    encodings: Encodings,
    serialization: Serialization,
    signature: SignatureVector,
    example1: Example1,
    deserialization: Deserialization,
    empty: Empty,
    example2: Example2,
    example3: Example3,
    example4: Example4,
    pub(super) padding: Padding,
    pub(super) info_push: InfoPush,
    pub(super) members_push: MembersPush,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MembersPush {
    pub(super) source: Source,
    pub(super) seed: String,
    pub(super) first_key: String,
    pub(super) pic_key: String,
    pub(super) admins: u8,
    pub(super) named_members: u8,
    pub(super) bare_members: u8,
    pub(super) size: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Padding {
    pub(super) source: Source,
    /// `[size, overhead, padded_size]`.
    pub(super) cases: Vec<(usize, usize, usize)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InfoPush {
    pub(super) source: Source,
    pub(super) seed: String,
    pub(super) ed25519_public: String,
    pub(super) first_key: String,
    pub(super) second_keys: Vec<String>,
    pub(super) name: String,
    pub(super) first_seqno: i64,
    pub(super) first_size: usize,
    pub(super) pic_url: String,
    pub(super) pic_key: String,
    pub(super) expiry_timer: i64,
    pub(super) created: i64,
    pub(super) delete_before: i64,
    pub(super) delete_attachments_before: i64,
    pub(super) second_seqno: i64,
    pub(super) second_size: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Encodings {
    source: Source,
    set: String,
    dict: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Serialization {
    source: Source,
    seqno10: String,
    seqno12: String,
    seqno15: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureVector {
    source: Source,
    secret_key: String,
    signed: String,
    signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Example1 {
    source: Source,
    seqno118: String,
    seqno123: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Deserialization {
    source: Source,
    seqno124: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {
    source: Source,
    empty_set: String,
    empty_dict: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Example2 {
    source: Source,
    seqno124: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Example3 {
    source: Source,
    seqno126: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Example4 {
    source: Source,
    seqno127: String,
}

pub(super) struct Vectors {
    pub(super) file: File,
    hashes: BTreeMap<String, [u8; 32]>,
}

impl Vectors {
    pub(super) fn load() -> Self {
        let file: File = load(include_str!("../../../../tests/vectors/groups_config.json"));
        for source in [
            &file.hashes_source,
            &file.encodings.source,
            &file.serialization.source,
            &file.signature.source,
            &file.example1.source,
            &file.deserialization.source,
            &file.empty.source,
            &file.example2.source,
            &file.example3.source,
            &file.example4.source,
            &file.padding.source,
            &file.info_push.source,
            &file.members_push.source,
        ] {
            source.check();
            assert!(
                source.lines.is_some(),
                "every config vector names its lines"
            );
        }
        let hashes = file
            .hashes
            .iter()
            .map(|(k, v)| (k.clone(), hex_array::<32>(v)))
            .collect();
        Self { file, hashes }
    }

    fn hash(&self, name: &str) -> [u8; 32] {
        self.hashes[name]
    }

    /// A message text with its `{name}` placeholders replaced by hash bytes.
    fn bytes(&self, text: &str) -> Vec<u8> {
        self.bytes_with(text, &[])
    }

    fn bytes_with(&self, text: &str, extra: &[(&str, [u8; 32])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.extend_from_slice(&rest.as_bytes()[..open]);
            let close = open + rest[open..].find('}').unwrap();
            let name = &rest[open + 1..close];
            let hash = extra
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, h)| *h)
                .unwrap_or_else(|| self.hash(name));
            out.extend_from_slice(&hash);
            rest = &rest[close + 1..];
        }
        out.extend_from_slice(rest.as_bytes());
        out
    }
}

fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

fn assert_bytes(actual: &[u8], expected: &[u8]) {
    assert_eq!(printable(actual), printable(expected));
}

pub(super) fn dict(entries: &[(&str, ConfigValue)]) -> ConfigDict {
    entries
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
        .collect()
}

pub(super) fn set(members: &[Scalar]) -> ConfigValue {
    ConfigValue::Set(members.iter().cloned().collect())
}

fn s(text: &str) -> Scalar {
    Scalar::from(text)
}

fn i(value: i64) -> Scalar {
    Scalar::Int(value)
}

/// The sub-dict at `key`, created (or replacing another type) when needed.
fn sub<'a>(data: &'a mut ConfigDict, key: &str) -> &'a mut ConfigDict {
    let slot = data
        .entry(key.as_bytes().to_vec())
        .or_insert_with(|| ConfigValue::Dict(ConfigDict::new()));
    if !matches!(slot, ConfigValue::Dict(_)) {
        *slot = ConfigValue::Dict(ConfigDict::new());
    }
    match slot {
        ConfigValue::Dict(d) => d,
        _ => unreachable!(),
    }
}

fn set_mut<'a>(data: &'a mut ConfigDict, key: &str) -> &'a mut ConfigSet {
    let slot = data
        .entry(key.as_bytes().to_vec())
        .or_insert_with(|| ConfigValue::Set(ConfigSet::new()));
    match slot {
        ConfigValue::Set(s) => s,
        _ => panic!("not a set"),
    }
}

fn put(data: &mut ConfigDict, key: &str, value: impl Into<ConfigValue>) {
    data.insert(key.as_bytes().to_vec(), value.into());
}

fn erase(data: &mut ConfigDict, key: &str) {
    data.remove(key.as_bytes());
}

#[test]
fn data_encodings() {
    let v = Vectors::load();
    let set_value = set(&[s("foo"), i(23), s("Foo"), s("~"), s("!"), s("foo"), i(-123)]);
    let encoded = data_to_bt(&dict(&[("x", set_value)])).encode();
    assert_bytes(
        &encoded[4..encoded.len() - 1],
        v.file.encodings.set.as_bytes(),
    );

    let d = dict(&[
        ("a", 23.into()),
        ("B", "x".into()),
        ("c", set(&[s("2"), s("1"), i(4), i(-3)])),
        ("D", dict(&[("x", 1.into()), ("y", 2.into())]).into()),
        (
            "d",
            dict(&[("e", dict(&[("f", dict(&[("g", "".into())]).into())]).into())]).into(),
        ),
    ]);
    let encoded = data_to_bt(&d).encode();
    assert_bytes(&encoded, v.file.encodings.dict.as_bytes());
    let parsed = parse_data(&crate::protocol::bencode::BtValue::decode(&encoded).unwrap());
    assert_eq!(parsed.unwrap(), d);
}

#[test]
fn pruning() {
    let mut m = MutableConfigMessage::new(0, DEFAULT_LAG);
    put(m.data_mut(), "a", 123);
    put(m.data_mut(), "b", ConfigDict::new());
    put(m.data_mut(), "c", dict(&[("a", 1.into())]));
    put(m.data_mut(), "d", set(&[i(42)]));
    put(m.data_mut(), "e", ConfigSet::new());
    put(m.data_mut(), "f", dict(&[("a", 1.into()), ("b", set(&[]))]));
    let nested = dict(&[("a", dict(&[("a", ConfigDict::new().into())]).into())]);
    put(m.data_mut(), "g", dict(&[("a", nested.into())]));
    let message = m.finish(None);
    assert_eq!(
        message.data(),
        &dict(&[
            ("a", 123.into()),
            ("c", dict(&[("a", 1.into())]).into()),
            ("d", set(&[i(42)])),
            ("f", dict(&[("a", 1.into())]).into()),
        ])
    );
}

fn assigned() -> DiffEntry {
    DiffEntry::Assigned
}

fn diff_of(entries: &[(&str, DiffEntry)]) -> Diff {
    entries
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
        .collect()
}

fn set_diff(added: &[Scalar], removed: &[Scalar]) -> DiffEntry {
    DiffEntry::Set {
        added: added.iter().cloned().collect(),
        removed: removed.iter().cloned().collect(),
    }
}

fn bar_data() -> ConfigDict {
    dict(&[
        ("asdf", 123.into()),
        ("xyz", "abc".into()),
        ("", set(&[s("a"), s("b"), i(42)])),
    ])
}

/// `config diff` (lines 126-172): the diffs three successive edits produce.
#[test]
fn diffs() {
    let mut m = MutableConfigMessage::new(0, DEFAULT_LAG);
    put(m.data_mut(), "foo", 123);
    put(m.data_mut(), "empty", ConfigSet::new());
    put(m.data_mut(), "empty2", ConfigDict::new());
    put(m.data_mut(), "bar", bar_data());
    put(m.data_mut(), "z", ConfigDict::new());
    assert_eq!(
        m.diff(),
        diff_of(&[
            ("foo", assigned()),
            (
                "bar",
                DiffEntry::Dict(diff_of(&[
                    ("asdf", assigned()),
                    ("xyz", assigned()),
                    ("", set_diff(&[i(42), s("a"), s("b")], &[])),
                ]))
            ),
        ])
    );
    let mut m1 = m.finish(None).increment();
    assert_eq!(m1.seqno(), 1);
    assert!(m1.diff().is_empty());
    erase(m1.data_mut(), "foo");
    assert_eq!(m1.diff(), diff_of(&[("foo", DiffEntry::Removed)]));

    let mut m2 = m1.finish(None).increment();
    assert_eq!(m2.seqno(), 2);
    edit_m2(m2.data_mut());
    assert_eq!(
        m2.diff(),
        diff_of(&[
            ("foo", assigned()),
            (
                "bar",
                DiffEntry::Dict(diff_of(&[
                    ("xyz", assigned()),
                    ("a", assigned()),
                    ("", set_diff(&[i(99), s("c")], &[s("b")])),
                ]))
            ),
        ])
    );
}

fn edit_m2(data: &mut ConfigDict) {
    put(data, "foo", 123);
    let bar = sub(data, "bar");
    put(bar, "xyz", 42);
    put(bar, "a", 42);
    let members = set_mut(bar, "");
    members.insert(s("c"));
    members.insert(i(99));
    members.remove(&s("b"));
    members.insert(i(42));
}

/// `config message serialization` (lines 174-327).
#[test]
fn serialization_and_hashes() {
    let v = Vectors::load();
    let mut m = MutableConfigMessage::new(10, DEFAULT_LAG);
    put(m.data_mut(), "foo", 123);
    put(m.data_mut(), "bar", bar_data());
    let m10 = m.finish(None);
    assert_bytes(m10.as_bytes(), &v.bytes(&v.file.serialization.seqno10));
    assert_eq!(*m10.hash(), v.hash("hash0"));

    let mut m1 = m10.increment();
    erase(m1.data_mut(), "foo");
    let m11 = m1.finish(None);
    assert_eq!(*m11.hash(), v.hash("hash1"));

    let mut m2 = m11.increment();
    edit_m2(m2.data_mut());
    let m12 = m2.finish(None);
    assert_eq!(*m12.hash(), v.hash("hash2"));
    assert_bytes(m12.as_bytes(), &v.bytes(&v.file.serialization.seqno12));

    let m13 = m12.increment().finish(None);
    assert_eq!(*m13.hash(), v.hash("hash3"));
    let m14 = m13.increment().finish(None);
    assert_eq!(*m14.hash(), v.hash("hash4"));
    let m15 = m14.increment().finish(None);
    assert_eq!(*m15.hash(), v.hash("hash5"));
    assert_bytes(m15.as_bytes(), &v.bytes(&v.file.serialization.seqno15));

    // What we write, we read back to the same message.
    for written in [&m10, &m12, &m15] {
        let read = ConfigMessage::parse(written.as_bytes(), None).unwrap();
        assert_eq!(read.id(), written.id());
        assert_eq!(read.data(), written.data());
        assert_eq!(read.diff(), written.diff());
        assert_eq!(read.lagged(), written.lagged());
    }
}

fn signing_vector(v: &Vectors) -> (GroupSecret, Vec<u8>, [u8; 64]) {
    let secret_key = unhex(&v.file.signature.secret_key);
    let group = GroupSecret::from_seed(Seed::try_from(&secret_key[..32]).unwrap());
    assert_eq!(group.public().as_bytes(), &secret_key[32..]);
    let signature = hex_array::<64>(&v.file.signature.signature);
    let mut full = v.bytes(&v.file.signature.signed);
    full.extend_from_slice(b"1:~64:");
    full.extend_from_slice(&signature);
    full.push(b'e');
    (group, full, signature)
}

/// `config message signature` (lines 329-435).
#[test]
fn signature() {
    let v = Vectors::load();
    let (group, expected, signature) = signing_vector(&v);
    assert_eq!(group.sign(&v.bytes(&v.file.signature.signed)), signature);

    let mut m = MutableConfigMessage::new(10, DEFAULT_LAG);
    put(m.data_mut(), "foo", 123);
    put(m.data_mut(), "bar", bar_data());
    let written = m.finish(Some(&group));
    assert_bytes(written.as_bytes(), &expected);
    assert_eq!(written.signature(), Some(&signature));

    let public = group.public();
    let read = ConfigMessage::parse(&expected, Some(&public)).unwrap();
    assert_eq!(read.signature(), Some(&signature));
    assert_eq!(read.hash(), written.hash());
    assert_eq!(read.as_bytes(), &expected[..]);

    let mut broken = expected.clone();
    let at = broken.len() - 2;
    assert_eq!(broken[at], 0x07);
    broken[at] = 0x17;
    assert_eq!(
        ConfigMessage::parse(&broken, Some(&public)).unwrap_err(),
        ConfigError::BadSignature
    );
    assert_eq!(
        merge(&[&broken, &broken], Some(&public), true).unwrap_err(),
        ConfigError::NoValidMessages
    );
    for (inputs, good) in [([&broken, &expected], 1), ([&expected, &broken], 0)] {
        let inputs: Vec<&[u8]> = inputs.iter().map(|b| b.as_slice()).collect();
        match merge(&inputs, Some(&public), true).unwrap() {
            MergeOutcome::Adopted { index, message } => {
                assert_eq!(index, good);
                assert_eq!(message.seqno(), 10);
                assert_eq!(message.hash(), written.hash());
            }
            MergeOutcome::Merged(_) => panic!("one valid message must be adopted"),
        }
    }

    let mut unsigned = v.bytes(&v.file.signature.signed);
    unsigned.push(b'e');
    assert_eq!(
        ConfigMessage::parse(&unsigned, Some(&public)).unwrap_err(),
        ConfigError::MissingSignature
    );
    // Without a verifier (user configs) a signature is neither required nor checked.
    assert!(ConfigMessage::parse(&unsigned, None).is_ok());
    assert!(ConfigMessage::parse(&broken, None).is_ok());
}

fn data118() -> ConfigDict {
    dict(&[
        (
            "dictB",
            dict(&[
                ("changed", (-1).into()),
                ("foo", 123.into()),
                ("removed", "x".into()),
                ("removed2", "y".into()),
            ])
            .into(),
        ),
        (
            "dictC",
            dict(&[("x", dict(&[("y", 1.into())]).into())]).into(),
        ),
        ("good", set(&[i(99), i(456), s("bar")])),
        ("great", set(&[i(-42), s("omg")])),
        ("int0", (-9999).into()),
        ("int1", 100.into()),
        ("string1", "hello".into()),
        ("string2", "goodbye".into()),
    ])
}

/// `config message example 1` (lines 494-586): the ordinary update of
/// `docs/config-merge-logic.md`.
#[test]
fn example1_ordinary_update() {
    let v = Vectors::load();
    let mut m118 = MutableConfigMessage::new(118, 5);
    *m118.data_mut() = data118();
    let m118 = m118.finish(None);
    assert_bytes(m118.as_bytes(), &v.bytes(&v.file.example1.seqno118));

    let mut current = m118;
    for (seqno, name) in [(119, "h119"), (120, "h120"), (121, "h121"), (122, "h122")] {
        current = current.increment().finish(None);
        assert_eq!(current.seqno(), seqno);
        assert_eq!(*current.hash(), v.hash(name));
    }
    let mut m123 = current.increment();
    put(m123.data_mut(), "int1", 1);
    put(m123.data_mut(), "int2", 2);
    erase(m123.data_mut(), "int0");
    put(m123.data_mut(), "string1", "hello");
    assert_bytes(
        m123.finish(None).as_bytes(),
        &v.bytes(&v.file.example1.seqno123),
    );
}

/// `config message deserialization` (lines 588-659).
#[test]
fn deserialization() {
    let v = Vectors::load();
    let m = ConfigMessage::parse(&v.bytes(&v.file.example1.seqno123), None).unwrap();
    assert_eq!(m.seqno(), 123);
    assert_eq!(*m.hash(), v.hash("h123"));
    assert_eq!(
        m.diff(),
        &diff_of(&[
            ("int0", DiffEntry::Removed),
            ("int1", assigned()),
            ("int2", assigned())
        ])
    );
    assert_eq!(m.signature(), None);
    let mut expected = data118();
    put(&mut expected, "int1", 1);
    erase(&mut expected, "int0");
    put(&mut expected, "int2", 2);
    assert_eq!(m.data(), &expected);

    let next = m.increment();
    assert_eq!(next.seqno(), 124);
    assert!(next.diff().is_empty());
    let next = next.finish(None);
    assert_eq!(*next.hash(), v.hash("m124_incremented"));
    assert_bytes(next.as_bytes(), &v.bytes(&v.file.deserialization.seqno124));
}

/// `config message empty set/list deserialization` (lines 661-700).
#[test]
fn empty_containers_are_refused() {
    let v = Vectors::load();
    assert_eq!(
        ConfigMessage::parse(v.file.empty.empty_set.as_bytes(), None).unwrap_err(),
        ConfigError::EmptySet
    );
    assert_eq!(
        ConfigMessage::parse(v.file.empty.empty_dict.as_bytes(), None).unwrap_err(),
        ConfigError::EmptyDict
    );
}

/// The edits of the upstream test's `updates_124`.
fn updates_124(data: &mut ConfigDict) {
    put(
        data,
        "dictA",
        dict(&[("hello", 123.into()), ("goodbye", set(&[i(123), i(456)]))]),
    );
    let dict_b = sub(data, "dictB");
    put(dict_b, "changed", 1);
    put(dict_b, "added", 9999);
    put(dict_b, "nested", dict(&[("a", 1.into())]));
    erase(dict_b, "removed");
    erase(dict_b, "removed2");
    erase(data, "dictC");
    let good = set_mut(data, "good");
    good.insert(s("Foo"));
    good.remove(&i(456));
    good.insert(i(123));
    put(data, "int1", 42);
    erase(data, "string1");
    put(data, "string2", "hello");
    put(data, "string3", "omg");
    erase(data, "great");
}

fn m124(v: &Vectors) -> ConfigMessage {
    let mut m = ConfigMessage::parse(&v.bytes(&v.file.example1.seqno123), None)
        .unwrap()
        .increment();
    updates_124(m.data_mut());
    m.finish(None)
}

/// `config message example 2` (lines 702-807).
#[test]
fn example2_large_update() {
    let v = Vectors::load();
    let m = m124(&v);
    assert_bytes(m.as_bytes(), &v.bytes(&v.file.example2.seqno124));
    assert_eq!(*m.hash(), v.hash("h124"));
}

fn m125(m124: &ConfigMessage) -> (ConfigMessage, ConfigMessage) {
    let mut a = m124.increment();
    erase(sub(a.data_mut(), "dictB"), "foo");
    let mut b = m124.increment();
    put(b.data_mut(), "int1", 5);
    (a.finish(None), b.finish(None))
}

fn m120b() -> ConfigMessage {
    let mut m = MutableConfigMessage::new(118, 5)
        .finish(None)
        .increment()
        .finish(None)
        .increment();
    put(m.data_mut(), "too old", "won't see");
    m.finish(None)
}

fn merged(inputs: &[&ConfigMessage]) -> MutableConfigMessage {
    let raw: Vec<&[u8]> = inputs.iter().map(|m| m.as_bytes()).collect();
    match merge(&raw, None, false).unwrap() {
        MergeOutcome::Merged(m) => m,
        MergeOutcome::Adopted { index, .. } => panic!("expected a merge, adopted {index}"),
    }
}

/// `config message example 3 - simple conflict` (lines 902-958).
#[test]
fn example3_simple_conflict() {
    let v = Vectors::load();
    let m124 = m124(&v);
    let (a, b) = m125(&m124);
    assert_eq!(*a.hash(), v.hash("h125a"));
    assert_eq!(*b.hash(), v.hash("h125b"));
    assert!(a.hash() < b.hash());

    let m = merged(&[&a, &b]);
    assert_eq!(m.seqno(), 126);
    let expected = dict(&[
        (
            "dictA",
            dict(&[("goodbye", set(&[i(123), i(456)])), ("hello", 123.into())]).into(),
        ),
        (
            "dictB",
            dict(&[
                ("added", 9999.into()),
                ("changed", 1.into()),
                ("nested", dict(&[("a", 1.into())]).into()),
            ])
            .into(),
        ),
        ("good", set(&[i(99), i(123), s("Foo"), s("bar")])),
        ("int1", 5.into()),
        ("int2", 2.into()),
        ("string2", "hello".into()),
        ("string3", "omg".into()),
    ]);
    assert_eq!(m.data(), &expected);
    let expected_bytes = v.bytes(&v.file.example3.seqno126);
    assert_bytes(m.finish(None).as_bytes(), &expected_bytes);

    let too_old = m120b();
    for order in [
        vec![&b, &a],
        vec![&m124, &b, &a],
        vec![&b, &a, &m124],
        vec![&b, &too_old, &a],
    ] {
        assert_bytes(merged(&order).finish(None).as_bytes(), &expected_bytes);
    }
}

/// `config message example 4 - complex conflict resolution` (lines 960-1131).
#[test]
fn example4_complex_conflict() {
    let v = Vectors::load();
    let m123 = ConfigMessage::parse(&v.bytes(&v.file.example1.seqno123), None).unwrap();
    let mut m124a = m123.increment();
    put(sub(m124a.data_mut(), "dictB"), "foo", 66);
    put(sub(m124a.data_mut(), "dictB"), "answer", 42);
    let m124a = m124a.finish(None);
    let m124b = m124(&v);
    assert_eq!(*m124b.hash(), v.hash("h124"));
    let (m125a, m125b) = m125(&m124b);
    let m126a = merged(&[&m125a, &m125b]).finish(None);
    let too_old = m120b();
    let m126b = merged(&[&m125b, &m124a, &m125a, &m123, &too_old]).finish(None);
    assert!(m124a.hash() < m124b.hash());
    assert!(m126a.hash() < m126b.hash());

    let mut m127 = merged(&[&m126a, &m126b]);
    assert_eq!(m127.seqno(), 127);
    set_mut(sub(m127.data_mut(), "dictA"), "goodbye").insert(i(789));
    let m127 = m127.finish(None);
    let expected = v.bytes_with(
        &v.file.example4.seqno127,
        &[
            ("m124a", *m124a.hash()),
            ("m126a", *m126a.hash()),
            ("m126b", *m126b.hash()),
        ],
    );
    assert_bytes(m127.as_bytes(), &expected);

    let raw: Vec<&[u8]> = [&m127, &m125a, &m126b]
        .iter()
        .map(|m| m.as_bytes())
        .collect();
    match merge(&raw, None, false).unwrap() {
        MergeOutcome::Adopted { index, message } => {
            assert_eq!(index, 0);
            assert_eq!(message.seqno(), 127);
            assert_eq!(message.hash(), m127.hash());
        }
        MergeOutcome::Merged(_) => panic!("m127 includes the others"),
    }
}

/// §1.2 step 4: a member who can verify but not sign keeps the highest head instead of
/// merging; an admin merges and signs.
#[test]
fn verify_only_members_keep_the_highest_head() {
    let v = Vectors::load();
    let (group, _, _) = signing_vector(&v);
    let public = group.public();
    let mut base = MutableConfigMessage::new(1, DEFAULT_LAG);
    put(base.data_mut(), "n", "group");
    let base = base.finish(Some(&group));
    let mut a = base.increment();
    put(a.data_mut(), "a", 1);
    let mut b = base.increment();
    put(b.data_mut(), "b", 2);
    let (a, b) = (a.finish(Some(&group)), b.finish(Some(&group)));
    let highest = if a.id() > b.id() { &a } else { &b };
    let raw = [a.as_bytes(), b.as_bytes()];
    match merge(&raw, Some(&public), false).unwrap() {
        MergeOutcome::Adopted { message, .. } => assert_eq!(message.id(), highest.id()),
        MergeOutcome::Merged(_) => panic!("a member cannot sign a merge"),
    }
    let MergeOutcome::Merged(m) = merge(&raw, Some(&public), true).unwrap() else {
        panic!("an admin merges");
    };
    let written = m.finish(Some(&group));
    let read = ConfigMessage::parse(written.as_bytes(), Some(&public)).unwrap();
    assert_eq!(read.seqno(), 3);
    assert_eq!(
        read.data(),
        &dict(&[("a", 1.into()), ("b", 2.into()), ("n", "group".into())])
    );
}

/// Keys libsession does not know are kept in place and written back; keys before `#` or
/// after `~` and malformed lagged diffs are refused.
#[test]
fn unknown_keys_and_layout_rules() {
    let raw = b"d1:#i1e1:$i-5e1:&d1:ai1ee1:+l1:xe1:<le1:=de1:}3:zzze";
    let m = ConfigMessage::parse(raw, None).unwrap();
    let mut next = m.increment();
    put(next.data_mut(), "a", 2);
    let written = next.finish(None);
    let mut want = b"d1:#i2e1:$i-5e1:&d1:ai2ee1:+l1:xe1:<lli1e32:".to_vec();
    want.extend_from_slice(m.hash());
    want.extend_from_slice(b"deee1:=d1:a0:e1:}3:zzze");
    assert_bytes(written.as_bytes(), &want);

    for (bad, error) in [
        (&b"d1:!i1e1:#i1e1:&dee"[..], ConfigError::MissingSeqno),
        (b"d1:#1:x1:&dee", ConfigError::MissingSeqno),
        (b"d1:#i1ee", ConfigError::MissingData),
        (b"d1:#i1e1:&i1ee", ConfigError::MissingData),
        (b"d1:#i1e1:&de1:<i1ee", ConfigError::InvalidLaggedDiff),
        (
            b"d1:#i10e1:&de1:<lli9e0:deeee",
            ConfigError::InvalidLaggedDiff,
        ),
        (b"d1:#i1e1:&de1:=d1:ai1eee", ConfigError::InvalidDiff),
        (b"d1:#i1e1:&de1:=d1:a1:+ee", ConfigError::InvalidDiff),
        (b"d1:#i1e1:&de1:=d1:alleeee", ConfigError::InvalidDiff),
        (
            b"d1:#i1e1:&de1:=d1:all1:bi1eeleeee",
            ConfigError::SetUnsorted,
        ),
        (b"d1:#i1e1:&d1:ali1ei1eeee", ConfigError::SetUnsorted),
        (b"d1:#i1e1:&d1:all1:xeeee", ConfigError::SetNotScalar),
        (b"d1:#i1e1:&de1:~1:xe", ConfigError::InvalidSignature),
        (b"d1:#i1e1:&de1:\x7fi1ee", ConfigError::KeyAfterSignature),
        (b"li1ee", ConfigError::NotADict),
    ] {
        assert_eq!(
            ConfigMessage::parse(bad, None).unwrap_err(),
            error,
            "{}",
            printable(bad)
        );
    }
    // A lagged diff too old for the lag is dropped unread, as libsession does.
    let old = ConfigMessage::parse(b"d1:#i10e1:&de1:<lli1e1:xi1eee1:=dee", None).unwrap();
    assert!(old.lagged().is_empty());
    // ...but one at or above the current seqno is an error.
    assert_eq!(
        ConfigMessage::parse(b"d1:#i10e1:&de1:<lli10e1:xdeee1:=dee", None).unwrap_err(),
        ConfigError::InvalidLaggedDiff
    );
}
