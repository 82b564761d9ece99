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
}
