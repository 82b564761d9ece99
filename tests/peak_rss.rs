//! `insync bench` charges each run with its own peak memory only: after a
//! run's memory is freed, the reset forgets it, even though the allocator
//! would otherwise keep those pages for reuse. (Before, the Paxos
//! baseline's second run reported insync's 260 MB.)

use insync::bench::{peak_rss_mb, reset_peak_rss};

#[test]
fn a_reset_forgets_the_memory_a_previous_run_freed() {
    // Many small blocks, as a search allocates: the allocator keeps such
    // pages after they are freed unless asked to hand them back.
    let blocks: Vec<Box<[u8; 256]>> = (0..1_000_000).map(|i| Box::new([i as u8; 256])).collect();
    let busy = peak_rss_mb().expect("Linux reports VmHWM");
    assert!(busy > 250.0, "{busy} MB resident with 256 MB allocated");
    drop(blocks);
    reset_peak_rss();
    let after = peak_rss_mb().unwrap();
    assert!(
        after < busy - 150.0,
        "the peak after the reset ({after} MB) still holds the freed run's ({busy} MB)"
    );
}
