//! A check's result: one verdict per property, for people and for machines.

use crate::model::ModelConfig;
use crate::scenario::Verdict;
use serde::Serialize;
use std::fmt::Write;

#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    /// Steps from the initial state to the first violating state.
    pub length: usize,
    /// The numbered story, one line per step.
    pub steps: Vec<String>,
    /// Action indices for stateright's Explorer: `/#/steps/{explorer_path}`.
    pub explorer_path: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PropertyReport {
    pub name: String,
    /// `always` or `sometimes`.
    pub expectation: String,
    pub verdict: Verdict,
    /// The scenario's `[expect]` entry, if any.
    pub expected: Option<Verdict>,
    pub counterexample: Option<Counterexample>,
}

impl PropertyReport {
    pub fn matches(&self) -> bool {
        self.expected.is_none_or(|e| e == self.verdict)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub config: ModelConfig,
    pub properties: Vec<PropertyReport>,
    pub unique_states: usize,
    pub states: usize,
    pub max_depth: usize,
    pub seconds: f64,
    /// Whether the broker symmetry reduction was on.
    pub symmetry: bool,
    /// A random walk, not an exhaustive check.
    pub simulation: bool,
    /// Every reachable state was visited. False when the search stopped
    /// once every property was decided (the verdicts are final either way).
    pub exhausted: bool,
}

impl Report {
    /// Every verdict equals the scenario's expectation (or none was given).
    pub fn matches(&self) -> bool {
        self.properties.iter().all(PropertyReport::matches)
    }

    pub fn property(&self, name: &str) -> Option<&PropertyReport> {
        self.properties.iter().find(|p| p.name == name)
    }

    pub fn to_text(&self, title: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{title}: {}", self.config.summary());
        for p in &self.properties {
            let mark = match p.expected {
                None => "",
                Some(e) if e == p.verdict => "  (as expected)",
                Some(_) => "  ** UNEXPECTED **",
            };
            let _ = writeln!(
                s,
                "  {:<30} {:<9} {}{mark}",
                p.name, p.expectation, p.verdict
            );
        }
        let _ = writeln!(
            s,
            "  {} unique states ({} visited{}), depth {}, {:.1} s{}",
            self.unique_states,
            self.states,
            if self.exhausted || self.simulation {
                ""
            } else {
                "; stopped once every property was decided"
            },
            self.max_depth,
            self.seconds,
            if self.symmetry {
                ", broker symmetry on"
            } else {
                ""
            }
        );
        if self.simulation {
            let _ = writeln!(
                s,
                "  SIMULATION: random walks found these; a property reported to hold was merely not seen violated, which proves nothing."
            );
        }
        for p in &self.properties {
            if let Some(c) = &p.counterexample {
                let _ = writeln!(s, "\n{} is violated in {} steps:", p.name, c.length);
                for (i, step) in c.steps.iter().enumerate() {
                    let _ = writeln!(s, "  {:>2}. {step}", i + 1);
                }
            } else if p.verdict == Verdict::Violated && p.expectation == "always" {
                let _ = writeln!(
                    s,
                    "\n{} is violated, but its path could not be replayed (a fingerprint collision?)",
                    p.name
                );
            }
        }
        s
    }
}
