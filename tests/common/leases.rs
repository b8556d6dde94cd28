//! Lease windows, as the replica tests record and check them: every acquisition of an account
//! (who, under which epoch, from when to when, database clock ms) from the managers'
//! [`LeaseEvent`]s, and the safety check that no two windows of one account overlap.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use session_gateway::leases::LeaseEvent;

/// One acquisition; `end` is `None` while held.
#[derive(Clone, Debug)]
pub struct Window {
    pub owner: String,
    pub epoch: i64,
    pub start: i64,
    pub end: Option<i64>,
}

/// Every account's windows, in the order recorded.
pub type Windows = Arc<Mutex<BTreeMap<String, Vec<Window>>>>;

/// Records one manager event: an acquisition opens a window, a loss closes the open one of
/// that owner and epoch at the hold's reported end.
pub fn record(windows: &Windows, event: LeaseEvent) {
    let mut windows = windows.lock().unwrap();
    match event {
        LeaseEvent::Acquired(leases) => {
            for l in leases {
                windows
                    .entry(l.account.to_string())
                    .or_default()
                    .push(Window {
                        owner: l.owner.to_string(),
                        epoch: l.epoch,
                        start: l.acquired_at,
                        end: None,
                    });
            }
        }
        LeaseEvent::Lost(leases) => {
            for l in leases {
                let list = windows.get_mut(&*l.account).unwrap();
                let open = list
                    .iter_mut()
                    .find(|w| *w.owner == *l.owner && w.epoch == l.epoch)
                    .unwrap();
                open.end = Some(l.expires_at);
            }
        }
    }
}

/// Asserts that no two windows of one account overlap and that epochs grow with each holder;
/// returns each account's windows sorted by start.
pub fn assert_disjoint(windows: &BTreeMap<String, Vec<Window>>) -> BTreeMap<String, Vec<Window>> {
    let mut sorted = BTreeMap::new();
    for (account, list) in windows {
        let mut list = list.clone();
        list.sort_by_key(|w| (w.start, w.epoch));
        for pair in list.windows(2) {
            let (first, next) = (&pair[0], &pair[1]);
            let end = first
                .end
                .unwrap_or_else(|| panic!("{account}: open window {first:?}"));
            assert!(
                end <= next.start,
                "{account}: {first:?} overlaps {next:?}; all: {list:?}"
            );
            assert!(
                next.epoch > first.epoch,
                "{account}: {first:?} then {next:?}"
            );
        }
        sorted.insert(account.clone(), list);
    }
    sorted
}
