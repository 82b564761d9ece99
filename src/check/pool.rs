//! Work sharing among the search's workers. Each keeps its own stack, so
//! a depth-first walk stays hot in its core's cache; a worker that runs
//! dry waits here, and a busy one that sees it waiting hands over the
//! older half of its stack (the tasks nearest the root, which carry the
//! most work). The search is over when every worker waits at once: only
//! a worker with tasks of its own can make more.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

pub(super) struct Pool<T> {
    shared: Mutex<Shared<T>>,
    wake: Condvar,
    /// Workers waiting, readable without the lock: busy workers look at it
    /// after every expansion.
    waiting: AtomicUsize,
}

struct Shared<T> {
    tasks: Vec<T>,
    waiting: usize,
    /// Workers that may still take tasks.
    workers: usize,
    over: bool,
}

impl<T> Pool<T> {
    pub(super) fn new(workers: usize) -> Pool<T> {
        Pool {
            shared: Mutex::new(Shared {
                tasks: Vec::new(),
                waiting: 0,
                workers,
                over: false,
            }),
            wake: Condvar::new(),
            waiting: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared<T>> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether some worker waits for tasks.
    pub(super) fn wanted(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
    }

    pub(super) fn give(&self, tasks: impl Iterator<Item = T>) {
        self.lock().tasks.extend(tasks);
        // Served: no more handing over until a worker waits again (each
        // waiter says so once more when it wakes and finds nothing).
        self.waiting.store(0, Ordering::Relaxed);
        self.wake.notify_all();
    }

    /// One worker fewer: it could not start. The others no longer wait for
    /// it to run dry.
    pub(super) fn retire(&self) {
        let mut s = self.lock();
        s.workers -= 1;
        if s.waiting >= s.workers {
            s.over = true;
        }
        drop(s);
        self.wake.notify_all();
    }

    /// Ends the search for every worker (a deadline passed, or a worker
    /// failed).
    pub(super) fn end(&self) {
        self.lock().over = true;
        self.wake.notify_all();
    }

    /// Tasks for a worker whose stack is empty, or `None` once the search
    /// is over: every worker waits, or `stop` (asked every few
    /// milliseconds while waiting) says so.
    pub(super) fn take(&self, stop: &mut dyn FnMut() -> bool) -> Option<Vec<T>> {
        let mut s = self.lock();
        loop {
            if s.over {
                return None;
            }
            if !s.tasks.is_empty() {
                // Leave a share for the others still waiting.
                let share = s.tasks.len().div_ceil(s.waiting + 1);
                let from = s.tasks.len() - share;
                return Some(s.tasks.split_off(from));
            }
            s.waiting += 1;
            self.waiting.store(s.waiting, Ordering::Relaxed);
            if s.waiting >= s.workers {
                s.over = true;
                self.wake.notify_all();
                return None;
            }
            s = self
                .wake
                .wait_timeout(s, Duration::from_millis(20))
                .unwrap_or_else(|e| e.into_inner())
                .0;
            s.waiting -= 1;
            self.waiting.store(s.waiting, Ordering::Relaxed);
            if !s.over && stop() {
                s.over = true;
                self.wake.notify_all();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_ends_when_every_worker_waits() {
        let pool: Pool<u32> = Pool::new(2);
        let done = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                // Waits until the other worker hands over, then runs dry.
                let got = pool.take(&mut || false).expect("tasks handed over");
                done.fetch_add(got.len(), Ordering::Relaxed);
                assert_eq!(pool.take(&mut || false), None);
            });
            while !pool.wanted() {
                std::thread::yield_now();
            }
            pool.give([1, 2, 3].into_iter());
            while done.load(Ordering::Relaxed) == 0 {
                std::thread::yield_now();
            }
            assert_eq!(pool.take(&mut || false), None);
        });
        assert_eq!(done.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_worker_that_never_started_is_not_waited_for() {
        let pool: Pool<u32> = Pool::new(3);
        pool.retire();
        std::thread::scope(|scope| {
            scope.spawn(|| assert_eq!(pool.take(&mut || false), None));
            assert_eq!(pool.take(&mut || false), None);
        });
    }

    #[test]
    fn a_stop_ends_the_wait() {
        let pool: Pool<u32> = Pool::new(2);
        let mut asked = 0;
        assert_eq!(
            pool.take(&mut || {
                asked += 1;
                asked == 3
            }),
            None
        );
        assert_eq!(asked, 3);
    }
}
