//! `retrieve` (SD `swarmPolling.ts`): one signed batch to two swarm members in parallel, every
//! copy checked against its hash exactly once as it arrives, the answers merged by hash, and a
//! second round to the members not asked when only tampered copies of something came back.
//!
//! Each member is asked for what follows the last hash *it* returned ([`NamespaceCursor`]: one
//! cursor per member, as Session clients keep one per node), and each answer's page is handed
//! back ([`MemberPage`]) so the caller advances each member's cursor only over what it consumed
//! ([`cursors_after`]). One shared cursor let a member that lacked a message (a dropped store,
//! replication lag, or a lie) move the cursor past a message an honest member held.
//!
//! The check lives here, and only here: a message whose data does not hash to its swarm hash
//! was altered by the node that served it. Callers get each item already marked
//! [`ItemData::Intact`] or [`ItemData::Tampered`] and never hash again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::future::join_all;
use rand::rngs::OsRng;

use super::{exhausted, invalid, Next};
use crate::network::client::{Carries, Inner, SessionNetwork};
use crate::network::error::{NetworkError, SendError};
use crate::network::node::ServiceNode;
use crate::network::swarms::pick_members_preferring;
use crate::network::transport::{classify_subresult, SnodeAnswer};
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::response::{BatchResponse, RetrieveResponse, RetrievedMessage};
use crate::protocol::storage::{
    check_batch_len, message_hash, retrieve_signed, AccountId, MessageHash, Namespace,
    RequestError, RetrieveParams, Signer, StorageRequest,
};

/// Swarm members a retrieve asks in parallel (SD `RETRIEVE_SNODES_COUNT`).
pub const RETRIEVE_MEMBERS: usize = 2;

/// One message of a retrieve, its data decoded and checked against its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrievedItem {
    /// Its swarm hash (the cursor and de-duplication key).
    pub hash: MessageHash,
    /// Store timestamp, ms.
    pub timestamp: u64,
    /// Expiry, ms.
    pub expiration: u64,
    /// The data, marked by whether it hashes to `hash`.
    pub data: ItemData,
}

/// A retrieved item's data, after the one hash check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemData {
    /// The decoded data hashes to the item's hash: exactly what was stored.
    Intact(Vec<u8>),
    /// The data does not hash to the item's hash (or is not even base64): the serving node
    /// altered it. Holds the decoded bytes as served (empty when they were not base64).
    Tampered(Vec<u8>),
}

impl RetrievedItem {
    /// Decodes `message` (as `account`'s swarm served it in `ns`) and checks its hash.
    pub fn check(account: &AccountId, ns: Namespace, message: &RetrievedMessage) -> Self {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD.decode(&message.data);
        let data = match decoded {
            Ok(d) if message_hash(account, ns, &d) == message.hash => ItemData::Intact(d),
            Ok(d) => ItemData::Tampered(d),
            Err(_) => ItemData::Tampered(Vec::new()),
        };
        Self {
            hash: message.hash.clone(),
            timestamp: message.timestamp,
            expiration: message.expiration,
            data,
        }
    }

    /// Whether the data is exactly what was stored.
    pub fn is_intact(&self) -> bool {
        matches!(self.data, ItemData::Intact(_))
    }
}

/// Where one namespace resumes: each member's own last hash, and the hash sent to a member
/// with none of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceCursor {
    /// The namespace.
    pub namespace: Namespace,
    /// The last hash each member returned (and the caller consumed).
    pub by_node: HashMap<SnodeEd25519, MessageHash>,
    /// Sent to a member not in `by_node` (`None`: everything it holds).
    pub fallback: Option<MessageHash>,
}

impl NamespaceCursor {
    /// A cursor of `namespace` with no member's own cursor yet, `fallback` for all.
    pub fn new(namespace: Namespace, fallback: Option<MessageHash>) -> Self {
        Self {
            namespace,
            by_node: HashMap::new(),
            fallback,
        }
    }

    /// The last hash to send `node`.
    pub fn for_node(&self, node: &SnodeEd25519) -> Option<MessageHash> {
        self.by_node.get(node).or(self.fallback.as_ref()).cloned()
    }

    /// Records advanced cursors (as [`cursors_after`] returns them).
    pub fn advance(&mut self, advanced: &[(SnodeEd25519, MessageHash)]) {
        for (node, hash) in advanced {
            self.by_node.insert(*node, hash.clone());
        }
    }
}

/// What one member returned for one namespace, in its own store order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPage {
    /// The member.
    pub node: SnodeEd25519,
    /// The last hash it was sent.
    pub sent: Option<MessageHash>,
    /// The hashes it returned, in its order.
    pub hashes: Vec<MessageHash>,
    /// It said more messages wait behind these.
    pub more: bool,
}

impl MemberPage {
    /// The page moved past what the member was sent: it returned something new to it.
    fn advanced(&self) -> bool {
        self.hashes
            .last()
            .is_some_and(|last| Some(last) != self.sent.as_ref())
    }
}

/// Each member's next cursor once the items whose hashes are in `consumed` were taken: the
/// last hash of the longest prefix of its own page that was consumed entirely. A page is in
/// the member's store order, so nothing it holds before that hash is left behind; an item
/// not consumed (the poll stopped before a tampered copy) is asked for again from every
/// member that returned it. Members whose cursor does not move are left out.
pub fn cursors_after(
    pages: &[MemberPage],
    consumed: &HashSet<MessageHash>,
) -> Vec<(SnodeEd25519, MessageHash)> {
    let mut out: Vec<(SnodeEd25519, MessageHash)> = Vec::new();
    for page in pages {
        let last = page
            .hashes
            .iter()
            .take_while(|h| consumed.contains(*h))
            .last();
        if let Some(last) = last.filter(|l| Some(*l) != page.sent.as_ref()) {
            // A member asked twice (the tampered round) keeps its furthest page.
            out.retain(|(n, _)| *n != page.node);
            out.push((page.node, last.clone()));
        }
    }
    out
}

/// Items of one namespace from a retrieve, merged over the members asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceMessages {
    /// The namespace.
    pub namespace: Namespace,
    /// Items, oldest first by store timestamp. An item is [`ItemData::Tampered`] only when no
    /// member asked served it intact.
    pub messages: Vec<RetrievedItem>,
    /// A member whose page moved past its cursor said more messages wait. A member that says
    /// so with nothing new is not believed (it would make the caller poll again at once,
    /// forever).
    pub more: bool,
    /// Each member's page, for [`cursors_after`].
    pub pages: Vec<MemberPage>,
}

/// One namespace of one member's answer, every copy checked.
#[derive(Debug, Clone)]
struct CheckedPage {
    items: Vec<RetrievedItem>,
    more: bool,
}

/// One member's checked answer: its pages in the order of the cursors.
#[derive(Debug, Clone)]
struct MemberAnswer {
    node: SnodeEd25519,
    /// The last hash it was sent, per namespace (the order of the cursors).
    sent: Vec<Option<MessageHash>>,
    pages: Vec<CheckedPage>,
}

/// One member's retrieve answer: per-namespace responses in request order. Reads what a node
/// sent back (untrusted): a batch of exactly `count` results, each a `retrieve` answer or a
/// failure classified like any RPC status. Public for the fuzz targets.
pub fn accept_retrieve(
    node: &ServiceNode,
    answer: SnodeAnswer,
    count: usize,
) -> Result<Vec<RetrieveResponse>, SendError> {
    let batch: BatchResponse =
        serde_json::from_value(answer.body).map_err(|_| invalid(node, "batch"))?;
    if batch.results.len() != count {
        return Err(invalid(node, "batch"));
    }
    let mut out = Vec::with_capacity(count);
    for r in batch.results {
        if !(200..300).contains(&r.code) {
            // LSQ treats a batch whose subrequests fail as that failure; we do so for any
            // failing subrequest (its body classifies it: 421 swarm, 406 clock, …).
            return Err(classify_subresult(node, r.code, r.body)
                .err()
                .unwrap_or_else(|| invalid(node, "retrieve")));
        }
        out.push(serde_json::from_value(r.body).map_err(|_| invalid(node, "retrieve"))?);
    }
    Ok(out)
}

/// Messages taken from one member's page of one namespace; the rest wait for the next poll
/// (the page counts as `more`, and the member's cursor stops at the last one taken), so a
/// member cannot make one poll hold an unbounded list (issue 13, attack 5).
pub const MAX_MESSAGES_PER_PAGE: usize = 1_000;

/// Checks every copy of one member's answer against its hash (the one place this happens).
fn check_answer(
    account: &AccountId,
    cursors: &[NamespaceCursor],
    answer: Vec<RetrieveResponse>,
) -> Vec<CheckedPage> {
    cursors
        .iter()
        .zip(answer)
        .map(|(cursor, resp)| CheckedPage {
            items: resp
                .messages
                .iter()
                .take(MAX_MESSAGES_PER_PAGE)
                .map(|m| RetrievedItem::check(account, cursor.namespace, m))
                .collect(),
            more: resp.more || resp.messages.len() > MAX_MESSAGES_PER_PAGE,
        })
        .collect()
}

/// One round's retrieves, one per cursor, each signed once for every member the round asks
/// ([`retrieve_signed`]: the signature covers only the namespace and the time).
struct SignedRound(Vec<RetrieveParams>);

impl SignedRound {
    fn sign(
        account: &AccountId,
        signer: &Signer<'_>,
        cursors: &[NamespaceCursor],
        now: u64,
    ) -> Self {
        let signed = cursors
            .iter()
            .map(|c| retrieve_signed(account, c.namespace, now, signer));
        Self(signed.collect())
    }

    /// The batch for `node`: each retrieve from that node's own last hash.
    fn for_node(
        &self,
        node: &SnodeEd25519,
        cursors: &[NamespaceCursor],
    ) -> Result<StorageRequest, RequestError> {
        let subs = (self.0.iter().zip(cursors)).map(|(signed, cursor)| {
            StorageRequest::Retrieve(RetrieveParams {
                last_hash: cursor.for_node(node),
                ..signed.clone()
            })
        });
        StorageRequest::batch(subs.collect())
    }
}

/// Sends each node of `nodes` at once its retrieve request (`build` makes it: a batch of the
/// `cursors`' namespaces with that node's own last hashes); each member's checked answer or
/// error, in the order of `nodes`.
async fn ask_members(
    inner: &Arc<Inner>,
    account: &AccountId,
    nodes: &[ServiceNode],
    build: &(dyn Fn(&SnodeEd25519) -> Result<StorageRequest, NetworkError> + Sync),
    cursors: &[NamespaceCursor],
) -> Result<Vec<Result<MemberAnswer, SendError>>, NetworkError> {
    let requests = nodes
        .iter()
        .map(|node| build(&node.ed25519))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(join_all(
        nodes
            .iter()
            .zip(requests)
            .map(|(node, request)| async move {
                inner
                    .send_batched(account, node, request)
                    .await
                    .and_then(|a| accept_retrieve(node, a, cursors.len()))
                    .map(|answer| MemberAnswer {
                        node: node.ed25519,
                        sent: cursors.iter().map(|c| c.for_node(&node.ed25519)).collect(),
                        pages: check_answer(account, cursors, answer),
                    })
            }),
    )
    .await)
}

/// Merges members' checked answers by hash. An intact copy wins over a tampered one (a
/// tampering node cannot hide the honest copy); tampered copies are still returned when no
/// better one exists, for the message layer to count and stop before.
fn merge(cursors: &[NamespaceCursor], answers: &[MemberAnswer]) -> Vec<NamespaceMessages> {
    let mut out: Vec<NamespaceMessages> = cursors
        .iter()
        .map(|cursor| NamespaceMessages {
            namespace: cursor.namespace,
            messages: Vec::new(),
            more: false,
            pages: Vec::new(),
        })
        .collect();
    for answer in answers {
        for ((slot, page), sent) in out.iter_mut().zip(&answer.pages).zip(&answer.sent) {
            let member = MemberPage {
                node: answer.node,
                sent: sent.clone(),
                hashes: page.items.iter().map(|m| m.hash.clone()).collect(),
                more: page.more,
            };
            slot.more |= member.more && member.advanced();
            slot.pages.push(member);
            let mut index: HashMap<MessageHash, usize> = slot
                .messages
                .iter()
                .enumerate()
                .map(|(i, m)| (m.hash.clone(), i))
                .collect();
            for m in &page.items {
                match index.get(&m.hash).and_then(|i| slot.messages.get_mut(*i)) {
                    Some(existing) => {
                        if !existing.is_intact() && m.is_intact() {
                            *existing = m.clone();
                        }
                    }
                    None => {
                        index.insert(m.hash.clone(), slot.messages.len());
                        slot.messages.push(m.clone());
                    }
                }
            }
        }
    }
    for slot in &mut out {
        slot.messages.sort_by_key(|m| m.timestamp);
    }
    out
}

/// The cursors to ask the members not asked yet with, after a round that returned tampered
/// copies: for each namespace where some member served one, every other member is sent the
/// last hash that member was sent (from the start when it was sent none); the other
/// namespaces keep their cursors.
fn liars_positions(cursors: &[NamespaceCursor], answers: &[MemberAnswer]) -> Vec<NamespaceCursor> {
    cursors
        .iter()
        .enumerate()
        .map(|(i, cursor)| {
            let liar = answers
                .iter()
                .find(|a| (a.pages.get(i)).is_some_and(|p| p.items.iter().any(|m| !m.is_intact())));
            match liar.and_then(|a| a.sent.get(i)) {
                Some(from) => NamespaceCursor::new(cursor.namespace, from.clone()),
                None => cursor.clone(),
            }
        })
        .collect()
}

/// Whether any merged item came back only as tampered copies.
fn has_tampered(merged: &[NamespaceMessages]) -> bool {
    merged
        .iter()
        .any(|slot| slot.messages.iter().any(|m| !m.is_intact()))
}

impl SessionNetwork {
    /// Retrieves each `(namespace, last_hash)`, the same last hash sent to every member; see
    /// [`SessionNetwork::retrieve_from`].
    pub async fn retrieve(
        &self,
        account: &AccountId,
        signer: &Signer<'_>,
        cursors: &[(Namespace, Option<MessageHash>)],
    ) -> Result<Vec<NamespaceMessages>, NetworkError> {
        let cursors: Vec<NamespaceCursor> = cursors
            .iter()
            .map(|(ns, last)| NamespaceCursor::new(*ns, last.clone()))
            .collect();
        self.retrieve_from(account, signer, &cursors).await
    }

    /// Retrieves each namespace of `cursors` in one signed `batch` per member, from two random
    /// swarm members in parallel, each asked from its own last hash, merged by hash (SD
    /// `swarmPolling.ts`). At most 20 namespaces. Every item comes back checked:
    /// [`ItemData::Intact`] or [`ItemData::Tampered`]; each member's page comes back too, for
    /// [`cursors_after`].
    #[tracing::instrument(name = "network.retrieve", skip_all)]
    pub async fn retrieve_from(
        &self,
        account: &AccountId,
        signer: &Signer<'_>,
        cursors: &[NamespaceCursor],
    ) -> Result<Vec<NamespaceMessages>, NetworkError> {
        if cursors.is_empty() {
            return Ok(Vec::new());
        }
        check_batch_len(cursors.len())?;
        let inner = &self.inner;
        let mut tried = Vec::new();
        let mut clock_retried = false;
        let max = inner.config.max_attempts.max(1);
        let mut last = None;
        // Aim for two members' answers (a member that missed a store answers "nothing"
        // successfully); a failed member is replaced by an untried one in the next round.
        let mut answers = Vec::new();
        for _ in 0..max {
            let members = inner.swarm_for(account).await?;
            let want = RETRIEVE_MEMBERS.saturating_sub(answers.len());
            // Members with a batch forming first: accounts of one swarm meet in one request.
            let forming = inner.batches.forming_nodes(Carries::Retrieves);
            let mut picked = pick_members_preferring(&mut OsRng, &members, &tried, want, &forming);
            if !answers.is_empty() {
                picked.retain(|n| !tried.contains(&n.ed25519));
            }
            if picked.is_empty() {
                if answers.is_empty() {
                    return Err(NetworkError::NoSwarm("swarm is empty".into()));
                }
                break;
            }
            tried.extend(picked.iter().map(|n| n.ed25519));
            let round = SignedRound::sign(account, signer, cursors, inner.clock.now_ms());
            let build = |node: &SnodeEd25519| Ok(round.for_node(node, cursors)?);
            let results = ask_members(inner, account, &picked, &build, cursors).await?;
            let mut fatal = None;
            for (node, result) in picked.iter().zip(results) {
                match result {
                    Ok(a) => answers.push(a),
                    Err(e) => {
                        tracing::debug!(%node, error = %e, "retrieve failed");
                        if let Next::Fail(f) = inner
                            .after_failure(account, node, &e, &mut clock_retried)
                            .await
                        {
                            fatal = Some(f);
                        }
                        last = Some(e);
                    }
                }
            }
            if answers.len() >= RETRIEVE_MEMBERS {
                break;
            }
            if let Some(f) = fatal.filter(|_| answers.is_empty()) {
                return Err(f);
            }
        }
        if answers.is_empty() {
            return Err(exhausted(max, last));
        }
        let merged = merge(cursors, &answers);
        if !has_tampered(&merged) {
            return Ok(merged);
        }
        // Some message came back only as copies that do not match their hash: a dishonest
        // member tampered with it. Ask every member not asked yet before handing it on, so
        // one honest member is enough to deliver it (threat model: nodes may modify data).
        // The swarm is looked up afresh: failures on paths through other nodes can have
        // dropped an honest member from this client's pool and cached swarm.
        let Ok(members) = Box::pin(inner.lookup_swarm(account)).await else {
            return Ok(merged);
        };
        // The others are asked from where the member that served the altered copy was asked:
        // their own cursors may be past the message already (a member not asked for a while
        // re-serves what others delivered long ago), and then they would not return it. So a
        // member asked already, but from elsewhere, is asked again.
        let from_there = liars_positions(cursors, &answers);
        let position = |ed: &SnodeEd25519| -> Vec<Option<MessageHash>> {
            from_there.iter().map(|c| c.for_node(ed)).collect()
        };
        let rest: Vec<ServiceNode> = members
            .into_iter()
            .filter(|m| {
                !(answers.iter()).any(|a| a.node == m.ed25519 && a.sent == position(&m.ed25519))
            })
            .collect();
        if rest.is_empty() {
            return Ok(merged);
        }
        tracing::debug!(
            others = rest.len(),
            "tampered copies; asking the other members"
        );
        let round = SignedRound::sign(account, signer, &from_there, inner.clock.now_ms());
        let build = |node: &SnodeEd25519| Ok(round.for_node(node, &from_there)?);
        let results = ask_members(inner, account, &rest, &build, &from_there).await?;
        for (node, result) in rest.iter().zip(results) {
            match result {
                Ok(a) => answers.push(a),
                Err(e) => tracing::debug!(%node, error = %e, "retrieve failed"),
            }
        }
        Ok(merge(cursors, &answers))
    }
}

#[cfg(test)]
#[path = "retrieve_cursor_tests.rs"]
mod cursor_tests;

#[cfg(test)]
#[path = "retrieve_tests.rs"]
mod tests;
