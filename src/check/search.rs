//! The exhaustive check: a breadth-first search, level by level, over the
//! model's states, deduplicated by the fingerprint of each state's broker
//! symmetry class.
//!
//! Breadth first, so the first state found that violates an `always`
//! property ends a shortest counterexample, and one search both decides
//! every property and yields its shortest path. A path needs only each
//! state's parent fingerprint and action index, so memory is a few dozen
//! bytes per state plus the states of the widest level. Lengths stay exact
//! under the reduction because every property is symmetric.

use super::trace::Trace;
use crate::model::properties::{KafkaModel, KafkaState};
use crate::model::symmetry::fingerprint_with;
use stateright::{Expectation, Model};
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// A state's identity: the hash of its symmetry class's representative.
pub type Fingerprint = u64;

/// Fixed seeds, so runs (and state counts) repeat exactly.
const SEEDS: [u64; 4] = [0x6b61_666b_6121, 0x696e_7379_6e63, 0x6973_7221, 0x6873_7721];

/// Marks an initial state's parent.
const ROOT: Fingerprint = 0;

pub fn fingerprint(state: &KafkaState, symmetry: bool) -> Fingerprint {
    let mut h =
        ahash::RandomState::with_seeds(SEEDS[0], SEEDS[1], SEEDS[2], SEEDS[3]).build_hasher();
    fingerprint_with(state, symmetry, &mut h);
    // 0 is ROOT; a real hash of 0 (odds 2^-64) moves aside.
    h.finish().max(1)
}

/// Fingerprints are already uniform: the visited map uses them as they are.
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

/// How each visited state was first reached: its parent and the index of
/// the action among the parent's actions.
type Visited = HashMap<Fingerprint, (Fingerprint, u32), BuildHasherDefault<Identity>>;

#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Distinct states (symmetry classes) visited.
    pub unique_states: usize,
    /// Transitions followed, duplicates included.
    pub states: usize,
    pub max_depth: usize,
    /// False when the search stopped early because every property was decided.
    pub exhausted: bool,
    /// Per property name: for `always`, a shortest path to a violating
    /// state; for `sometimes`, a shortest path to a witness.
    pub discoveries: HashMap<&'static str, Trace>,
}

/// Progress as the search goes: unique states so far and the current depth.
pub type OnProgress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// States expanded per block: bounds the successors held at once and sets
/// how often progress is reported.
const BLOCK: usize = 1024;

struct Expansion {
    /// Candidates for the next level: (fingerprint, parent, action index, state).
    next: Vec<(Fingerprint, Fingerprint, u32, KafkaState)>,
    /// (property index, fingerprint of a state that decides it).
    hits: Vec<(usize, Fingerprint)>,
    generated: usize,
}

struct Ctx<'a> {
    model: &'a KafkaModel,
    props: &'a [stateright::Property<KafkaModel>],
    symmetry: bool,
}

impl Ctx<'_> {
    fn decides(&self, i: usize, state: &KafkaState) -> bool {
        let p = &self.props[i];
        let holds = (p.condition)(self.model, state);
        match p.expectation {
            Expectation::Always | Expectation::Eventually => !holds,
            Expectation::Sometimes => holds,
        }
    }

    fn expand(
        &self,
        open: &[usize],
        level: &[(Fingerprint, KafkaState)],
        visited: &Visited,
    ) -> Expansion {
        let mut out = Expansion {
            next: Vec::new(),
            hits: Vec::new(),
            generated: 0,
        };
        let mut actions = Vec::new();
        for (fp, state) in level {
            for &i in open {
                if self.decides(i, state) {
                    out.hits.push((i, *fp));
                }
            }
            actions.clear();
            self.model.actions(state, &mut actions);
            for (ai, action) in actions.drain(..).enumerate() {
                let Some(next) = self.model.next_state(state, action) else {
                    continue;
                };
                if !self.model.within_boundary(&next) {
                    continue;
                }
                out.generated += 1;
                let nfp = fingerprint(&next, self.symmetry);
                if !visited.contains_key(&nfp) {
                    out.next.push((nfp, *fp, ai as u32, next));
                }
            }
        }
        out
    }
}

/// Searches every state of `model` reachable within its boundary, or until
/// every property is decided. `threads` workers expand each block.
pub fn search(model: &KafkaModel, symmetry: bool, threads: usize, progress: OnProgress) -> Outcome {
    let props = model.properties();
    let ctx = Ctx {
        model,
        props: &props,
        symmetry,
    };
    let mut visited = Visited::default();
    let mut found: Vec<Option<Fingerprint>> = vec![None; props.len()];
    let mut out = Outcome::default();
    let mut level: Vec<(Fingerprint, KafkaState)> = Vec::new();
    for (i, s) in model.init_states().into_iter().enumerate() {
        let fp = fingerprint(&s, symmetry);
        if visited.insert(fp, (ROOT, i as u32)).is_none() {
            level.push((fp, s));
        }
    }
    out.states = level.len();
    let threads = threads.max(1);
    let mut depth = 0;
    out.exhausted = true;
    while !level.is_empty() {
        let open: Vec<usize> = (0..props.len()).filter(|&i| found[i].is_none()).collect();
        if open.is_empty() {
            out.exhausted = false;
            break;
        }
        out.max_depth = depth;
        let mut next_level = Vec::new();
        for block in level.chunks(BLOCK) {
            let parts: Vec<Expansion> = if threads == 1 {
                vec![ctx.expand(&open, block, &visited)]
            } else {
                let per = block.len().div_ceil(threads).max(1);
                std::thread::scope(|s| {
                    let handles: Vec<_> = block
                        .chunks(per)
                        .map(|c| s.spawn(|| ctx.expand(&open, c, &visited)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("a search worker panicked"))
                        .collect()
                })
            };
            for part in parts {
                out.states += part.generated;
                for (i, fp) in part.hits {
                    found[i].get_or_insert(fp);
                }
                for (fp, parent, ai, state) in part.next {
                    if let std::collections::hash_map::Entry::Vacant(e) = visited.entry(fp) {
                        e.insert((parent, ai));
                        next_level.push((fp, state));
                    }
                }
            }
            progress(visited.len(), depth);
        }
        level = next_level;
        depth += 1;
    }
    out.unique_states = visited.len();
    for (i, fp) in found.iter().enumerate() {
        if let Some(fp) = fp {
            out.discoveries
                .insert(props[i].name, path_to(model, &visited, *fp));
        }
    }
    out
}

/// Rebuilds the path to `fp` from the parent links and replays it.
fn path_to(model: &KafkaModel, visited: &Visited, fp: Fingerprint) -> Trace {
    let mut indices = Vec::new();
    let mut cur = fp;
    let init_index = loop {
        let (parent, ai) = visited[&cur];
        if parent == ROOT {
            break ai as usize;
        }
        indices.push(ai as usize);
        cur = parent;
    };
    indices.reverse();
    Trace::replay(model, init_index, indices)
        .expect("a recorded path replays: next_state is deterministic")
}
