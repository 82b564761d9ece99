//! Running a check: an exhaustive depth-first search with the broker
//! symmetry reduction decides every property; a breadth-first search then
//! finds the shortest counterexample of each violated one.

pub mod report;
pub mod shortest;
pub mod story;

use crate::model::ModelConfig;
use crate::model::config::NetworkKind;
use crate::model::properties::SAFETY;
use crate::model::symmetry::representative;
use crate::scenario::{Expect, Verdict};
use indicatif::{ProgressBar, ProgressStyle};
use report::{Counterexample, PropertyReport, Report};
use stateright::{Checker, Expectation, Model};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct CheckOptions {
    pub threads: usize,
    /// Show a spinner on stderr while checking.
    pub progress: bool,
    /// Use the broker symmetry reduction (ordered network only).
    pub symmetry: bool,
    /// Bound on the states the shortest-counterexample search may visit.
    pub max_bfs_states: usize,
    /// Random walks instead of an exhaustive check, for this long.
    pub simulate: Option<Duration>,
    pub seed: u64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            threads: 1,
            progress: false,
            symmetry: true,
            max_bfs_states: 3_000_000,
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
    let model = cfg.clone().into_model();
    let symmetry = opts.symmetry && cfg.network == NetworkKind::Ordered;
    let pb = spinner(opts.progress, &cfg.summary());
    let mut builder = model.clone().checker().threads(opts.threads.max(1));
    if symmetry {
        builder = builder.symmetry_fn(representative);
    }
    let checker: Box<dyn Checker<_>> = match opts.simulate {
        Some(limit) => Box::new(
            builder
                .timeout(limit)
                .spawn_simulation(opts.seed, stateright::UniformChooser),
        ),
        None => Box::new(builder.spawn_dfs()),
    };
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(50));
        pb.set_message(format!(
            "{}: {} unique states, depth {}",
            cfg.summary(),
            checker.unique_state_count(),
            checker.max_depth()
        ));
    }
    let mut checker = checker;
    for h in checker.handles() {
        let _ = h.join();
    }
    let discoveries = checker.discoveries();
    let mut properties = Vec::new();
    let mut violated_always = Vec::new();
    for p in model.properties() {
        let found = discoveries.contains_key(p.name);
        let verdict = match p.expectation {
            Expectation::Always | Expectation::Eventually => {
                if found {
                    violated_always.push(p.name);
                    Verdict::Violated
                } else {
                    Verdict::Holds
                }
            }
            Expectation::Sometimes => {
                if found {
                    Verdict::Holds
                } else {
                    Verdict::Violated
                }
            }
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
            counterexample: None,
        });
    }
    pb.set_message(format!("{}: shortest counterexamples", cfg.summary()));
    let traces = if violated_always.is_empty() {
        Default::default()
    } else {
        shortest::shortest_counterexamples(&model, &violated_always, symmetry, opts.max_bfs_states)
    };
    for p in &mut properties {
        if let Some(t) = traces.get(p.name.as_str()) {
            p.counterexample = Some(Counterexample {
                length: t.len(),
                explorer_path: t.explorer_path(),
                steps: story::story(&model, t),
            });
        } else if p.verdict == Verdict::Violated && p.expectation == "always" {
            // The search bound cut it off: fall back to stateright's path.
            if let Some(path) = discoveries.get(p.name.as_str()) {
                let actions = path.clone().into_actions();
                p.counterexample = Some(Counterexample {
                    length: actions.len(),
                    explorer_path: path.encode(&model),
                    steps: vec![format!(
                        "(not shortest: the breadth-first search stopped at {} states)",
                        opts.max_bfs_states
                    )],
                });
            }
        }
    }
    pb.finish_and_clear();
    let order: BTreeMap<&str, usize> = SAFETY.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    properties.sort_by_key(|p| order.get(p.name.as_str()).copied().unwrap_or(usize::MAX));
    Report {
        config: cfg.clone(),
        properties,
        unique_states: checker.unique_state_count(),
        states: checker.state_count(),
        max_depth: checker.max_depth(),
        seconds: started.elapsed().as_secs_f64(),
        symmetry,
        simulation: opts.simulate.is_some(),
    }
}
