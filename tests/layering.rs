//! Enforces the layer plan (design.md §3, style.md habit 1).
//!
//! * `src/protocol/` is pure: no I/O, async runtime, database, actor, HTTP or clock use may
//!   appear there, so every protocol function is deterministic given its arguments and testable
//!   without a network.
//! * Every top-level module of `src/` imports only the modules [`PLAN`] allows it. An import is
//!   any `crate::X` path in code (a `use`, a type, an expression, a `{…}` group's members) and,
//!   in `src/main.rs`, any `session_gateway::X` path. Comments and string literals do not count.
//!   `super::` paths are not followed: below a top-level module they stay inside it (only a
//!   top-level file's own items could reach the crate root through `super::`, and none does).
//!
//! To see the graph as it is: `cargo test --test layering -- --ignored --nocapture`.

#![allow(clippy::unwrap_used)] // a test: a failure to read its own sources should fail loudly

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Paths and identifiers that would bring I/O, async or a clock into the protocol layer.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "sqlx",
    "actix",
    "reqwest",
    "std::net",
    "std::fs",
    "std::io::stdin",
    "SystemTime",
    "Instant::now",
    "async fn",
    ".await",
];

/// The layer plan: for each top-level module of `src/`, the other crate modules it may import.
/// A module may always import itself. The table is in layer order, lowest first (vocabulary and
/// I/O layers, then the domain, then the edges): a module lists only modules planned before it,
/// so the plan has no cycles ([`the_plan_is_layered`] checks).
const PLAN: &[(&str, &[&str])] = &[
    // Pure wire formats and cryptography: nothing else in the gateway.
    ("protocol", &[]),
    // Vocabulary the whole gateway shares: checked IDs, the typed event bodies.
    ("ids", &["protocol"]),
    ("events", &["protocol", "ids"]),
    // The one clock read.
    ("clock", &[]),
    // The process's allocator and its pages: the binary and a gateway's start set them up.
    ("memory", &[]),
    // The onion network client: protocol only. What it measures it reports through its own
    // observer trait; its settings are its own `NetworkConfig`, not the gateway's config.
    ("network", &["protocol"]),
    // A local Session network built from protocol alone (design.md §7).
    ("devnet", &["protocol"]),
    // sqlx repositories: rows of protocol and vocabulary types, nothing above.
    ("store", &["protocol", "ids", "events", "clock"]),
    // Account leases: rounds over the store.
    ("leases", &["ids", "clock", "store"]),
    // Fresh and restored identities (keys from protocol).
    ("identities", &["protocol", "ids"]),
    // Settings name the lease settings type they build.
    ("config", &["leases"]),
    // Observability: telemetry reads its settings; the metrics handle carries telemetry's
    // trace links and implements the network's observer.
    ("telemetry", &["config"]),
    ("metrics", &["network", "telemetry"]),
    // The chat domain both the API and the actors call: below both.
    (
        "chat",
        &[
            "protocol",
            "ids",
            "events",
            "clock",
            "store",
            "identities",
            "metrics",
            "telemetry",
        ],
    ),
    // Outbox delivery workers: read the store, sign, send over HTTP.
    (
        "webhooks",
        &[
            "protocol",
            "ids",
            "events",
            "clock",
            "store",
            "config",
            "metrics",
            "telemetry",
        ],
    ),
    // Actors: the domain, the network and the leases they follow.
    (
        "actors",
        &[
            "protocol",
            "ids",
            "events",
            "clock",
            "store",
            "leases",
            "identities",
            "network",
            "chat",
            "config",
            "metrics",
            "telemetry",
        ],
    ),
    // The REST edge: talks to actors and the domain, never to the network itself.
    (
        "api",
        &[
            "protocol",
            "ids",
            "events",
            "clock",
            "store",
            "identities",
            "chat",
            "actors",
            "webhooks",
            "config",
            "metrics",
            "telemetry",
        ],
    ),
    // Wiring one gateway: everything but the command line and the devnet.
    (
        "app",
        &[
            "protocol",
            "ids",
            "events",
            "clock",
            "store",
            "leases",
            "identities",
            "network",
            "chat",
            "webhooks",
            "actors",
            "api",
            "config",
            "metrics",
            "telemetry",
            "memory",
        ],
    ),
    // Subcommands: the gateway, the devnet and the offline tools.
    (
        "cli",
        &[
            "protocol",
            "ids",
            "clock",
            "store",
            "identities",
            "network",
            "devnet",
            "app",
            "config",
            "telemetry",
        ],
    ),
    // The binary (imports through `session_gateway::`).
    ("main", &["cli", "devnet", "memory"]),
];

/// Imports the plan does not want but the tree still has, each with the work that removes it.
/// An entry that no import needs any more fails the test, so it is deleted with its last use.
/// (None left: keep the table for the next step that needs one.)
const PENDING: &[(&str, &str, &str)] = &[];

/// One import that breaks the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Offence {
    /// `src/…` path of the importing file.
    file: String,
    /// 1-based line of the imported module's name.
    line: usize,
    /// The importing top-level module.
    from: String,
    /// The imported top-level module.
    to: String,
}

impl std::fmt::Display for Offence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rule = match allowed(&self.from) {
            Some([]) => format!("{} may import nothing else", self.from),
            Some(list) => format!("{} may import only {}", self.from, list.join(", ")),
            None => format!("{} is not in the layer plan", self.from),
        };
        write!(
            f,
            "{}:{}: {} imports {} ({rule})",
            self.file, self.line, self.from, self.to
        )
    }
}

fn allowed(module: &str) -> Option<&'static [&'static str]> {
    PLAN.iter().find(|(m, _)| *m == module).map(|(_, a)| *a)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file under `src/`, as (`src/…` path, text), in path order.
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap();
            let relative = path.strip_prefix(root).unwrap();
            (relative.to_string_lossy().replace('\\', "/"), text)
        })
        .collect()
}

/// The top-level module a `src/…` file belongs to (`src/store/mod.rs` → `store`,
/// `src/clock.rs` → `clock`); `None` for the crate root `src/lib.rs`.
fn module_of(file: &str) -> Option<String> {
    let rest = file.strip_prefix("src/")?;
    let first = rest.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// `text` with every comment and the contents of every string and char literal replaced by
/// spaces, newlines kept, so byte offsets and line numbers still match the source.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(next, Some('"' | '#')) && !ident_char(prev(&chars, i)) {
            // A raw string `r"…"` or `r#"…"#`: ends at the quote followed by as many hashes.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            let close: Vec<char> = close.chars().collect();
            out.push_str(&" ".repeat(j + 1 - i));
            i = j + 1;
            while i < chars.len() && !chars[i..].starts_with(&close) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push_str(&" ".repeat(close.len().min(chars.len() - i)));
            i += close.len();
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    out.push(' ');
                    i += 1;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a): only the former ends
            // in a quote within a few characters.
            let end = if next == Some('\\') {
                (i + 3..chars.len().min(i + 12)).find(|&j| chars[j] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.push_str(&" ".repeat(end + 1 - i));
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev(chars: &[char], i: usize) -> char {
    i.checked_sub(1).map_or(' ', |p| chars[p])
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The crate modules `source` (the text of `file`) names, with the 1-based line of each name.
fn imports(file: &str, source: &str) -> Vec<(usize, String)> {
    // In the binary, `crate::` is the binary itself; the library is `session_gateway::`.
    let root = if file == "src/main.rs" {
        "session_gateway::"
    } else {
        "crate::"
    };
    let code: Vec<char> = code_only(source).chars().collect();
    let root: Vec<char> = root.chars().collect();
    let line_at = |at: usize| code[..at].iter().filter(|&&c| c == '\n').count() + 1;
    let skip_space = |mut at: usize| {
        while at < code.len() && code[at].is_whitespace() {
            at += 1;
        }
        at
    };
    let ident_at = |at: usize| -> String {
        code[at..]
            .iter()
            .take_while(|&&c| ident_char(c))
            .collect::<String>()
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i + root.len() <= code.len() {
        // `$crate::` (in macros) is the crate too; `foo_crate::` is not.
        if !code[i..].starts_with(&root) || ident_char(prev(&code, i)) {
            i += 1;
            continue;
        }
        let at = skip_space(i + root.len());
        if code.get(at) == Some(&'{') {
            // `crate::{a::X, b, c::{Y, Z}}`: the first name of each member at depth one.
            let mut depth = 0;
            let mut expect_name = true;
            let mut j = at;
            while j < code.len() {
                match code[j] {
                    '{' => {
                        depth += 1;
                        expect_name = depth == 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => expect_name = true,
                    c if expect_name && ident_char(c) => {
                        let name = ident_at(j);
                        if name != "self" {
                            found.push((line_at(j), name.clone()));
                        }
                        expect_name = false;
                        j += name.len();
                        continue;
                    }
                    _ => {}
                }
                j += 1;
            }
            i = j.max(i + 1);
        } else {
            let name = ident_at(at);
            if !name.is_empty() {
                found.push((line_at(at), name));
            }
            i = at.max(i + 1);
        }
    }
    found
}

/// The imports in `source` (the text of `file`, a `src/…` path) that the plan forbids, other
/// than the [`PENDING`] ones. Also returns which pending entries were used.
fn check(file: &str, source: &str) -> (Vec<Offence>, BTreeSet<(String, String)>) {
    let mut offences = Vec::new();
    let mut pending_used = BTreeSet::new();
    let Some(from) = module_of(file) else {
        return (offences, pending_used);
    };
    for (line, to) in imports(file, source) {
        if to == from {
            continue;
        }
        let permitted = allowed(&from).is_some_and(|list| list.contains(&to.as_str()));
        if permitted {
            continue;
        }
        if PENDING.iter().any(|(f, t, _)| *f == from && *t == to) {
            pending_used.insert((from.clone(), to));
            continue;
        }
        offences.push(Offence {
            file: file.to_owned(),
            line,
            from: from.clone(),
            to,
        });
    }
    (offences, pending_used)
}

#[test]
fn protocol_layer_does_no_io_and_reads_no_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/protocol");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "src/protocol has no Rust files");
    let mut offences = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in FORBIDDEN {
                if code.contains(word) {
                    offences.push(format!("{}:{}: {}", file.display(), number + 1, word));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "protocol/ must stay pure:\n{}",
        offences.join("\n")
    );
}

#[test]
fn every_module_imports_only_what_the_layer_plan_allows() {
    let mut offences = Vec::new();
    let mut pending_used = BTreeSet::new();
    let mut unplanned = BTreeSet::new();
    for (file, text) in sources() {
        if let Some(module) = module_of(&file) {
            if allowed(&module).is_none() {
                unplanned.insert(format!(
                    "{file}: module `{module}` is not in the layer plan"
                ));
            }
        }
        let (found, used) = check(&file, &text);
        offences.extend(found.iter().map(ToString::to_string));
        pending_used.extend(used);
    }
    for (from, to, why) in PENDING {
        if !pending_used.contains(&(from.to_string(), to.to_string())) {
            offences.push(format!(
                "PENDING entry {from} → {to} ({why}) is no longer needed: delete it"
            ));
        }
    }
    offences.extend(unplanned);
    assert!(
        offences.is_empty(),
        "imports against the layer plan (tests/layering.rs PLAN):\n{}",
        offences.join("\n")
    );
}

/// Every module a plan entry names is planned earlier in the table (so no rule refers to a typo
/// and no two modules may import each other), and each module is planned once.
#[test]
fn the_plan_is_layered() {
    for (at, (module, list)) in PLAN.iter().enumerate() {
        let below: Vec<&str> = PLAN[..at].iter().map(|(m, _)| *m).collect();
        assert!(!below.contains(module), "{module} is planned twice");
        for to in *list {
            assert!(
                below.contains(to),
                "{module} may import `{to}`, which is not planned before it"
            );
        }
    }
    for (from, to, _) in PENDING {
        assert!(allowed(from).is_some() && allowed(to).is_some());
    }
}

/// The checker itself: an upward import is found wherever it hides, and nothing else is.
#[test]
fn an_upward_import_is_reported_with_file_line_and_rule() {
    let store = "src/store/accounts.rs";
    let source = "//! Accounts.\n\nuse crate::ids::SessionIdText;\nuse crate::api::ApiError;\n";
    let (offences, _) = check(store, source);
    assert_eq!(
        offences.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![
            "src/store/accounts.rs:4: store imports api \
             (store may import only protocol, ids, events, clock)"
        ]
    );

    // Groups, paths in expressions and `$crate` count; comments and strings do not.
    let source = r#"
use crate::{
    clock::now_ms,
    actors::{Deps, Task},
};
// use crate::webhooks::X;
/* crate::chat::Y */
fn f() -> u64 { let s = "crate::network::Z"; let c = ('"', '\''); crate::network::now(); 1 }
macro_rules! m { () => { $crate::api::x() } }
"#;
    let (offences, _) = check(store, source);
    let found: Vec<(usize, &str)> = offences.iter().map(|o| (o.line, o.to.as_str())).collect();
    assert_eq!(found, vec![(4, "actors"), (8, "network"), (9, "api")]);

    // The binary imports through the library's name.
    let (offences, _) = check("src/main.rs", "use session_gateway::store::Store;\n");
    assert_eq!(offences.len(), 1);
    assert_eq!(offences[0].to, "store");

    // The api → network pending entry is gone with its last use: the import is an offence
    // again. (With no entry left, PENDING's not-an-offence path has nothing to exercise.)
    let (offences, used) = check("src/api/mod.rs", "use crate::network::SessionNetwork;\n");
    assert_eq!(offences.len(), 1);
    assert_eq!(offences[0].to, "network");
    assert!(used.is_empty());

    // A module missing from the plan may import nothing.
    let (offences, _) = check("src/newthing.rs", "use crate::clock::now_ms;\n");
    assert_eq!(
        offences[0].to_string(),
        "src/newthing.rs:1: newthing imports clock (newthing is not in the layer plan)"
    );
}

/// Prints the import graph: for each module, the modules it imports and how many times.
#[test]
#[ignore = "prints the import graph; run with --ignored --nocapture"]
fn print_import_graph() {
    let mut graph: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (file, text) in sources() {
        let Some(from) = module_of(&file) else {
            continue;
        };
        for (_, to) in imports(&file, &text) {
            if to != from {
                *graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default() += 1;
            }
        }
    }
    for (from, targets) in graph {
        let list: Vec<String> = targets.iter().map(|(t, n)| format!("{t}({n})")).collect();
        println!("{from} -> {}", list.join(" "));
    }
}
