//! When an exhaustive search gives up before it has seen every state, and
//! how it tells the caller how far it got.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Why a search stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    TimeLimit,
    /// The process passed its memory budget (`Deadline::memory`): stopped
    /// while the shortest-path pass and the report still fit, rather than
    /// killed by the system with nothing said.
    MemoryLimit,
    Interrupted,
    /// Every property the caller asked about was decided (`Deadline::enough`).
    Decided,
}

/// When an exhaustive search must give up: its time limit, or a flag
/// set from outside (Ctrl-C).
pub struct Deadline<'a> {
    pub limit: Option<Duration>,
    pub stop: &'a AtomicBool,
    /// Property bits: once a state decides every one of them, the search
    /// may stop (0: never). For callers that only need to know whether a
    /// few properties fail, such as `insync advise`.
    pub enough: u32,
    /// Stop once the allocator holds this many bytes (`alloc::heap_bytes`).
    pub memory: Option<u64>,
}

impl Deadline<'_> {
    fn reached(&self, started: Instant, decided: u32) -> Option<Stopped> {
        if self.stop.load(Ordering::Relaxed) {
            Some(Stopped::Interrupted)
        } else if self.enough != 0 && decided & self.enough == self.enough {
            Some(Stopped::Decided)
        } else if self.limit.is_some_and(|l| started.elapsed() >= l) {
            Some(Stopped::TimeLimit)
        } else if self.memory.is_some_and(|m| crate::alloc::heap_bytes() >= m) {
            Some(Stopped::MemoryLimit)
        } else {
            None
        }
    }
}

/// Progress as the search goes: classes found so far, and the phase.
pub type OnProgress<'a> = &'a (dyn Fn(usize, &str) + Sync);

/// Every few thousand expansions: progress, and whether to stop.
pub(super) struct Pacer {
    started: Instant,
    expanded: u64,
}

impl Pacer {
    pub(super) fn start() -> Pacer {
        Pacer {
            started: Instant::now(),
            expanded: 0,
        }
    }

    /// One class expanded, `classes` known so far, the properties in
    /// `decided` decided so far: why to stop, if it is time.
    pub(super) fn tick(
        &mut self,
        classes: usize,
        decided: u32,
        progress: OnProgress,
        deadline: &Deadline,
    ) -> Option<Stopped> {
        self.expanded += 1;
        if !self.expanded.is_multiple_of(8192) {
            return None;
        }
        self.check(classes, decided, progress, deadline)
    }

    /// Progress, and whether to stop, now.
    pub(super) fn check(
        &self,
        classes: usize,
        decided: u32,
        progress: OnProgress,
        deadline: &Deadline,
    ) -> Option<Stopped> {
        progress(classes, "visiting states");
        deadline.reached(self.started, decided)
    }
}
