//! A CPU profile of a bench's measured window, to see where the gateway's own time goes
//! (issue 16). `perf` sees only idle time in some VMs (this one); pprof samples with SIGPROF
//! instead, so it counts exactly the CPU time the process's threads use, system time
//! included (a thread in a syscall is sampled at the syscall's user-space caller).
//!
//! Off unless the bench is built with `--features profile` and `BENCH_PROFILE=<file>` is set:
//!
//! ```sh
//! BENCH_PROFILE=/tmp/send.txt cargo bench --features profile --bench send
//! ```
//!
//! The report has, for each measured phase: samples per thread kind, the functions with the
//! most samples of their own (self), the gateway functions that spent most (the innermost
//! `session_gateway::` frame of each sample, so library time is charged to its caller), and the
//! functions on most stacks (inclusive). 997 samples a second per busy thread.

/// A running profile; [`Profile::finish`] writes its report.
pub struct Profile {
    #[cfg(feature = "profile")]
    guard: Option<(pprof::ProfilerGuard<'static>, String)>,
}

impl Profile {
    /// Starts sampling when `BENCH_PROFILE` is set and the `profile` feature is built in.
    pub fn start() -> Self {
        #[cfg(feature = "profile")]
        {
            let guard = std::env::var("BENCH_PROFILE").ok().map(|path| {
                let guard = pprof::ProfilerGuardBuilder::default()
                    .frequency(997)
                    .build()
                    .expect("start the profiler");
                (guard, path)
            });
            Self { guard }
        }
        #[cfg(not(feature = "profile"))]
        {
            if std::env::var_os("BENCH_PROFILE").is_some() {
                eprintln!("BENCH_PROFILE is ignored: build the bench with --features profile");
            }
            Self {}
        }
    }

    /// Stops sampling and appends the report, headed `phase`, to the `BENCH_PROFILE` file.
    pub fn finish(self, phase: &str) {
        #[cfg(feature = "profile")]
        if let Some((guard, path)) = self.guard {
            let report = guard.report().build().expect("build the profile report");
            let text = report::render(phase, &report.data);
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .expect("open BENCH_PROFILE");
            file.write_all(text.as_bytes()).expect("write the profile");
            eprintln!("profile of {phase} appended to {path}");
        }
        #[cfg(not(feature = "profile"))]
        let _ = phase;
    }
}

#[cfg(feature = "profile")]
mod report {
    use std::collections::{HashMap, HashSet};
    use std::fmt::Write as _;

    use pprof::Frames;

    const TOP: usize = 45;
    /// Self functions whose callers are listed, and how many frames up.
    const TOP_LEAVES: usize = 12;
    const CALLERS: usize = 6;

    /// A demangled name without its `::h<hash>` suffix.
    fn clean(name: String) -> String {
        match name.rsplit_once("::h") {
            Some((head, hash))
                if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                head.to_owned()
            }
            _ => name,
        }
    }

    /// Thread names with their numbers folded (`sqlx-sqlite-worker-3` → `sqlx-sqlite-worker-#`).
    fn thread_kind(name: &str) -> String {
        let mut kind = String::new();
        for c in name.chars() {
            if c.is_ascii_digit() {
                if !kind.ends_with('#') {
                    kind.push('#');
                }
            } else {
                kind.push(c);
            }
        }
        kind
    }

    fn table(out: &mut String, title: &str, counts: HashMap<String, isize>, total: isize) {
        let mut rows: Vec<_> = counts.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let _ = writeln!(out, "\n## {title}");
        for (name, count) in rows.into_iter().take(TOP) {
            let share = 100.0 * count as f64 / total.max(1) as f64;
            let _ = writeln!(out, "{share:6.2}% {count:7} {name}");
        }
    }

    /// For the functions with most samples of their own, their most frequent callers.
    fn callers(
        out: &mut String,
        own: &HashMap<String, isize>,
        mut stacks: HashMap<String, HashMap<String, isize>>,
        total: isize,
    ) {
        let mut leaves: Vec<_> = own.iter().collect();
        leaves.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let _ = writeln!(out, "\n## callers of the top {TOP_LEAVES} (self)");
        for (leaf, _) in leaves.into_iter().take(TOP_LEAVES) {
            let _ = writeln!(out, "{leaf}");
            let mut paths: Vec<_> = stacks
                .remove(leaf)
                .unwrap_or_default()
                .into_iter()
                .collect();
            paths.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            for (path, count) in paths.into_iter().take(4) {
                let share = 100.0 * count as f64 / total.max(1) as f64;
                let _ = writeln!(out, "  {share:5.2}% <- {path}");
            }
        }
    }

    pub fn render(phase: &str, data: &HashMap<Frames, isize>) -> String {
        let total: isize = data.values().sum();
        let mut threads: HashMap<String, isize> = HashMap::new();
        let mut own: HashMap<String, isize> = HashMap::new();
        let mut gateway: HashMap<String, isize> = HashMap::new();
        let mut inclusive: HashMap<String, isize> = HashMap::new();
        let mut stacks: HashMap<String, HashMap<String, isize>> = HashMap::new();
        for (frames, &count) in data {
            *threads
                .entry(thread_kind(&frames.thread_name_or_id()))
                .or_default() += count;
            // Frames run from the sampled instruction outwards; a frame may hold inlined
            // functions (innermost first).
            let names: Vec<String> = frames
                .frames
                .iter()
                .flat_map(|frame| frame.iter().map(|symbol| clean(symbol.name())))
                .collect();
            let leaf = names.first().cloned().unwrap_or_else(|| "?".into());
            *own.entry(leaf.clone()).or_default() += count;
            let callers = names.iter().skip(1).take(CALLERS).cloned();
            let callers = callers.collect::<Vec<_>>().join("\n          <- ");
            *stacks.entry(leaf).or_default().entry(callers).or_default() += count;
            let ours = names
                .iter()
                .find(|n| n.contains("session_gateway::"))
                .cloned()
                .unwrap_or_else(|| "(no gateway frame)".into());
            *gateway.entry(ours).or_default() += count;
            let mut seen = HashSet::new();
            for name in names {
                if seen.insert(name.clone()) {
                    *inclusive.entry(name).or_default() += count;
                }
            }
        }
        let mut out = format!("# profile: {phase}, {total} samples (997 Hz)\n");
        table(&mut out, "threads", threads, total);
        table(&mut out, "self", own.clone(), total);
        table(&mut out, "innermost gateway frame", gateway, total);
        table(&mut out, "inclusive", inclusive, total);
        callers(&mut out, &own, stacks, total);
        out
    }
}

/// With `BENCH_SQL_LOG=<file>`, writes every SQL statement the process runs, with its elapsed
/// time (sqlx's `sqlx::query` debug events), to that file: which statements a message or a
/// poll costs. Call before the gateway starts.
pub fn sql_log_from_env() {
    if let Ok(path) = std::env::var("BENCH_SQL_LOG") {
        let file = std::fs::File::create(path).unwrap();
        tracing_subscriber::fmt()
            .with_env_filter("sqlx::query=debug")
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .init();
    }
}
