//! `insync conform TRACE-DIR`: checks that every step the running nodes
//! traced is a step the specification allows.
//!
//! The brokers and the controller trace each decision of the protocol core
//! (`--trace`, `--trace-dir`, or a torture run's `traces/`). This module
//! merges those lines in causal order (one machine, one wall clock: the
//! timestamps are taken when each decision is made) and replays them over
//! a ghost of each partition: what each broker's log holds by epoch, its
//! HW, its role, and the controller's leader, epoch and ISR. Each event
//! must pass the rules of DESIGN §1 that it touches (`rules`); the first
//! one that does not is reported with the ghost state before it.
//!
//! The ghost decides nothing: it only holds what the events said, so the
//! rules read as the specification's conditions on each step.

mod rules;

use crate::core::effects::Event;
use crate::core::types::ProducerSeq;
pub use rules::{Ghost, Violation};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A traced batch as a trace line shows it (`wire::batch::Batch`'s
/// serialization): where it was placed and how many offsets it takes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct TracedBatch {
    #[serde(default)]
    pub base_offset: i64,
    pub records: u64,
    #[serde(default)]
    pub producer: Option<ProducerSeq>,
}

/// A decision as a trace holds it: the core's own event type.
pub type TracedEvent = Event<TracedBatch>;

/// One line of a trace file.
#[derive(Deserialize)]
struct Line {
    event: TracedEvent,
    #[serde(default)]
    text: String,
    ts_us: u64,
    node: String,
    topic: String,
    partition: i64,
}

/// One traced decision, and where it was read.
#[derive(Clone, Debug)]
pub struct Step {
    pub file: PathBuf,
    pub line: usize,
    /// The node's life: a restarted broker writes a new file.
    pub life: usize,
    pub ts_us: u64,
    pub node: String,
    pub topic: String,
    pub partition: i64,
    pub event: TracedEvent,
    pub text: String,
}

/// A trace line that cannot be read.
#[derive(Debug)]
pub struct TraceError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for TraceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// `broker-N.jsonl.K` is broker N's life K (torture runs); `broker-N.jsonl`
/// and `controller.jsonl` have one life. A controller's lives
/// (`controller.jsonl.K`) share one ghost: its metadata log makes it one
/// continuing controller, so its epochs must go on increasing.
fn life_of(path: &Path) -> usize {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(|e| e.parse().ok())
        .unwrap_or(0)
}

/// Reads every trace file in `dir`, in causal order.
pub fn load(dir: &Path) -> Result<Vec<Step>, TraceError> {
    let err = |file: &Path, line: usize, message: String| TraceError {
        file: file.to_path_buf(),
        line,
        message,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| err(dir, 0, e.to_string()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.to_string_lossy().contains(".jsonl"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(err(dir, 0, "no trace files (*.jsonl) here".into()));
    }
    let mut steps = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| err(&file, 0, e.to_string()))?;
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            // A node killed mid-write leaves its last line torn, without a
            // newline: that is the end of its trace, not a malformed one.
            let torn = i + 1 == lines.len() && !text.ends_with('\n');
            let l: Line = match serde_json::from_str(line) {
                Ok(l) => l,
                Err(_) if torn => break,
                Err(e) => return Err(err(&file, i + 1, e.to_string())),
            };
            steps.push(Step {
                file: file.clone(),
                line: i + 1,
                life: life_of(&file),
                ts_us: l.ts_us,
                node: l.node,
                topic: l.topic,
                partition: l.partition,
                event: l.event,
                text: l.text,
            });
        }
    }
    // Stable: one node's steps in one microsecond keep their file order.
    // In a tie the controller's step goes first: a broker only ever acts
    // on what the controller decided before.
    steps.sort_by_key(|s| (s.ts_us, s.node != "controller"));
    Ok(steps)
}

/// What a replay found.
pub struct Outcome {
    pub steps: usize,
    pub partitions: usize,
    pub violation: Option<Violation>,
}

/// Replays `steps` until the first one the rules refuse.
pub fn check(steps: &[Step]) -> Outcome {
    let mut ghosts: std::collections::BTreeMap<(String, i64), Ghost> = Default::default();
    for (i, s) in steps.iter().enumerate() {
        let g = ghosts.entry((s.topic.clone(), s.partition)).or_default();
        if let Err(v) = g.apply(i, s) {
            return Outcome {
                steps: i,
                partitions: ghosts.len(),
                violation: Some(*v),
            };
        }
    }
    Outcome {
        steps: steps.len(),
        partitions: ghosts.len(),
        violation: None,
    }
}

#[cfg(test)]
mod tests;
