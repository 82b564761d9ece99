//! Random walks, for configurations too large to exhaust.
//!
//! A uniform walk almost never meets Kafka's data-loss runs: they need a
//! fault at one moment and a message held back for many steps. So each
//! walk draws its own weights first, as SPIN's swarm verification runs
//! many differently configured searches: every channel gets a weight
//! spread over two orders of magnitude (a channel weighted low holds its
//! messages back, which is what a slow follower or a late LeaderAndIsr
//! is), and every fault gets a weight or is left out of that walk. Across
//! thousands of walks the weights cover orderings a uniform choice meets
//! with vanishing probability.
//!
//! A walk proves nothing where it finds nothing: the report says how many
//! walks it took and how deep they went, a `sometimes` property no walk
//! reached fails the check, and each violation found is replayed into a
//! story (the shortest any walk found, then shortened further, but not
//! necessarily the shortest there is).

use super::search::{Fingerprint, Outcome, decided_bits, replay};
use super::shorten::shorten;
use crate::model::compact::{CompactModel, StepKind};
use crate::model::properties::properties;
use crate::model::state::{KafkaModel, View};
use crate::model::symmetry;
use crate::rng::Rng;
use stateright::{Expectation, Model};
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long and how widely to walk.
pub struct WalkLimits<'a> {
    pub threads: usize,
    pub limit: Duration,
    pub seed: u64,
    /// Stop after this many walks. Walk `i` draws its weights and choices
    /// from `(seed, i)` alone, so a run bounded by walks finds the same
    /// counterexamples on any number of threads.
    pub max_walks: Option<u64>,
    /// A walk that reaches this depth starts over.
    pub max_depth: usize,
    /// Set from outside (Ctrl-C) to stop early.
    pub stop: &'a AtomicBool,
}

/// The walks' running totals, for progress.
pub struct WalkProgress {
    pub walks: u64,
    pub steps: u64,
    pub decided: u32,
}

/// Distinct classes each thread remembers for the report; past this the
/// count is a lower bound and memory stays flat however long the walks run.
const COUNTED_CLASSES: usize = 1 << 24;

/// One walk's weights.
struct Swarm {
    /// By (source, destination) actor index.
    channels: Vec<f64>,
    actors: usize,
    /// By timer bit number; 0 leaves that timer's fault out of the walk.
    timers: [f64; 32],
    elect: f64,
}

impl Swarm {
    fn draw(rng: &mut Rng, actors: usize) -> Swarm {
        // log-uniform in [2^-lo, 2^hi]
        let spread = |rng: &mut Rng, lo: i32, hi: i32| {
            let steps = (hi + lo) as u64 * 8;
            2f64.powf(rng.below(steps + 1) as f64 / 8.0 - lo as f64)
        };
        let channels = (0..actors * actors).map(|_| spread(rng, 4, 3)).collect();
        let mut timers = [0.0; 32];
        for (bit, w) in timers.iter_mut().enumerate() {
            let fault = StepKind::Timer(0, bit as u8).starts_a_fault();
            *w = match fault {
                // A fault is in three walks of four, mostly as a rare event.
                true if rng.percent(25) => 0.0,
                true => spread(rng, 6, 1),
                false => spread(rng, 4, 3),
            };
        }
        Swarm {
            channels,
            actors,
            timers,
            elect: spread(rng, 2, 2),
        }
    }

    fn weight(&self, kind: StepKind) -> f64 {
        match kind {
            StepKind::Deliver(src, dst) => self.channels[src as usize * self.actors + dst as usize],
            StepKind::Timer(_, bit) => self.timers[bit as usize],
            StepKind::Elect => self.elect,
        }
    }
}

/// A path of classes from the initial state, and the walk that took it.
type WalkPath = (u64, Vec<Fingerprint>);

/// The shortest path to a deciding state found so far, per property.
struct Found {
    /// Bit `i`: property `i` was decided by some walk.
    decided: AtomicU32,
    shortest: Vec<AtomicUsize>,
    /// The path, and the walk that found it: of two as short, the earlier
    /// walk's is kept, so the result does not depend on thread timing.
    paths: Vec<Mutex<Option<WalkPath>>>,
}

impl Found {
    fn offer(&self, property: usize, walk: u64, path: &[Fingerprint]) {
        self.decided.fetch_or(1 << property, Ordering::Relaxed);
        self.shortest[property].fetch_min(path.len(), Ordering::Relaxed);
        let mut best = self.paths[property].lock().expect("no walker panics");
        if best
            .as_ref()
            .is_none_or(|(w, b)| (b.len(), *w) > (path.len(), walk))
        {
            *best = Some((walk, path.to_vec()));
        }
    }
}

/// Walk `i`'s own stream.
fn walk_rng(seed: u64, walk: u64) -> Rng {
    // splitmix64's finaliser spreads neighbouring walk numbers apart.
    let mut z = seed ^ walk.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    Rng::new(z ^ (z >> 31))
}

/// Walks `model` until `limits` say stop or every property is decided.
pub fn walk(
    model: &KafkaModel,
    symmetry: bool,
    limits: &WalkLimits,
    progress: &(dyn Fn(&WalkProgress) + Sync),
) -> Outcome {
    let props = model.properties();
    let n = props.len();
    assert!(n <= 32, "decided properties are kept as bits");
    let all: u32 = if n == 32 { u32::MAX } else { (1 << n) - 1 };
    let found = Found {
        decided: AtomicU32::new(0),
        shortest: (0..n).map(|_| AtomicUsize::new(usize::MAX)).collect(),
        paths: (0..n).map(|_| Mutex::new(None)).collect(),
    };
    // Walk numbers handed out, and walks finished.
    let walks = AtomicU64::new(0);
    let finished = AtomicU64::new(0);
    let steps = AtomicU64::new(0);
    let deepest = AtomicUsize::new(0);
    let started = Instant::now();
    let done = || {
        limits.stop.load(Ordering::Relaxed)
            || started.elapsed() >= limits.limit
            || found.decided.load(Ordering::Relaxed) == all
    };
    let counted: Mutex<HashSet<Fingerprint>> = Mutex::new(HashSet::new());
    std::thread::scope(|scope| {
        for t in 0..limits.threads.max(1) {
            let (found, walks, finished, steps, deepest, counted) =
                (&found, &walks, &finished, &steps, &deepest, &counted);
            let done = &done;
            scope.spawn(move || {
                let cm = CompactModel::new(model);
                let checks = properties(&model.cfg);
                let mut seen: HashSet<Fingerprint> = HashSet::new();
                let mut next = Vec::new();
                let mut path: Vec<Fingerprint> = Vec::new();
                let init = cm.init_state();
                while !done() {
                    let index = walks.fetch_add(1, Ordering::Relaxed);
                    if limits.max_walks.is_some_and(|m| index >= m) {
                        break;
                    }
                    let mut rng = walk_rng(limits.seed, index);
                    let swarm = Swarm::draw(&mut rng, model.actors.len());
                    let mut state = init.clone();
                    path.clear();
                    path.push(symmetry::fingerprint(&state, symmetry));
                    loop {
                        let v = View::of(&state);
                        let decided = decided_bits(
                            checks
                                .iter()
                                .map(|(_, e, check)| (e, check(&model.cfg, &state, &v))),
                        );
                        drop(v);
                        for i in (0..n).filter(|i| decided & (1 << i) != 0) {
                            if found.shortest[i].load(Ordering::Relaxed) >= path.len() {
                                found.offer(i, index, &path);
                            }
                        }
                        if path.len() > limits.max_depth {
                            break;
                        }
                        next.clear();
                        cm.successors_by_kind(&state, &mut next);
                        let total: f64 = next.iter().map(|(k, _)| swarm.weight(*k)).sum();
                        if total <= 0.0 {
                            break;
                        }
                        let mut pick = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
                        let mut chosen = next.len() - 1;
                        for (i, (k, _)) in next.iter().enumerate() {
                            pick -= swarm.weight(*k);
                            if pick < 0.0 {
                                chosen = i;
                                break;
                            }
                        }
                        state = next.swap_remove(chosen).1;
                        let fp = symmetry::fingerprint(&state, symmetry);
                        if seen.len() < COUNTED_CLASSES {
                            seen.insert(fp);
                        }
                        path.push(fp);
                    }
                    steps.fetch_add(path.len() as u64 - 1, Ordering::Relaxed);
                    deepest.fetch_max(path.len() - 1, Ordering::Relaxed);
                    finished.fetch_add(1, Ordering::Relaxed);
                    if t == 0 && index % 64 == 0 {
                        progress(&WalkProgress {
                            walks: finished.load(Ordering::Relaxed),
                            steps: steps.load(Ordering::Relaxed),
                            decided: found.decided.load(Ordering::Relaxed).count_ones(),
                        });
                    }
                }
                counted.lock().expect("no walker panics").extend(seen);
            });
        }
    });
    let mut out = Outcome {
        unique_states: counted.into_inner().expect("no walker panicked").len(),
        states: steps.load(Ordering::Relaxed) as usize,
        max_depth: deepest.load(Ordering::Relaxed),
        exhausted: false,
        walks: finished.load(Ordering::Relaxed),
        ..Outcome::default()
    };
    let decided = found.decided.load(Ordering::Relaxed);
    for (i, p) in props.iter().enumerate() {
        if decided & (1 << i) == 0 {
            continue;
        }
        out.decided.push(p.name);
        let path = found.paths[i].lock().expect("no walker panicked").take();
        if let Some(t) = path.and_then(|(_, path)| replay(model, 0, &path, (symmetry, false))) {
            let t = match p.expectation {
                Expectation::Sometimes => t,
                _ => shorten(model, t, p.name),
            };
            out.discoveries.insert(p.name, t);
        }
    }
    out
}
