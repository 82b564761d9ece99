//! A whole history's verdict: the anomaly pass and the linearizability
//! search together, as `insync lincheck` prints it and `insync torture`
//! writes it after a run.

use super::anomalies::{self, Anomaly};
use super::history::Op;
use super::wgl::Verdict;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Report {
    pub operations: usize,
    pub anomalies: Vec<Anomaly>,
    /// Each partition's linearizability verdict.
    pub verdicts: BTreeMap<String, Verdict>,
    pub deadline: Duration,
}

const SHOWN_PER_KIND: usize = 5;

fn kind_name(k: anomalies::Kind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn verdict_name(v: &Verdict) -> &'static str {
    match v {
        Verdict::Linearizable => "linearizable",
        Verdict::NotLinearizable { .. } => "not linearizable",
        Verdict::Unknown => "unknown",
    }
}

impl Report {
    /// Checks `ops`, giving the linearizability search `deadline` in all.
    pub fn check(ops: &[Op], deadline: Duration) -> Report {
        let anomalies = anomalies::find(ops);
        let verdicts = super::linearizability(ops, Some(Instant::now() + deadline));
        Report {
            operations: ops.len(),
            anomalies,
            verdicts,
            deadline,
        }
    }

    pub fn linearizable(&self) -> bool {
        self.verdicts.values().all(|v| *v == Verdict::Linearizable)
    }

    /// No anomaly, and every partition linearizable.
    pub fn valid(&self) -> bool {
        self.anomalies.is_empty() && self.linearizable()
    }

    pub fn to_json(&self) -> serde_json::Value {
        let partitions: serde_json::Map<String, serde_json::Value> = self
            .verdicts
            .iter()
            .map(|(p, v)| {
                let op = match v {
                    Verdict::NotLinearizable { op } => Some(*op),
                    _ => None,
                };
                (
                    p.clone(),
                    serde_json::json!({"verdict": verdict_name(v), "stuck_at_op": op}),
                )
            })
            .collect();
        serde_json::json!({
            "operations": self.operations,
            "valid": self.valid(),
            "partitions": partitions,
            "anomalies": self.anomalies,
        })
    }

    /// One line per partition verdict and per anomaly.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (p, v) in &self.verdicts {
            let line = match v {
                Verdict::NotLinearizable { op } => {
                    format!("{p}: not linearizable: no order gets past operation {op}")
                }
                Verdict::Unknown => format!(
                    "{p}: unknown: the search passed its deadline ({} ms)",
                    self.deadline.as_millis()
                ),
                Verdict::Linearizable => format!("{p}: linearizable"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        if self.anomalies.is_empty() {
            out.push_str("no anomaly\n");
        }
        // A lost leader's tail shows as hundreds of anomalies of one kind:
        // the first few say what happened, the JSON report has them all.
        let mut shown: BTreeMap<(&str, anomalies::Kind), usize> = BTreeMap::new();
        for x in &self.anomalies {
            let n = shown.entry((&x.partition, x.kind)).or_default();
            *n += 1;
            if *n > SHOWN_PER_KIND {
                continue;
            }
            out.push_str(&format!(
                "{} in {}: {} (operations {:?})\n",
                kind_name(x.kind),
                x.partition,
                x.detail,
                x.ops
            ));
        }
        for ((partition, kind), n) in shown {
            if n > SHOWN_PER_KIND {
                out.push_str(&format!(
                    "{} in {partition}: {} more (--format json lists them all)\n",
                    kind_name(kind),
                    n - SHOWN_PER_KIND
                ));
            }
        }
        let names_ops = !self.anomalies.is_empty()
            || self
                .verdicts
                .values()
                .any(|v| matches!(v, Verdict::NotLinearizable { .. }));
        if names_ops {
            out.push_str(
                "(operations are numbered from 0, in the history's order, blank lines \
                 not counted)\n",
            );
        }
        out
    }
}
