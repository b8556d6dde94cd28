//! The one paging convention of every list (issue 15): `?limit=N&after=CURSOR`, where `CURSOR`
//! is the `next` of the previous page, and a response field `next` that is `null` on the last
//! page. A cursor names the last item returned (keyset paging, never an offset), so items added
//! or removed between pages never make a page repeat or skip one that was there all along.
//!
//! Cursors are opaque to clients (each list's cursor has a format in [`super::formats`], so a
//! malformed one is a 400). Lists ordered by (time, id) use [`Keyset`] (`<ms>.<id>`); lists
//! ordered by an id alone use that id; messages and deliveries use their message and event ids.

use serde::Deserialize;

use super::formats::{check_opt, Format};
use super::{page_limit, ApiError};

/// Default page size of the lists that had no paging before the convention.
pub const DEFAULT_LIMIT: i64 = 100;
/// Largest page of those lists.
pub const MAX_LIMIT: i64 = 1000;

/// `limit` and `after`, for lists with no other query parameters. Each list documents them
/// itself: its `after` has its own cursor format ([`super::formats`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<i64>,
    /// The `next` of the previous page; absent for the first page.
    pub after: Option<String>,
}

impl PageQuery {
    /// The page size asked for.
    pub fn limit(&self) -> Result<i64, ApiError> {
        page_limit(self.limit, DEFAULT_LIMIT, MAX_LIMIT)
    }
}

/// The position after an item of a list ordered by `(at, id)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyset {
    /// The ordering time (ms).
    pub at: i64,
    /// The tie-breaking id.
    pub id: String,
}

impl Keyset {
    /// The cursor text: `<at>.<id>` (each list's cursor format in [`super::formats`]).
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at, self.id)
    }

    /// Parses a cursor made by [`Keyset::encode`]; a 400 `invalid_query` otherwise.
    pub fn decode(text: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_request("invalid_query", "after: not a cursor of this list");
        let (at, id) = text.split_once('.').ok_or_else(bad)?;
        if at.is_empty()
            || at.len() > 18
            || !at.bytes().all(|b| b.is_ascii_digit())
            || id.is_empty()
        {
            return Err(bad());
        }
        Ok(Self {
            at: at.parse().map_err(|_| bad())?,
            id: id.to_owned(),
        })
    }

    /// Decodes an optional `after` that must be a cursor of the list whose format is `F`
    /// (400 `invalid_query` otherwise).
    pub fn decode_opt<F: Format>(text: Option<&str>) -> Result<Option<Self>, ApiError> {
        check_opt::<F>(text, "after", "invalid_query")?
            .map(Self::decode)
            .transpose()
    }
}

/// Cuts `rows` (fetched with `limit + 1`, in list order) to a page: the page, and its `next`
/// (the cursor of its last item) when another row followed.
pub fn cut<T>(
    mut rows: Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(cursor);
    (rows, next)
}

/// Pages a list that is held in memory whole (per-account lists of groups and rooms), ordered
/// by a unique text key: the items after `after`, at most `limit`, and `next`.
pub fn in_memory<T>(
    mut items: Vec<T>,
    after: Option<&str>,
    limit: i64,
    key: impl Fn(&T) -> &str,
) -> (Vec<T>, Option<String>) {
    items.sort_by(|a, b| key(a).cmp(key(b)));
    if let Some(after) = after {
        items.retain(|item| key(item) > after);
    }
    let cap = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    items.truncate(cap);
    cut(items, limit, |item| key(item).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keysets_round_trip_and_junk_is_a_400() {
        let k = Keyset {
            at: 1_700_000_000_123,
            id: "wh_a:b".into(),
        };
        assert_eq!(Keyset::decode(&k.encode()).unwrap(), k);
        for junk in [
            "",
            "%%",
            "bm9jb2xvbg",
            "x.y",
            ".wh_a",
            "12.",
            "-1.wh_a",
            "1234567890123456789.a",
        ] {
            assert!(Keyset::decode(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn cut_says_next_only_when_more_follow() {
        assert_eq!(cut(vec![1, 2], 2, |n| n.to_string()), (vec![1, 2], None));
        assert_eq!(
            cut(vec![1, 2, 3], 2, |n| n.to_string()),
            (vec![1, 2], Some("2".into()))
        );
    }

    #[test]
    fn in_memory_pages_cover_everything_once() {
        let items: Vec<String> = (0..57).map(|n| format!("{n:03}")).rev().collect();
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, next) = in_memory(items.clone(), after.as_deref(), 10, |s| s.as_str());
            seen.extend(page);
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let mut expected = items;
        expected.sort();
        assert_eq!(seen, expected);
    }
}
