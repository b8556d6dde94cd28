//! What the bench binaries read about their own process and environment: `SCALE_*`-style
//! settings, CPU time and resident memory from `/proc/self` (Linux).

/// The environment variable `name` as a number, or `default`.
pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Process CPU seconds, user + system, all threads (including ones that exited), from
/// `/proc/self/stat` (clock ticks at 100 Hz).
pub fn cpu_secs() -> f64 {
    cpu_secs_of("/proc/self/stat")
}

/// CPU seconds, user + system, from a `/proc/<pid>/stat` file (0 when it cannot be read).
pub fn cpu_secs_of(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// Resident set size, MiB, from `/proc/self/status`.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

/// The resident set's file-backed pages, MiB (`RssFile`): pages of mapped files, such as the
/// SQLite database read through its memory map. They are the kernel's page cache, shared and
/// reclaimable, not memory the process allocated (`RssAnon`).
#[allow(dead_code)] // not every bench prints it
pub fn rss_file_mib() -> f64 {
    status_mib("RssFile:")
}

fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// This process's threads: id and name (`comm`, at most 15 bytes), from `/proc/self/task`.
#[allow(dead_code)] // not every bench splits its CPU by thread
pub fn threads() -> Vec<(u32, String)> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| {
            let task = task.ok()?;
            let tid = task.file_name().to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(task.path().join("comm")).ok()?;
            Some((tid, name.trim_end().to_owned()))
        })
        .collect()
}

/// CPU seconds of this process's threads `tids` (those still running; an exited thread's time
/// is only in the process total).
#[allow(dead_code)] // not every bench splits its CPU by thread
pub fn threads_cpu_secs(tids: &[u32]) -> f64 {
    tids.iter()
        .map(|tid| cpu_secs_of(&format!("/proc/self/task/{tid}/stat")))
        .sum()
}
