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
    /// What the last state shows that no step says: which record is gone
    /// from whose log, or why a record never gets an answer.
    pub ending: Option<String>,
    /// Action indices for stateright's Explorer: `/#/steps/{explorer_path}`.
    pub explorer_path: String,
    /// The same steps as a message-sequence chart, for the HTML report.
    #[serde(skip)]
    pub diagram: Option<super::diagram::Diagram>,
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
    /// The verdict is the expected one; "unknown" contradicts nothing.
    pub fn matches(&self) -> bool {
        self.verdict == Verdict::Unknown || self.expected.is_none_or(|e| e == self.verdict)
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
    /// Every reachable state was visited.
    pub exhausted: bool,
    /// Random walks taken (simulations only).
    pub walks: Option<u64>,
    /// Why a search ended before it was done: "time limit",
    /// "interrupted", or "enough decided" (`CheckOptions::enough`).
    pub stopped: Option<&'static str>,
}

impl Report {
    /// Every verdict equals the scenario's expectation (or none was given).
    pub fn matches(&self) -> bool {
        self.properties.iter().all(PropertyReport::matches)
    }

    pub fn property(&self, name: &str) -> Option<&PropertyReport> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// The `sometimes` properties no walk (or cut-short search) reached:
    /// then nothing the walks did not find means anything, since they may
    /// never have acknowledged a write, crashed a broker or moved a leader.
    pub fn unreached(&self) -> Vec<&str> {
        self.properties
            .iter()
            .filter(|p| p.expectation == "sometimes" && p.verdict == Verdict::Unknown)
            .map(|p| p.name.as_str())
            .collect()
    }

    /// What "unknown" means in this report.
    fn unknown_means(&self) -> String {
        match (self.walks, self.stopped) {
            (Some(w), _) => format!("not found in {w} walks (depth <= {})", self.max_depth),
            (None, Some(why)) => format!("not decided ({why} after {} states)", self.unique_states),
            (None, None) => "unknown".into(),
        }
    }

    pub fn to_text(&self, title: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{title}: {}", self.config.summary());
        for p in &self.properties {
            let mark = match p.expected {
                None => "",
                Some(_) if p.verdict == Verdict::Unknown => "",
                Some(e) if e == p.verdict => "  (as expected)",
                Some(_) => "  ** UNEXPECTED **",
            };
            let verdict = match p.verdict {
                Verdict::Unknown => self.unknown_means(),
                v => v.to_string(),
            };
            let _ = writeln!(s, "  {:<30} {:<9} {verdict}{mark}", p.name, p.expectation);
        }
        let _ = writeln!(
            s,
            "  {} unique states ({} visited{}), depth {}, {:.1} s{}",
            self.unique_states,
            self.states,
            match (self.walks, self.stopped) {
                (Some(w), _) => format!(" in {w} random walks"),
                (None, Some(why)) => format!("; STOPPED ({why})"),
                (None, None) => String::new(),
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
                "  SIMULATION: random walks; a violation found is real, but a property not found violated is not shown to hold, which proves nothing."
            );
        } else if self.stopped.is_some() {
            let _ = writeln!(
                s,
                "  PARTIAL: the search stopped before it had visited every state; a violation found is real (its path the shortest among the states visited), the rest is undecided."
            );
        }
        let unreached = self.unreached();
        if !unreached.is_empty() {
            let _ = writeln!(
                s,
                "  INCONCLUSIVE: never reached {}, so the properties not found violated were barely exercised.",
                unreached.join(", ")
            );
        }
        for p in &self.properties {
            if let Some(c) = &p.counterexample {
                let _ = writeln!(s, "\n{} is violated in {} steps:", p.name, c.length);
                if self.simulation {
                    let _ = writeln!(
                        s,
                        "  (found by a random walk: a counterexample, not necessarily the shortest)"
                    );
                }
                for (i, step) in c.steps.iter().enumerate() {
                    let _ = writeln!(s, "  {:>2}. {step}", i + 1);
                }
                if let Some(end) = &c.ending {
                    let _ = writeln!(s, "  => {end}");
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
