//! The process's memory: the allocator every binary linking the gateway uses, and how its
//! pages come from the kernel.

/// Every binary linking the gateway (the server, its tests and benches) allocates with mimalloc;
/// the fuzz targets keep the system allocator, which AddressSanitizer watches.
#[cfg(not(fuzzing))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process (`prctl(PR_SET_THP_DISABLE)`; Linux
/// only, best effort): called first thing by the binary and again when a gateway starts (for
/// the tests and benches that embed one). Pages already huge stay so; the flag covers every
/// later fault, huge-page advice or not (`THP_enabled: 0` in `/proc/<pid>/status`).
///
/// mimalloc asks for huge pages on its memory (its `allow_thp` option, on by default). A huge
/// page is 2 MiB, zeroed in full by the kernel on the first touch and resident in full
/// however little of it the allocator uses. In the gateway, with thousands of small
/// allocations spread over its threads' heaps, that cost memory and CPU (issue 16, stop 30):
/// a send bench profile spent 9 % of the gateway's CPU zeroing huge pages (`clear_page_erms`
/// under `do_huge_pmd_anonymous_page`, from `mi_page_free_list_extend`); off, the send bench's
/// process held 56 MiB instead of 68 and its CPU per sent message fell (figures in the issue
/// note and the README's Capacity section).
pub fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(%error, "cannot turn transparent huge pages off");
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn transparent_huge_pages_are_off_once_asked() {
        super::disable_transparent_huge_pages();
        assert_eq!(
            rustix::thread::transparent_huge_pages_are_disabled().ok(),
            Some(true)
        );
    }
}
