//! The allocator every binary and test of the crate runs on.
//!
//! Model checking clones and drops millions of small states; glibc's
//! allocator spends more time than the checker on that churn. Declared in
//! the library, it serves the test binaries too, so the catalogue test
//! measures what `insync check` does.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`'s number in `mimalloc.h` (v2 and v3 alike),
/// which `libmimalloc-sys` builds but whose Rust bindings leave it unnamed.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Hands freed pages back to the system at once rather than a second
/// later (mimalloc v3's default). A search frees its tables whole when
/// they double; kept for later, the old ones stood in the peak beside the
/// new: 15% of the two-power-loss scenario's peak and 27% of the canonical
/// one's (BENCHMARKS.md, "Memory per class").
pub fn purge_freed_memory_at_once() {
    // SAFETY: sets an allocator option; mimalloc reads options at each
    // use and accepts them from any thread at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// The memory the allocator holds from the system: mimalloc's count of
/// what it has committed, which its process info gives as the resident
/// size on Linux. Every allocation of the crate goes through it, so this
/// is the search's memory, without reading `/proc`.
pub fn heap_bytes() -> u64 {
    let mut rss = 0usize;
    let mut unused = [0usize; 7];
    let [a, b, c, d, e, f, g] = &mut unused;
    // SAFETY: every pointer is to a live local the call writes once.
    unsafe { libmimalloc_sys::mi_process_info(a, b, c, &mut rss, d, e, f, g) };
    rss as u64
}

/// The machine's physical memory, if the system says.
pub fn physical_bytes() -> Option<u64> {
    // SAFETY: `sysconf` only reads system configuration.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages > 0 && size > 0).then(|| pages as u64 * size as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option's number is the bundled header's, not a binding's: its
    /// default (1000 ms in v3's `options.c`) tells that it names the purge
    /// delay.
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads an allocator option.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(get(), 1000, "mimalloc's default purge delay");
        purge_freed_memory_at_once();
        assert_eq!(get(), 0);
    }

    #[test]
    fn the_heap_grows_with_what_is_allocated_and_is_below_the_machines_memory() {
        let before = heap_bytes();
        let block = vec![1u8; 64 << 20];
        let after = heap_bytes();
        assert!(after >= before + (48 << 20), "{before} -> {after}");
        assert!(block.iter().all(|&b| b == 1));
        let total = physical_bytes().expect("Linux says");
        assert!(after < total, "{after} of {total}");
    }
}
