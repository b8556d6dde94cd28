//! Per-member cursors (issue 13, attack 4): swarm members modelled as ordered stores that miss
//! some messages, page their answers and report any timestamps they like; the poll loop the
//! inbox runs ([`merge`], consume, [`cursors_after`]) never loses a message some member holds.

use base64::Engine as _;
use proptest::prelude::*;

use super::*;
use crate::network::ops::tests::account;

/// A swarm member: the messages it holds, in its store order.
struct Member {
    node: SnodeEd25519,
    held: Vec<RetrievedMessage>,
    /// Messages per page (it says `more` when it held back some).
    page: usize,
    /// It says `more` whatever it has.
    lies_about_more: bool,
}

impl Member {
    fn new(id: u8, page: usize) -> Self {
        Self {
            node: SnodeEd25519::from_bytes([id; 32]),
            held: Vec::new(),
            page,
            lies_about_more: false,
        }
    }

    /// What it answers after `last` (everything when it does not know `last`, as the storage
    /// server does).
    fn serve(&self, last: Option<&MessageHash>) -> RetrieveResponse {
        let start = last
            .and_then(|l| self.held.iter().position(|m| m.hash == *l))
            .map_or(0, |i| i + 1);
        let rest = self.held.get(start..).unwrap_or_default();
        let messages: Vec<RetrievedMessage> = rest.iter().take(self.page).cloned().collect();
        RetrieveResponse {
            more: self.lies_about_more || rest.len() > messages.len(),
            messages,
            t: None,
            hf: None,
        }
    }
}

/// A message numbered `i`, as a member reports it with timestamp `ts`.
fn message(acct: &AccountId, i: u32, ts: u64) -> RetrievedMessage {
    let data = format!("message {i}").into_bytes();
    RetrievedMessage {
        hash: message_hash(acct, Namespace(0), &data),
        timestamp: ts,
        expiration: u64::MAX,
        data: base64::engine::general_purpose::STANDARD.encode(&data),
    }
}

/// One poll of `asked` as the inbox runs it: each from its own cursor, merged, every item
/// consumed, each member's cursor advanced over its consumed prefix. Returns whether the merged
/// answer said more messages wait.
fn poll(
    acct: &AccountId,
    asked: &[&Member],
    cursor: &mut NamespaceCursor,
    delivered: &mut HashSet<MessageHash>,
) -> bool {
    let cursors = [cursor.clone()];
    let answers: Vec<MemberAnswer> = asked
        .iter()
        .map(|m| MemberAnswer {
            node: m.node,
            sent: vec![cursor.for_node(&m.node)],
            pages: check_answer(
                acct,
                &cursors,
                vec![m.serve(cursor.for_node(&m.node).as_ref())],
            ),
        })
        .collect();
    let merged = merge(&cursors, &answers);
    let consumed: HashSet<MessageHash> =
        merged[0].messages.iter().map(|m| m.hash.clone()).collect();
    delivered.extend(consumed.iter().cloned());
    cursor.advance(&cursors_after(&merged[0].pages, &consumed));
    merged[0].more
}

/// The gateway before per-member cursors: one cursor, the last item of the merged page
/// (ordered by node-reported timestamp), sent to every member.
fn poll_one_cursor(
    acct: &AccountId,
    asked: &[&Member],
    cursor: &mut Option<MessageHash>,
    delivered: &mut HashSet<MessageHash>,
) {
    let cursors = [NamespaceCursor::new(Namespace(0), cursor.clone())];
    let answers: Vec<MemberAnswer> = asked
        .iter()
        .map(|m| MemberAnswer {
            node: m.node,
            sent: vec![cursor.clone()],
            pages: check_answer(acct, &cursors, vec![m.serve(cursor.as_ref())]),
        })
        .collect();
    let merged = merge(&cursors, &answers);
    delivered.extend(merged[0].messages.iter().map(|m| m.hash.clone()));
    if let Some(last) = merged[0].messages.last() {
        *cursor = Some(last.hash.clone());
    }
}

#[test]
fn a_member_that_missed_a_message_cannot_move_an_honest_members_cursor_past_it() {
    let acct = account();
    let (one, two) = (message(&acct, 1, 1), message(&acct, 2, 2));
    let mut honest = Member::new(1, 100);
    honest.held = vec![one.clone(), two.clone()];
    // It missed the store of `one` (dropped, lagging, or lying about it).
    let mut lagging = Member::new(2, 100);
    lagging.held = vec![two.clone()];

    // The honest member's answer is lost once (a path failed); the lagging one answers.
    // One shared cursor: it moves to `two`, and the honest member, asked from `two`, never
    // returns `one`.
    let mut old = HashSet::new();
    let mut shared = None;
    poll_one_cursor(&acct, &[&lagging], &mut shared, &mut old);
    poll_one_cursor(&acct, &[&honest, &lagging], &mut shared, &mut old);
    assert!(
        !old.contains(&one.hash),
        "the attack: one shared cursor loses it"
    );

    // Per-member cursors: the honest member is asked from its own (none yet).
    let mut delivered = HashSet::new();
    let mut cursor = NamespaceCursor::new(Namespace(0), None);
    poll(&acct, &[&lagging], &mut cursor, &mut delivered);
    assert_eq!(cursor.for_node(&honest.node), None);
    poll(&acct, &[&honest, &lagging], &mut cursor, &mut delivered);
    assert!(delivered.contains(&one.hash) && delivered.contains(&two.hash));
    assert_eq!(cursor.for_node(&honest.node), Some(two.hash.clone()));
    assert_eq!(cursor.for_node(&lagging.node), Some(two.hash));
}

#[test]
fn cursors_stop_before_what_was_not_consumed() {
    let h = |i: u32| message(&account(), i, 0).hash;
    let node = SnodeEd25519::from_bytes([7; 32]);
    let page = |sent: Option<MessageHash>, hashes: Vec<MessageHash>| MemberPage {
        node,
        sent,
        hashes,
        more: false,
    };
    let consumed: HashSet<MessageHash> = [h(1), h(3)].into_iter().collect();
    // `2` was not consumed (the poll stopped before its tampered copy): the cursor stays
    // before it, even though `3` was.
    assert_eq!(
        cursors_after(&[page(None, vec![h(1), h(2), h(3)])], &consumed),
        vec![(node, h(1))]
    );
    assert!(cursors_after(&[page(None, vec![h(2), h(3)])], &consumed).is_empty());
    assert!(
        cursors_after(&[page(Some(h(1)), vec![h(1)])], &consumed).is_empty(),
        "an unchanged cursor is not written again"
    );
}

#[test]
fn more_from_a_member_with_nothing_new_is_not_believed() {
    let acct = account();
    let mut liar = Member::new(1, 100);
    liar.lies_about_more = true;
    let mut cursor = NamespaceCursor::new(Namespace(0), None);
    let mut delivered = HashSet::new();
    assert!(
        !poll(&acct, &[&liar], &mut cursor, &mut delivered),
        "empty page"
    );
    liar.held = vec![message(&acct, 1, 1)];
    assert!(
        poll(&acct, &[&liar], &mut cursor, &mut delivered),
        "a new item: believed"
    );
    assert!(
        !poll(&acct, &[&liar], &mut cursor, &mut delivered),
        "the same page again: not believed"
    );
    // An honest member's `more` drains its backlog a page at a time.
    let mut honest = Member::new(2, 3);
    honest.held = (0..10).map(|i| message(&acct, i, u64::from(i))).collect();
    let mut polls = 0;
    while poll(&acct, &[&honest], &mut cursor, &mut delivered) {
        polls += 1;
        assert!(polls < 10);
    }
    assert_eq!(polls, 3, "pages of 3, 3, 3 said more; the last one did not");
    assert!(honest.held.iter().all(|m| delivered.contains(&m.hash)));
}

/// One step of a random run: a message arrives at the members in `holders` (a bit mask; at
/// least one holds it), or the members in `asked` are polled.
#[derive(Debug, Clone)]
enum Step {
    Arrive { holders: u8, ts: [u64; 3] },
    Poll { asked: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1u8..8, any::<[u64; 3]>()).prop_map(|(holders, ts)| Step::Arrive { holders, ts }),
        (1u8..4).prop_map(|asked| Step::Poll {
            asked: asked | (asked << 1) & 0b110
        }),
        (1u8..8).prop_map(|asked| Step::Poll { asked }),
    ]
}

proptest! {
    /// Members that miss stores, page their answers and report arbitrary timestamps (a
    /// member's own order is its store order, as on a storage server): once every member has
    /// been polled until it says nothing more, every message some member holds was delivered.
    #[test]
    fn no_message_a_member_holds_is_lost(
        steps in proptest::collection::vec(step(), 1..40),
        pages in any::<[u8; 3]>(),
    ) {
        let acct = account();
        let mut members: Vec<Member> = (0u8..3)
            .map(|i| Member::new(i + 1, usize::from(pages[usize::from(i)] % 4) + 1))
            .collect();
        let mut cursor = NamespaceCursor::new(Namespace(0), None);
        let mut delivered = HashSet::new();
        let mut sent = Vec::new();
        for (i, step) in steps.into_iter().enumerate() {
            match step {
                Step::Arrive { holders, ts } => {
                    let n = u32::try_from(i).unwrap_or(u32::MAX);
                    for (k, member) in members.iter_mut().enumerate() {
                        if holders & (1 << k) != 0 {
                            member.held.push(message(&acct, n, ts[k]));
                        }
                    }
                    sent.push(message(&acct, n, 0).hash);
                }
                Step::Poll { asked } => {
                    let asked: Vec<&Member> = members
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| asked & (1 << k) != 0)
                        .map(|(_, m)| m)
                        .collect();
                    poll(&acct, &asked, &mut cursor, &mut delivered);
                }
            }
        }
        for member in &members {
            let mut rounds = 0;
            while poll(&acct, &[member], &mut cursor, &mut delivered) {
                rounds += 1;
                prop_assert!(rounds <= 40, "a member's backlog must drain");
            }
        }
        for hash in &sent {
            prop_assert!(delivered.contains(hash), "lost {hash:?}");
        }
    }
}
