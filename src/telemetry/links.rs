//! Span contexts carried across the database hops of a trace: a message queued by the API and
//! sent later by its Conversation actor, an event stored by a send or a poll and delivered later
//! by a webhook worker. Within one process an in-memory map is enough (another replica simply
//! starts a new trace).
//!
//! The map is bounded (oldest entries go first) and empty unless an exporter is installed
//! ([`set_enabled`]), so without telemetry every call is one atomic load. Each gateway has its
//! own map ([`Links`]), carried in its [`crate::metrics::Metrics`], the one observability handle
//! the API, the actors and the webhook workers already share.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Most contexts remembered; a queued message or an undelivered event older than this many
/// newer ones starts a fresh trace.
const CAPACITY: usize = 16_384;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// What a context is remembered for.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// A queued outgoing message, by message id.
    Message(&'a str),
    /// A stored event, by event id (`evt_…`, unique within one database only).
    Event(&'a str),
}

impl Key<'_> {
    fn text(self) -> String {
        match self {
            Key::Message(id) => format!("msg:{id}"),
            Key::Event(id) => format!("evt:{id}"),
        }
    }
}

#[derive(Default)]
struct Bounded {
    map: HashMap<String, opentelemetry::Context>,
    order: VecDeque<String>,
}

impl Bounded {
    fn insert(&mut self, key: String, cx: opentelemetry::Context) {
        if self.map.insert(key.clone(), cx).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

/// Turns remembering on or off for every gateway of the process (on while an exporter is
/// installed: the subscriber is process-wide too).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// One gateway's remembered contexts. One per gateway, not per process: event ids are unique
/// only within a database, and tests run several gateways in one process. Cheap to clone.
#[derive(Clone, Default)]
pub struct Links {
    contexts: Arc<Mutex<Bounded>>,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Links")
    }
}

impl Links {
    fn contexts(&self) -> std::sync::MutexGuard<'_, Bounded> {
        // The map holds plain data; a panic elsewhere while locked leaves it usable.
        self.contexts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers the current span's context for `key`.
    pub fn remember(&self, key: Key<'_>) {
        if !ENABLED.load(Ordering::Relaxed) {
            return;
        }
        let cx = tracing::Span::current().context();
        if cx.span().span_context().is_valid() {
            self.contexts().insert(key.text(), cx);
        }
    }

    /// Makes `span` a child of the context remembered for `key`, if any. Call before the span
    /// is first entered.
    pub fn adopt(&self, span: &tracing::Span, key: Key<'_>) {
        if !ENABLED.load(Ordering::Relaxed) {
            return;
        }
        let cx = self.contexts().map.get(&key.text()).cloned();
        if let Some(cx) = cx {
            // Fails only when no OpenTelemetry layer is installed: then there is nothing to link.
            let _ = span.set_parent(cx);
        }
    }

    /// Forgets `key` (the message is settled; its event carries the context on).
    pub fn forget(&self, key: Key<'_>) {
        if !ENABLED.load(Ordering::Relaxed) {
            return;
        }
        // Its slot in `order` stays until it ages out: ids are never reused, so that is harmless.
        self.contexts().map.remove(&key.text());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_keeps_only_the_newest_entries() {
        let mut b = Bounded::default();
        for i in 0..CAPACITY + 10 {
            b.insert(format!("k{i}"), opentelemetry::Context::new());
        }
        assert_eq!(b.map.len(), CAPACITY);
        assert!(!b.map.contains_key("k0"));
        assert!(b.map.contains_key(&format!("k{}", CAPACITY + 9)));
    }
}
