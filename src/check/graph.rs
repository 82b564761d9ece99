//! The class graph the search's first pass records: every class once, by
//! integer id, with the edges the pass followed. The second pass finds
//! shortest paths in it.

use super::chunked::Chunked;
use super::table::{ClassIds, Fingerprint};
use std::collections::HashMap;

/// A set of class ids.
#[derive(Default)]
pub(super) struct Bits(Vec<u64>);

impl Bits {
    pub(super) fn insert(&mut self, i: u32) {
        let w = i as usize / 64;
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << (i % 64);
    }
    pub(super) fn union(&mut self, other: &Bits) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
    pub(super) fn contains(&self, i: u32) -> bool {
        self.0
            .get(i as usize / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// Calls its second argument with each successor of a class.
pub(super) type Successors<'a> = dyn Fn(u32, &mut dyn FnMut(u32)) + 'a;

/// The class graph the first pass records.
#[derive(Default)]
pub(super) struct Graph {
    pub(super) ids: ClassIds,
    pub(super) fingerprints: Chunked<Fingerprint>,
    /// Each class's successors: `range[i] = (start, len)` names
    /// `succ[start..start + len]`, set when the class is expanded (classes
    /// are expanded out of id order).
    pub(super) range: Chunked<(u64, u32)>,
    pub(super) succ: Chunked<u32>,
    /// Edges found when the sleep-set search expands a class a second
    /// time (see `sleep`), as (from, to).
    pub(super) extra: Vec<(u32, u32)>,
    /// Initial classes, with the index of their initial state.
    pub(super) roots: Vec<(u32, usize)>,
}

impl Graph {
    /// The class's id, and whether it is new.
    pub(super) fn intern(&mut self, fp: Fingerprint) -> (u32, bool) {
        let (id, new) = self.ids.get_or_insert(fp, || {
            u32::try_from(self.fingerprints.len())
                .expect("fewer than 2^32 classes: the search would not fit in memory anyway")
        });
        if new {
            self.fingerprints.push(fp);
            self.range.push((0, 0));
        }
        (id, new)
    }
}

impl Graph {
    /// Every class's successors, `extra` edges included, for the
    /// shortest-path pass.
    pub(super) fn successors(&self) -> impl Fn(u32, &mut dyn FnMut(u32)) + '_ {
        let mut extra: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(from, to) in &self.extra {
            extra.entry(from).or_default().push(to);
        }
        move |c, f| {
            let (start, len) = self.range[c as usize];
            for i in start as usize..start as usize + len as usize {
                f(self.succ[i]);
            }
            for &s in extra.get(&c).into_iter().flatten() {
                f(s);
            }
        }
    }
}

/// Marks class `id` in `hits[i]` for every property `i` whose bit is set in
/// `decided`.
pub(super) fn record_hits(hits: &mut [Bits], id: u32, decided: u32) {
    for (i, h) in hits.iter_mut().enumerate() {
        if decided & (1 << i) != 0 {
            h.insert(id);
        }
    }
}
