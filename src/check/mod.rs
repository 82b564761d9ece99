//! Running a check: an exhaustive search with the broker symmetry
//! reduction decides every property and finds the shortest counterexample
//! of each violated one; `--simulate` takes random walks instead.

pub mod batch;
mod chunked;
mod class_of;
mod classes;
mod concrete;
mod deadline;
pub mod diagram;
mod graph;
pub mod html;
mod pool;
mod progress;
pub mod report;
pub mod search;
mod shorten;
mod sleep;
pub mod story;
mod table;
pub mod trace;
pub mod walk;

use crate::model::ModelConfig;
use crate::model::config::NetworkKind;
use crate::model::properties::SAFETY;
use crate::model::state::KafkaModel;
use crate::scenario::{Expect, Verdict};
use progress::Progress;
use report::{Counterexample, PropertyReport, Report};
use stateright::{Expectation, Model};
use trace::Trace;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Worker threads for the search or the random walks; 0 means one per
    /// core. A batch gives each scenario one and runs them side by side.
    pub threads: usize,
    /// Show progress on stderr while checking: a spinner on a terminal,
    /// a plain line every few seconds elsewhere.
    pub progress: bool,
    /// Use the broker symmetry reduction (ordered network only).
    pub symmetry: bool,
    /// Use sleep sets in the exhaustive search (ordered network only):
    /// the same states through fewer transitions (see `sleep`).
    pub sleep_sets: bool,
    /// With sleep sets, also take the clients' steps alone where that
    /// visits every verdict (`model::client_first`): fewer states.
    pub client_first: bool,
    /// Drop the messages their receivers ignore for good as they are sent
    /// (ordered network only; `CompactModel::dropping_ignored`): fewer
    /// states.
    pub drop_ignored: bool,
    /// With sleep sets, deliver a follower's news of a newer leader epoch
    /// alone where nothing else it could do first matters
    /// (`model::news_first`): fewer states.
    pub news_first: bool,
    /// Random walks instead of an exhaustive check, for this long.
    pub simulate: Option<Duration>,
    /// At most this many random walks.
    pub walks: Option<u64>,
    /// An exhaustive check gives up after this long and reports what it
    /// has found.
    pub time_limit: Option<Duration>,
    /// An exhaustive check gives up, and reports what it has found, once
    /// the process holds this many bytes (default: half the machine's
    /// memory, leaving room for the shortest-path pass that follows).
    pub memory_limit: Option<u64>,
    /// An exhaustive check may stop once every property named here is
    /// violated (or, for a `sometimes` one, reached); the others are then
    /// undecided. Empty: search everything.
    pub enough: Vec<&'static str>,
    pub seed: u64,
}

/// Set by Ctrl-C: a running check stops and reports what it has so far.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Deepest a random walk goes before it starts over: far past every
/// counterexample in the catalogue (the longest is 22 steps).
const WALK_DEPTH: usize = 400;

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            threads: 0,
            progress: false,
            symmetry: true,
            sleep_sets: true,
            client_first: true,
            drop_ignored: true,
            news_first: true,
            simulate: None,
            walks: None,
            time_limit: None,
            memory_limit: default_memory_limit(),
            enough: Vec::new(),
            seed: 0,
        }
    }
}

/// Half the machine's memory: the search's tables and stacks of states
/// grow until it stops, and the shortest-path pass then builds its graph
/// beside them.
pub fn default_memory_limit() -> Option<u64> {
    crate::alloc::physical_bytes().map(|b| b / 2)
}

impl CheckOptions {
    /// These options for a scenario checked by `walks` seeded random
    /// walks (`[check] walks`), however long they take; unchanged for an
    /// exhaustive one.
    pub fn walking(&self, walks: Option<u64>) -> CheckOptions {
        match walks {
            Some(n) => CheckOptions {
                simulate: Some(self.simulate.unwrap_or(Duration::MAX)),
                walks: Some(self.walks.unwrap_or(n)),
                ..self.clone()
            },
            None => self.clone(),
        }
    }
}

/// Checks one configuration and compares each verdict with `expect`.
pub fn run(cfg: &ModelConfig, expect: &Expect, opts: &CheckOptions) -> Report {
    let started = Instant::now();
    let opts = &CheckOptions {
        threads: resolve_threads(opts.threads),
        ..opts.clone()
    };
    let model = cfg.clone().into_model();
    let symmetry = opts.symmetry && cfg.network == NetworkKind::Ordered;
    let pb = Progress::spinner(opts.progress, &cfg.summary());
    let summary = cfg.summary();
    let found = match opts.simulate {
        // The walks step compact states, which model the ordered network.
        Some(limit) if cfg.network == NetworkKind::Ordered => {
            let on_progress = |p: &walk::WalkProgress| {
                pb.message(format!(
                    "{summary}: {} random walks, {} steps, {} properties decided",
                    p.walks, p.steps, p.decided
                ));
            };
            let limits = walk::WalkLimits {
                threads: opts.threads,
                limit,
                seed: opts.seed,
                max_walks: opts.walks,
                max_depth: WALK_DEPTH,
                stop: &INTERRUPTED,
            };
            walk::walk(&model, symmetry, &limits, &on_progress)
        }
        simulate => {
            let on_progress = |unique: usize, phase: &str| {
                let rate = unique as f64 / pb.elapsed().as_secs_f64().max(1e-3);
                pb.message(format!(
                    "{summary}: {phase}, {unique} unique states, {rate:.0} states/s"
                ));
            };
            let enough = model
                .properties()
                .iter()
                .enumerate()
                .filter(|(_, p)| opts.enough.contains(&p.name))
                .fold(0, |bits, (i, _)| bits | 1 << i);
            let deadline = search::Deadline {
                limit: simulate.or(opts.time_limit),
                stop: &INTERRUPTED,
                enough,
                memory: opts.memory_limit,
            };
            search::search(
                &model,
                symmetry,
                (
                    opts.sleep_sets,
                    opts.client_first,
                    opts.drop_ignored,
                    opts.news_first,
                ),
                opts.threads,
                &on_progress,
                &deadline,
            )
        }
    };
    let simulation = opts.simulate.is_some() && found.walks > 0;
    let mut properties = Vec::new();
    for p in model.properties() {
        let decided = found.decided.contains(&p.name);
        let trace = found.discoveries.get(p.name);
        let (verdict, counterexample) = match (&p.expectation, decided) {
            (Expectation::Always | Expectation::Eventually, true) => (
                Verdict::Violated,
                trace.map(|t| counterexample(&model, t, p.name)),
            ),
            (Expectation::Sometimes, true) => (Verdict::Holds, None),
            // Walks, or a search cut short, prove nothing by missing a state.
            (_, false) if !found.exhausted => (Verdict::Unknown, None),
            (Expectation::Always | Expectation::Eventually, false) => (Verdict::Holds, None),
            (Expectation::Sometimes, false) => (Verdict::Violated, None),
        };
        properties.push(PropertyReport {
            name: p.name.to_string(),
            expectation: match p.expectation {
                Expectation::Always => "always",
                Expectation::Sometimes => "sometimes",
                Expectation::Eventually => "eventually",
            }
            .to_string(),
            verdict,
            expected: expect.get(p.name),
            counterexample,
        });
    }
    pb.finish();
    let order: BTreeMap<&str, usize> = SAFETY.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    properties.sort_by_key(|p| order.get(p.name.as_str()).copied().unwrap_or(usize::MAX));
    Report {
        config: cfg.clone(),
        properties,
        unique_states: found.unique_states,
        states: found.states,
        max_depth: found.max_depth,
        seconds: started.elapsed().as_secs_f64(),
        symmetry,
        simulation,
        exhausted: found.exhausted,
        walks: simulation.then_some(found.walks),
        stopped: found.stopped.map(|s| match s {
            search::Stopped::TimeLimit => "time limit",
            search::Stopped::MemoryLimit => "memory limit",
            search::Stopped::Interrupted => "interrupted",
            search::Stopped::Decided => "enough decided",
        }),
    }
}

/// 0 threads means one per core.
pub fn resolve_threads(n: usize) -> usize {
    if n > 0 {
        n
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

fn counterexample(model: &KafkaModel, t: &Trace, property: &str) -> Counterexample {
    let steps = story::story(model, t);
    Counterexample {
        length: t.len(),
        explorer_path: t.explorer_path(),
        diagram: Some(diagram::diagram(model, t, &steps, property)),
        steps,
        ending: story::ending(t, property),
    }
}
