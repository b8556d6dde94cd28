//! Span contexts carried across the database hops of a trace: a message queued by the API and
//! sent later by its Conversation actor, an event stored by a send or a poll and delivered later
//! by a webhook worker. Within one process an in-memory map is enough (another replica simply
//! starts a new trace).
//!
//! The map is bounded (oldest entries go first) and empty unless an exporter is installed
//! ([`set_enabled`]), so without telemetry every call is one atomic load.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};

use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Most contexts remembered; a queued message or an undelivered event older than this many
/// newer ones starts a fresh trace.
const CAPACITY: usize = 16_384;

static ENABLED: AtomicBool = AtomicBool::new(false);
static CONTEXTS: LazyLock<Mutex<Bounded>> = LazyLock::new(Mutex::default);

/// What a context is remembered for.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// A queued outgoing message, by message id.
    Message(&'a str),
    /// A stored event, by event id (`evt_…`).
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

fn contexts() -> std::sync::MutexGuard<'static, Bounded> {
    // The map holds plain data; a panic elsewhere while locked leaves it usable.
    CONTEXTS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Turns remembering on or off (on while an exporter is installed).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
    if !enabled {
        let mut c = contexts();
        c.map.clear();
        c.order.clear();
    }
}

/// Remembers the current span's context for `key`.
pub fn remember(key: Key<'_>) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let cx = tracing::Span::current().context();
    if cx.span().span_context().is_valid() {
        contexts().insert(key.text(), cx);
    }
}

/// Makes `span` a child of the context remembered for `key`, if any. Call before the span is
/// first entered.
pub fn adopt(span: &tracing::Span, key: Key<'_>) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let cx = contexts().map.get(&key.text()).cloned();
    if let Some(cx) = cx {
        // Fails only when no OpenTelemetry layer is installed: then there is nothing to link.
        let _ = span.set_parent(cx);
    }
}

/// Forgets `key` (the message is settled; its event carries the context on).
pub fn forget(key: Key<'_>) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    // Its slot in `order` stays until it ages out: ids are never reused, so that is harmless.
    contexts().map.remove(&key.text());
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
