//! The classes the sleep-set search has met, shared by its workers: each
//! class's id, its sleep set, and whether it was expanded.
//!
//! A class's sleep set only shrinks, and whether a shrink calls for a
//! second expansion depends on whether the first one already happened;
//! both are read and written under one lock, so two workers meeting the
//! same class cannot both miss (or both take) the transitions that woke
//! up. The table is split into shards by the fingerprint's high bits (the
//! shard's own table uses the low ones) so that workers rarely wait on
//! each other.

use super::table::{ClassIds, Fingerprint};
use crate::model::step_names::NameSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

const SHARD_BITS: u32 = 6;

#[derive(Default)]
struct Shard {
    ids: ClassIds,
    /// By the shard's own index.
    classes: Vec<Class>,
}

/// 20 bytes: with the shard's table, most of the search's memory.
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Class {
    /// The class id, and in the top bit whether it was expanded.
    id: u32,
    /// Its sleep set, in its canonical member's step numbering.
    asleep: NameSet,
}

const EXPANDED: u32 = 1 << 31;

pub(super) struct Classes {
    shards: Box<[Mutex<Shard>]>,
    next_id: AtomicU32,
}

/// What meeting a class again asks of the search.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Met {
    /// A class never met before: expand it.
    New(u32),
    /// Nothing more to do.
    Known(u32),
    /// Expanded already, with the transitions in the set asleep that are
    /// awake on this path: take those now.
    Woken(u32, NameSet),
}

impl Met {
    pub(super) fn id(&self) -> u32 {
        match *self {
            Met::New(id) | Met::Known(id) | Met::Woken(id, _) => id,
        }
    }
}

impl Classes {
    pub(super) fn new() -> Classes {
        Classes {
            shards: (0..1 << SHARD_BITS).map(|_| Mutex::default()).collect(),
            next_id: AtomicU32::new(0),
        }
    }

    /// Classes met so far.
    pub(super) fn len(&self) -> usize {
        self.next_id.load(Ordering::Relaxed) as usize
    }

    fn shard(&self, fp: Fingerprint) -> std::sync::MutexGuard<'_, Shard> {
        let s = &self.shards[(fp >> (64 - SHARD_BITS)) as usize];
        // A worker that panicked ends the search (`sleep::EndOnPanic`).
        s.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Meets class `fp` with `asleep` asleep on this path: a new class keeps
    /// that sleep set; a known one keeps what is asleep on every path to it.
    pub(super) fn meet(&self, fp: Fingerprint, asleep: NameSet) -> Met {
        assert!(
            self.len() < EXPANDED as usize - 1024,
            "fewer than 2^31 classes: the search would not fit in memory anyway"
        );
        let mut shard = self.shard(fp);
        let index = shard.classes.len() as u32;
        let (at, new) = shard.ids.get_or_insert(fp, || index);
        if new {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            shard.classes.push(Class { id, asleep });
            return Met::New(id);
        }
        let c = &mut shard.classes[at as usize];
        let (old, id) = (c.asleep, c.id & !EXPANDED);
        let now = old & asleep;
        if now == old {
            return Met::Known(id);
        }
        c.asleep = now;
        if c.id & EXPANDED != 0 {
            Met::Woken(id, old & !asleep)
        } else {
            Met::Known(id)
        }
    }

    /// Marks class `fp` expanded and answers its sleep set: from here on a
    /// shrink of the set is a second expansion's work.
    pub(super) fn expand(&self, fp: Fingerprint) -> NameSet {
        let mut shard = self.shard(fp);
        let index = shard.classes.len() as u32;
        let (at, new) = shard.ids.get_or_insert(fp, || index);
        assert!(!new, "a class is met before it is expanded");
        let c = &mut shard.classes[at as usize];
        debug_assert!(c.id & EXPANDED == 0, "a class is expanded first once");
        c.id |= EXPANDED;
        c.asleep
    }

    /// Every class's fingerprint, by id.
    pub(super) fn fingerprints(self) -> Vec<Fingerprint> {
        let mut fps = vec![0; self.len()];
        for shard in self.shards.into_vec() {
            let shard = shard.into_inner().unwrap_or_else(|e| e.into_inner());
            for (fp, at) in shard.ids.iter() {
                fps[(shard.classes[at as usize].id & !EXPANDED) as usize] = fp;
            }
        }
        fps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shrinking_sleep_set_wakes_transitions_only_once_expanded() {
        let c = Classes::new();
        let fp = 0x8000_0000_0000_0001;
        assert_eq!(c.meet(fp, 0b111), Met::New(0));
        // Not expanded yet: the first expansion will see the smaller set.
        assert_eq!(c.meet(fp, 0b011), Met::Known(0));
        assert_eq!(c.expand(fp), 0b011);
        assert_eq!(c.meet(fp, 0b111), Met::Known(0));
        assert_eq!(c.meet(fp, 0b001), Met::Woken(0, 0b010));
        assert_eq!(c.meet(fp, 0b001), Met::Known(0));
        assert_eq!(c.meet(7, 0), Met::New(1));
        assert_eq!(c.len(), 2);
        assert_eq!(c.fingerprints(), vec![fp, 7]);
    }
}
