//! The class graph the search's first pass records: every class once, by
//! integer id, with the edges the pass followed. The second pass finds
//! shortest paths in it.

use super::chunked::Chunked;
use super::table::{ClassIds, Fingerprint};

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
    /// The ids in the set, in increasing order.
    pub(super) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut left = word;
            std::iter::from_fn(move || {
                let b = left.trailing_zeros();
                left &= left.wrapping_sub(1);
                (b < 64).then(|| (w * 64) as u32 + b)
            })
        })
    }
    pub(super) fn contains(&self, i: u32) -> bool {
        self.0
            .get(i as usize / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// The class graph the first pass records.
#[derive(Default)]
pub(super) struct Graph {
    pub(super) ids: ClassIds,
    pub(super) fingerprints: Chunked<Fingerprint>,
    /// Each class's successors, `succ[start..start + len]`, packed as
    /// `start << LEN_BITS | len`: set when the class is expanded (classes
    /// are expanded out of id order). Eight bytes a class, not sixteen:
    /// after the search this and `succ` are most of the memory.
    range: Chunked<u64>,
    pub(super) succ: Chunked<u32>,
    /// Initial classes, with the index of their initial state.
    pub(super) roots: Vec<(u32, usize)>,
}

const LEN_BITS: u32 = 24;

impl Graph {
    /// The class's id, and whether it is new.
    pub(super) fn intern(&mut self, fp: Fingerprint) -> (u32, bool) {
        let (id, new) = self.ids.get_or_insert(fp, || {
            u32::try_from(self.fingerprints.len())
                .expect("fewer than 2^32 classes: the search would not fit in memory anyway")
        });
        if new {
            self.push_class(fp);
        }
        (id, new)
    }

    /// A graph of the classes with these fingerprints, by id, their
    /// successors not yet known.
    pub(super) fn of_classes(fingerprints: Chunked<Fingerprint>) -> Graph {
        let mut g = Graph::default();
        for _ in 0..fingerprints.len() {
            g.range.push(0);
        }
        g.fingerprints = fingerprints;
        g
    }

    /// A class with the next id, its successors not yet known.
    fn push_class(&mut self, fp: Fingerprint) {
        self.fingerprints.push(fp);
        self.range.push(0);
    }

    /// Class `id`'s successors are `succ[start..start + len]`.
    pub(super) fn set_successors(&mut self, id: u32, start: u64, len: usize) {
        assert!(
            len < 1 << LEN_BITS && start < 1 << (64 - LEN_BITS),
            "a class has fewer than 2^24 successors, the graph fewer than 2^40 edges"
        );
        self.range[id as usize] = start << LEN_BITS | len as u64;
    }

    /// Calls `f` with each successor of class `c`.
    pub(super) fn each_successor(&self, c: u32, mut f: impl FnMut(u32)) {
        let packed = self.range[c as usize];
        let start = (packed >> LEN_BITS) as usize;
        for i in start..start + (packed & ((1 << LEN_BITS) - 1)) as usize {
            f(self.succ[i]);
        }
    }

    /// Adds edges found after their source was expanded (the sleep-set
    /// search's second expansions): each source's successors are copied to
    /// the end of `succ` with the new ones after them, so that every
    /// class's successors stay in one run. Few classes have any.
    pub(super) fn add_edges(&mut self, mut extra: Vec<(u32, u32)>) {
        extra.sort_unstable();
        for group in extra.chunk_by(|a, b| a.0 == b.0) {
            let from = group[0].0;
            let start = self.succ.len() as u64;
            let mut old = Vec::new();
            self.each_successor(from, |s| old.push(s));
            for s in old.into_iter().chain(group.iter().map(|&(_, to)| to)) {
                self.succ.push(s);
            }
            let len = (self.succ.len() as u64 - start) as usize;
            self.set_successors(from, start, len);
        }
    }

    /// Breadth first from the roots.
    pub(super) fn breadth_first(&self) -> Bfs {
        let n = self.fingerprints.len();
        let mut bfs = Bfs {
            parent: vec![u32::MAX; n],
            order: Vec::with_capacity(n),
            levels: vec![0],
        };
        for &(r, _) in &self.roots {
            if bfs.parent[r as usize] == u32::MAX {
                bfs.parent[r as usize] = r;
                bfs.order.push(r);
            }
        }
        let mut at = 0;
        while at < bfs.order.len() {
            let end = bfs.order.len();
            bfs.levels.push(end);
            for i in at..end {
                let c = bfs.order[i];
                self.each_successor(c, |s| {
                    if bfs.parent[s as usize] == u32::MAX {
                        bfs.parent[s as usize] = c;
                        bfs.order.push(s);
                    }
                });
            }
            at = end;
        }
        bfs
    }
}

/// A breadth-first search of the class graph.
pub(super) struct Bfs {
    /// Each class's parent on a shortest path from a root; a root is its
    /// own; `u32::MAX` where unreached.
    pub(super) parent: Vec<u32>,
    /// The classes reached, nearest first.
    pub(super) order: Vec<u32>,
    /// `order[levels[d]..levels[d + 1]]` are the classes `d` steps from a
    /// root.
    pub(super) levels: Vec<usize>,
}

impl Bfs {
    /// The longest shortest path from a root.
    pub(super) fn max_depth(&self) -> usize {
        self.levels.len().saturating_sub(2)
    }

    /// The classes on a shortest path from a root to `c`, root first.
    pub(super) fn path_to(&self, mut c: u32) -> Vec<u32> {
        let mut classes = vec![c];
        while self.parent[c as usize] != c {
            c = self.parent[c as usize];
            classes.push(c);
        }
        classes.reverse();
        classes
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 0 → 1 → 2 → 3, and 0 → 4; then the edges 1 → 4 (a class already
    /// listed) and 4 → 3, found by second expansions.
    fn graph() -> Graph {
        let mut g = Graph::default();
        for fp in 10..15 {
            g.intern(fp);
        }
        g.roots.push((0, 0));
        for (from, to) in [(0u32, vec![1u32, 4]), (1, vec![2]), (2, vec![3])] {
            let start = g.succ.len() as u64;
            for &t in &to {
                g.succ.push(t);
            }
            g.set_successors(from, start, to.len());
        }
        g.add_edges(vec![(4, 3), (1, 4)]);
        g
    }

    #[test]
    fn added_edges_join_their_source_s_successors() {
        let g = graph();
        let of = |c| {
            let mut out = Vec::new();
            g.each_successor(c, |s| out.push(s));
            out
        };
        assert_eq!(of(0), vec![1, 4]);
        assert_eq!(of(1), vec![2, 4]);
        assert_eq!(of(4), vec![3]);
        assert_eq!(of(3), Vec::<u32>::new());
    }

    #[test]
    fn breadth_first_finds_the_shortest_paths_by_level() {
        let bfs = graph().breadth_first();
        assert_eq!(bfs.order, vec![0, 1, 4, 2, 3]);
        assert_eq!(bfs.levels, vec![0, 1, 3, 5]);
        assert_eq!(bfs.max_depth(), 2);
        // Through the added edge 4 → 3, not 1 → 2 → 3.
        assert_eq!(bfs.path_to(3), vec![0, 4, 3]);
        assert_eq!(bfs.path_to(0), vec![0]);
    }

    #[test]
    fn a_set_lists_its_members_in_order() {
        let mut b = Bits::default();
        for i in [130, 3, 64, 0, 63] {
            b.insert(i);
        }
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![0, 3, 63, 64, 130]);
    }
}
