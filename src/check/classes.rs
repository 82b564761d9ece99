//! The classes the sleep-set search has met, shared by its workers: each
//! class's sleep set, whether it was expanded, and which properties it
//! decides.
//!
//! A class's sleep set only shrinks, and whether a shrink calls for a
//! second expansion depends on whether the first one already happened;
//! both are read and written under one lock, so two workers meeting the
//! same class cannot both miss (or both take) the transitions that woke
//! up. The table is split into shards by the fingerprint's high bits (the
//! shard's own table uses the low ones) so that workers rarely wait on
//! each other.
//!
//! This table is most of the search's memory, so a class keeps only four
//! bytes beside its slot in the shard's fingerprint table: its sleep set,
//! as a number in the shard's list of the sleep sets its classes have
//! (a few thousand distinct sets among millions of classes), and in the
//! top bit whether it was expanded. During the search a class is named by
//! its shard and its place there (`Packed`); the dense ids the class graph
//! is indexed by are handed out once the search is over
//! (`Classes::number`), when every shard's size is known.

use super::chunked::Chunked;
use super::graph::Bits;
use super::table::{BUCKET_BYTES, ClassIds, Fingerprint, prefetch};
use crate::model::step_names::NameSet;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

const SHARD_BITS: u32 = 6;
const RECENT_BITS: u32 = 8;
const INDEX_BITS: u32 = u32::BITS - SHARD_BITS;

/// A class's name during the search: its shard in the top `SHARD_BITS`,
/// its place in the shard below.
pub(super) type Packed = u32;

/// Set in a class's entry once it was expanded.
const EXPANDED: u32 = 1 << 31;

#[derive(Default)]
struct Shard {
    ids: ClassIds,
    /// Each class's sleep set, in its canonical member's step numbering,
    /// as its number in `sets`, by the class's place in the shard;
    /// `EXPANDED` once it was.
    asleep: Chunked<u32, 14>,
    /// The distinct sleep sets of the shard's classes, and their numbers.
    sets: Vec<NameSet>,
    numbers: HashMap<NameSet, u32, ahash::RandomState>,
    /// The numbers of sets met lately, by a few bits of the set: most
    /// meetings are with a few hundred sets, and this stays in the cache
    /// where `numbers`, at five replicas, does not (it was 4% of the
    /// search's time).
    recent: Vec<(NameSet, u32)>,
    /// For each property, the classes (by place) that decide it.
    hits: Vec<Bits>,
}

impl Shard {
    fn number_of(&mut self, set: NameSet) -> u32 {
        if self.recent.is_empty() {
            self.recent = vec![(0, u32::MAX); 1 << RECENT_BITS];
        }
        let mixed = (set as u64 ^ (set >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = (mixed >> (u64::BITS - RECENT_BITS)) as usize;
        let (was, n) = self.recent[slot];
        if n != u32::MAX && was == set {
            return n;
        }
        let next = self.sets.len() as u32;
        let n = *self.numbers.entry(set).or_insert(next);
        if n == next {
            assert!(next < EXPANDED, "fewer than 2^31 distinct sleep sets");
            self.sets.push(set);
        }
        self.recent[slot] = (set, n);
        n
    }
}

pub(super) struct Classes {
    shards: Box<[Mutex<Shard>]>,
    /// Each shard's `ClassIds::layout`, readable without its lock: only
    /// ever used for prefetches, so a stale one costs a cache miss, never
    /// a wrong answer.
    layouts: Box<[(AtomicPtr<u8>, AtomicUsize)]>,
    met: AtomicUsize,
}

/// What meeting a class again asks of the search.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Met {
    /// A class never met before: expand it.
    New(Packed),
    /// Nothing more to do.
    Known(Packed),
    /// Expanded already, with the transitions in the set asleep that are
    /// awake on this path: take those now.
    Woken(Packed, NameSet),
}

impl Met {
    pub(super) fn id(&self) -> Packed {
        match *self {
            Met::New(id) | Met::Known(id) | Met::Woken(id, _) => id,
        }
    }
}

impl Classes {
    pub(super) fn new() -> Classes {
        Classes {
            shards: (0..1 << SHARD_BITS).map(|_| Mutex::default()).collect(),
            layouts: (0..1 << SHARD_BITS)
                .map(|_| (AtomicPtr::default(), AtomicUsize::new(0)))
                .collect(),
            met: AtomicUsize::new(0),
        }
    }

    /// Classes met so far.
    pub(super) fn len(&self) -> usize {
        self.met.load(Ordering::Relaxed)
    }

    fn shard_of(fp: Fingerprint) -> usize {
        (fp >> (64 - SHARD_BITS)) as usize
    }

    fn shard(&self, fp: Fingerprint) -> std::sync::MutexGuard<'_, Shard> {
        let s = &self.shards[Self::shard_of(fp)];
        // A worker that panicked ends the search (`sleep::EndOnPanic`).
        s.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the CPU to start loading the line of `fp`'s shard table that
    /// `meet` will read.
    pub(super) fn prefetch(&self, fp: Fingerprint) {
        let (at, mask) = &self.layouts[Self::shard_of(fp)];
        let line = (fp as usize & mask.load(Ordering::Relaxed)) * BUCKET_BYTES;
        prefetch(at.load(Ordering::Relaxed).wrapping_add(line));
    }

    /// Meets class `fp` with `asleep` asleep on this path: a new class keeps
    /// that sleep set; a known one keeps what is asleep on every path to it.
    pub(super) fn meet(&self, fp: Fingerprint, asleep: NameSet) -> Met {
        let mut shard = self.shard(fp);
        let place = shard.asleep.len();
        assert!(
            place < 1 << INDEX_BITS,
            "fewer than 2^{INDEX_BITS} classes a shard: the search would not fit in memory anyway"
        );
        let (at, new) = shard.ids.get_or_insert(fp, || place as u32);
        let packed = (Self::shard_of(fp) as u32) << INDEX_BITS | at;
        if new {
            let n = shard.number_of(asleep);
            shard.asleep.push(n);
            // The table may have grown.
            let (at, mask) = shard.ids.layout();
            let layout = &self.layouts[Self::shard_of(fp)];
            layout.0.store(at as *mut u8, Ordering::Relaxed);
            layout.1.store(mask, Ordering::Relaxed);
            self.met.fetch_add(1, Ordering::Relaxed);
            return Met::New(packed);
        }
        let stored = shard.asleep[at as usize];
        let (old, expanded) = (shard.sets[(stored & !EXPANDED) as usize], stored & EXPANDED);
        let now = old & asleep;
        if now == old {
            return Met::Known(packed);
        }
        shard.asleep[at as usize] = shard.number_of(now) | expanded;
        if expanded != 0 {
            Met::Woken(packed, old & !asleep)
        } else {
            Met::Known(packed)
        }
    }

    /// Marks class `fp` expanded, deciding the properties whose bits are
    /// set in `decided`, and answers its sleep set: from here on a shrink
    /// of the set is a second expansion's work.
    pub(super) fn expand(&self, fp: Fingerprint, decided: u32) -> NameSet {
        let mut shard = self.shard(fp);
        let place = shard.asleep.len() as u32;
        let (at, new) = shard.ids.get_or_insert(fp, || place);
        assert!(!new, "a class is met before it is expanded");
        let stored = shard.asleep[at as usize];
        debug_assert!(stored & EXPANDED == 0, "a class is expanded first once");
        shard.asleep[at as usize] = stored | EXPANDED;
        let asleep = shard.sets[stored as usize];
        if decided != 0 {
            let props = u32::BITS - decided.leading_zeros();
            if shard.hits.len() < props as usize {
                shard.hits.resize_with(props as usize, Bits::default);
            }
            super::graph::record_hits(&mut shard.hits, at, decided);
        }
        asleep
    }

    /// Numbers the classes densely, shard after shard, and hands back
    /// every class's fingerprint and, for each of `nprops` properties, the
    /// classes that decide it, by those numbers. Each shard's memory goes
    /// as soon as it is numbered.
    pub(super) fn number(self, nprops: usize) -> Numbered {
        let mut out = Numbered {
            base: Vec::with_capacity(self.shards.len()),
            fingerprints: Chunked::default(),
            hits: (0..nprops).map(|_| Bits::default()).collect(),
        };
        for shard in self.shards.into_vec() {
            let shard = shard.into_inner().unwrap_or_else(|e| e.into_inner());
            let base = out.fingerprints.len() as u32;
            out.base.push(base);
            let mut fps = vec![0; shard.asleep.len()];
            for (fp, at) in shard.ids.iter() {
                fps[at as usize] = fp;
            }
            drop(shard.ids);
            for fp in fps {
                out.fingerprints.push(fp);
            }
            for (all, mine) in out.hits.iter_mut().zip(&shard.hits) {
                for at in mine.iter() {
                    all.insert(base + at);
                }
            }
        }
        out
    }
}

/// The classes, densely numbered once the search is over.
pub(super) struct Numbered {
    /// Each shard's first number.
    base: Vec<u32>,
    pub(super) fingerprints: Chunked<Fingerprint>,
    pub(super) hits: Vec<Bits>,
}

impl Numbered {
    /// The class's number.
    pub(super) fn id(&self, packed: Packed) -> u32 {
        self.base[(packed >> INDEX_BITS) as usize] + (packed & ((1 << INDEX_BITS) - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shrinking_sleep_set_wakes_transitions_only_once_expanded() {
        let c = Classes::new();
        let fp = 0x8000_0000_0000_0001;
        let first = Met::New(1 << (INDEX_BITS + SHARD_BITS - 1));
        assert_eq!(c.meet(fp, 0b111), first);
        let id = first.id();
        // Not expanded yet: the first expansion will see the smaller set.
        assert_eq!(c.meet(fp, 0b011), Met::Known(id));
        assert_eq!(c.expand(fp, 0b10), 0b011);
        assert_eq!(c.meet(fp, 0b111), Met::Known(id));
        assert_eq!(c.meet(fp, 0b001), Met::Woken(id, 0b010));
        assert_eq!(c.meet(fp, 0b001), Met::Known(id));
        assert_eq!(c.meet(7, 0), Met::New(0));
        assert_eq!(c.meet(8, 0), Met::New(1));
        assert_eq!(c.expand(8, 0b1), 0);
        assert_eq!(c.len(), 3);
        // Shard 0 (fingerprints 7 and 8) is numbered before shard 32.
        let n = c.number(2);
        assert_eq!((n.id(0), n.id(1), n.id(id)), (0, 1, 2));
        assert_eq!(
            (0..3).map(|i| n.fingerprints[i]).collect::<Vec<_>>(),
            vec![7, 8, fp]
        );
        assert!(n.hits[0].contains(1) && !n.hits[0].contains(2));
        assert!(n.hits[1].contains(2) && !n.hits[1].contains(1));
    }

    /// Far more sets than the cache of recent ones has slots, met in two
    /// orders: each keeps the number it was first given, whether the cache
    /// or the map answers, and the empty set (the cache's blank value)
    /// is numbered like any other.
    #[test]
    fn sleep_sets_keep_their_numbers_through_the_cache_of_recent_ones() {
        let mut shard = Shard::default();
        let sets: Vec<NameSet> = (0..5_000u32)
            .map(|i| NameSet::from(i).wrapping_mul(0x9e37_79b9) << (i % 90))
            .collect();
        let first: Vec<u32> = sets.iter().map(|&s| shard.number_of(s)).collect();
        for (&set, &n) in sets.iter().zip(&first).rev() {
            assert_eq!(shard.number_of(set), n);
            assert_eq!(shard.sets[n as usize], set);
        }
        assert_eq!(shard.sets.len(), shard.numbers.len());
        let empty = shard.number_of(0);
        assert_eq!(shard.sets[empty as usize], 0);
        assert_eq!(shard.number_of(0), empty);
    }
}
