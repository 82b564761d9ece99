//! The exhaustive check, in two passes.
//!
//! 1. A depth-first search visits every reachable symmetry class once,
//!    evaluates every property there, and records the class graph as
//!    integer edges. Depth first, because only the current path's states are
//!    alive: memory stays hot and small (a few dozen bytes per class).
//! 2. A breadth-first search over that integer graph finds, for each
//!    decided property, the class nearest to the initial state, and the
//!    path to it is replayed on concrete states, picking at each step an
//!    action that enters the next class. That works because a fingerprint
//!    is a function of the class alone: every member of a class has a
//!    successor in each class any other member reaches.
//!
//! Lengths are exact under the reduction because every property is symmetric.

use super::trace::Trace;
use crate::model::properties::{KafkaModel, KafkaState};
use crate::model::symmetry;
use stateright::{Expectation, Model};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// A state's identity: the hash of its broker symmetry class.
pub type Fingerprint = u64;

/// Fixed seeds, so runs (and state counts) repeat exactly.
const SEEDS: [u64; 4] = [0x6b61_666b_6121, 0x696e_7379_6e63, 0x6973_7221, 0x6873_7721];

pub fn fingerprint(state: &KafkaState, symmetry: bool) -> Fingerprint {
    let build = ahash::RandomState::with_seeds(SEEDS[0], SEEDS[1], SEEDS[2], SEEDS[3]);
    symmetry::fingerprint(state, symmetry, &build)
}

/// Fingerprints are already uniform: the class map uses them as they are.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Distinct states (symmetry classes) visited.
    pub unique_states: usize,
    /// Transitions followed, duplicates included.
    pub states: usize,
    /// The longest shortest path from an initial state.
    pub max_depth: usize,
    /// Every reachable state was visited (random walks: false).
    pub exhausted: bool,
    /// Properties with a deciding state: for `always`, a violating state;
    /// for `sometimes`, a witness.
    pub decided: Vec<&'static str>,
    /// A shortest path to each deciding state that could be replayed.
    pub discoveries: HashMap<&'static str, Trace>,
}

/// Progress as the search goes: classes found so far, and the phase.
pub type OnProgress<'a> = &'a (dyn Fn(usize, &str) + Sync);

/// A set of class ids.
#[derive(Default)]
struct Bits(Vec<u64>);

impl Bits {
    fn insert(&mut self, i: u32) {
        let w = i as usize / 64;
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << (i % 64);
    }
    fn contains(&self, i: u32) -> bool {
        self.0
            .get(i as usize / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// The class graph the first pass records.
#[derive(Default)]
struct Graph {
    ids: HashMap<Fingerprint, u32, BuildHasherDefault<Identity>>,
    fingerprints: Vec<Fingerprint>,
    /// Each class's successors: `succ[start[i]..start[i + 1]]`, set when
    /// the class is expanded (classes are expanded out of id order).
    range: Vec<(u64, u32)>,
    succ: Vec<u32>,
    /// Initial classes, with the index of their initial state.
    roots: Vec<(u32, usize)>,
}

impl Graph {
    /// The class's id, and whether it is new.
    fn intern(&mut self, fp: Fingerprint) -> (u32, bool) {
        match self.ids.entry(fp) {
            Entry::Occupied(e) => (*e.get(), false),
            Entry::Vacant(e) => {
                let id = u32::try_from(self.fingerprints.len())
                    .expect("fewer than 2^32 classes: the search would not fit in memory anyway");
                e.insert(id);
                self.fingerprints.push(fp);
                self.range.push((0, 0));
                (id, true)
            }
        }
    }
}

fn decides(model: &KafkaModel, p: &stateright::Property<KafkaModel>, state: &KafkaState) -> bool {
    let holds = (p.condition)(model, state);
    match p.expectation {
        Expectation::Always | Expectation::Eventually => !holds,
        Expectation::Sometimes => holds,
    }
}

/// Visits every state of `model` reachable within its boundary and
/// returns each decided property with a shortest path.
pub fn search(model: &KafkaModel, symmetry: bool, progress: OnProgress) -> Outcome {
    let props = model.properties();
    let mut hits: Vec<Bits> = props.iter().map(|_| Bits::default()).collect();
    let mut g = Graph::default();
    let mut out = Outcome {
        exhausted: true,
        ..Outcome::default()
    };
    let mut stack: Vec<(u32, KafkaState)> = Vec::new();
    for (i, s) in model.init_states().into_iter().enumerate() {
        out.states += 1;
        let (id, new) = g.intern(fingerprint(&s, symmetry));
        if new {
            g.roots.push((id, i));
            stack.push((id, s));
        }
    }
    let mut actions = Vec::new();
    let mut expanded = 0u64;
    while let Some((id, state)) = stack.pop() {
        for (p, bits) in props.iter().zip(&mut hits) {
            if decides(model, p, &state) {
                bits.insert(id);
            }
        }
        actions.clear();
        model.actions(&state, &mut actions);
        let start = g.succ.len() as u64;
        for action in actions.drain(..) {
            let Some(next) = model.next_state(&state, action) else {
                continue;
            };
            if !model.within_boundary(&next) {
                continue;
            }
            out.states += 1;
            let (nid, new) = g.intern(fingerprint(&next, symmetry));
            g.succ.push(nid);
            if new {
                stack.push((nid, next));
            }
        }
        g.range[id as usize] = (start, (g.succ.len() as u64 - start) as u32);
        expanded += 1;
        if expanded.is_multiple_of(8192) {
            progress(g.fingerprints.len(), "visiting states");
        }
    }
    out.unique_states = g.fingerprints.len();
    progress(out.unique_states, "shortest paths");

    // Breadth first over the class graph: the first decided class met is nearest.
    let n = g.fingerprints.len();
    let mut parent = vec![u32::MAX; n];
    let mut depth = vec![0u32; n];
    let mut queue = VecDeque::new();
    for &(r, _) in &g.roots {
        parent[r as usize] = r;
        queue.push_back(r);
    }
    let mut nearest: Vec<Option<u32>> = vec![None; props.len()];
    while let Some(c) = queue.pop_front() {
        for (p, bits) in nearest.iter_mut().zip(&hits) {
            if p.is_none() && bits.contains(c) {
                *p = Some(c);
            }
        }
        let (start, len) = g.range[c as usize];
        for &s in &g.succ[start as usize..start as usize + len as usize] {
            if parent[s as usize] == u32::MAX {
                parent[s as usize] = c;
                depth[s as usize] = depth[c as usize] + 1;
                out.max_depth = out.max_depth.max(depth[s as usize] as usize);
                queue.push_back(s);
            }
        }
    }
    for (p, target) in props.iter().zip(nearest) {
        let Some(target) = target else { continue };
        out.decided.push(p.name);
        // Roots are their own parents.
        let mut classes = vec![target];
        let mut c = target;
        while parent[c as usize] != c {
            c = parent[c as usize];
            classes.push(c);
        }
        classes.reverse();
        if let Some(t) = replay(model, &g, &classes, symmetry) {
            out.discoveries.insert(p.name, t);
        }
    }
    out
}

/// Replays a path of classes on concrete states. `None` only if two
/// fingerprints collided, which the 64-bit hash makes vanishingly rare.
fn replay(model: &KafkaModel, g: &Graph, classes: &[u32], symmetry: bool) -> Option<Trace> {
    let (_, init_index) = *g.roots.iter().find(|(r, _)| *r == classes[0])?;
    let mut state = model.init_states().into_iter().nth(init_index)?;
    let mut indices = Vec::with_capacity(classes.len());
    let mut actions = Vec::new();
    for &next_class in &classes[1..] {
        let want = g.fingerprints[next_class as usize];
        actions.clear();
        model.actions(&state, &mut actions);
        let (i, next) = actions.drain(..).enumerate().find_map(|(i, a)| {
            let next = model.next_state(&state, a)?;
            (model.within_boundary(&next) && fingerprint(&next, symmetry) == want)
                .then_some((i, next))
        })?;
        indices.push(i);
        state = next;
    }
    Trace::replay(model, init_index, indices)
}
