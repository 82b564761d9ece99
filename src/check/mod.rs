//! Running a check: an exhaustive breadth-first search with the broker
//! symmetry reduction decides every property and finds the shortest
//! counterexample of each violated one; `--simulate` hands the model to
//! stateright's random walks instead.

pub mod batch;
mod chunked;
pub mod report;
pub mod search;
pub mod story;
mod table;
pub mod trace;

use crate::model::ModelConfig;
use crate::model::config::NetworkKind;
use crate::model::properties::SAFETY;
use crate::model::state::{KafkaModel, KafkaState};
use crate::model::symmetry::representative;
use crate::scenario::{Expect, Verdict};
use indicatif::{ProgressBar, ProgressStyle};
use report::{Counterexample, PropertyReport, Report};
use stateright::{Checker, Expectation, Model};
use trace::Trace;

type Action = <KafkaModel as Model>::Action;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Worker threads for random walks; 0 means one per core. The
    /// exhaustive search runs on one.
    pub threads: usize,
    /// Show a spinner on stderr while checking.
    pub progress: bool,
    /// Use the broker symmetry reduction (ordered network only).
    pub symmetry: bool,
    /// Random walks instead of an exhaustive check, for this long.
    pub simulate: Option<Duration>,
    pub seed: u64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            threads: 0,
            progress: false,
            symmetry: true,
            simulate: None,
            seed: 0,
        }
    }
}

fn spinner(enabled: bool, what: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").expect("a valid template"),
    );
    pb.set_message(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
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
    let pb = spinner(opts.progress, &cfg.summary());
    let found = match opts.simulate {
        Some(limit) => simulate(&model, cfg, symmetry, limit, opts, &pb),
        None => {
            let summary = cfg.summary();
            let on_progress = |unique: usize, phase: &str| {
                pb.set_message(format!("{summary}: {phase}, {unique} unique states"));
            };
            search::search(&model, symmetry, &on_progress)
        }
    };
    let mut properties = Vec::new();
    for p in model.properties() {
        let decided = found.decided.contains(&p.name);
        let trace = found.discoveries.get(p.name);
        let (verdict, counterexample) = match (&p.expectation, decided) {
            (Expectation::Always | Expectation::Eventually, true) => (
                Verdict::Violated,
                trace.map(|t| counterexample(&model, t, p.name, opts)),
            ),
            (Expectation::Always | Expectation::Eventually, false) => (Verdict::Holds, None),
            (Expectation::Sometimes, true) => (Verdict::Holds, None),
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
    pb.finish_and_clear();
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
        simulation: opts.simulate.is_some(),
        exhausted: found.exhausted,
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

fn counterexample(
    model: &KafkaModel,
    t: &Trace,
    property: &str,
    opts: &CheckOptions,
) -> Counterexample {
    let mut steps = story::story(model, t);
    steps.extend(story::ending(t, property));
    if opts.simulate.is_some() {
        steps.insert(
            0,
            "(found by a random walk: a counterexample, not necessarily the shortest)".into(),
        );
    }
    Counterexample {
        length: t.len(),
        explorer_path: t.explorer_path(),
        steps,
    }
}

/// stateright's random walks, for configurations too large to exhaust.
fn simulate(
    model: &KafkaModel,
    cfg: &ModelConfig,
    symmetry: bool,
    limit: Duration,
    opts: &CheckOptions,
    pb: &ProgressBar,
) -> search::Outcome {
    let mut builder = model.clone().checker().threads(opts.threads.max(1));
    if symmetry {
        builder = builder.symmetry_fn(representative);
    }
    let mut checker = builder
        .timeout(limit)
        .spawn_simulation(opts.seed, stateright::UniformChooser);
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(50));
        pb.set_message(format!(
            "{}: random walks, {} states, depth {}",
            cfg.summary(),
            checker.state_count(),
            checker.max_depth()
        ));
    }
    for h in checker.handles() {
        let _ = h.join();
    }
    let mut discoveries = std::collections::HashMap::new();
    let mut decided = Vec::new();
    for (name, path) in checker.discoveries() {
        decided.push(name);
        let indices = explorer_indices(model, &path);
        if let Some(t) = indices.and_then(|ix| Trace::replay(model, 0, ix)) {
            discoveries.insert(name, t);
        }
    }
    search::Outcome {
        unique_states: checker.unique_state_count(),
        states: checker.state_count(),
        max_depth: checker.max_depth(),
        exhausted: false,
        decided,
        discoveries,
    }
}

/// The action indices of a stateright path, found by matching each step's
/// action among the state's actions.
fn explorer_indices(
    model: &KafkaModel,
    path: &stateright::Path<KafkaState, Action>,
) -> Option<Vec<usize>> {
    let mut indices = Vec::new();
    let mut actions = Vec::new();
    for (state, action) in path.clone().into_vec() {
        let Some(action) = action else { break };
        actions.clear();
        model.actions(&state, &mut actions);
        indices.push(actions.iter().position(|a| *a == action)?);
    }
    Some(indices)
}
