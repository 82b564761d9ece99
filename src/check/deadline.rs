//! When an exhaustive search gives up before it has seen every state, and
//! how it tells the caller how far it got.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Why a search stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    TimeLimit,
    Interrupted,
}

/// When an exhaustive search must give up: its time limit, or a flag
/// set from outside (Ctrl-C).
pub struct Deadline<'a> {
    pub limit: Option<Duration>,
    pub stop: &'a AtomicBool,
}

impl Deadline<'_> {
    pub(super) fn reached(&self, started: Instant) -> Option<Stopped> {
        if self.stop.load(Ordering::Relaxed) {
            Some(Stopped::Interrupted)
        } else if self.limit.is_some_and(|l| started.elapsed() >= l) {
            Some(Stopped::TimeLimit)
        } else {
            None
        }
    }
}

/// Progress as the search goes: classes found so far, and the phase.
pub type OnProgress<'a> = &'a (dyn Fn(usize, &str) + Sync);
