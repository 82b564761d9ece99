//! The seed's table: acks × min.insync.replicas at RF=3, each cell decided
//! by checking the catalogue's scenario for it.

use crate::check::report::Report;
use crate::check::{self, CheckOptions};
use crate::model::properties::{ACKED_NEVER_LOST, WRITES_AVAILABLE};
use crate::scenario::{Scenario, Verdict};
use serde::Serialize;
use std::path::Path;

pub const ACKS: [&str; 3] = ["0", "1", "all"];
pub const MIN_ISR: [u8; 3] = [1, 2, 3];

/// The table's columns: which scenario variant and which property.
pub const COLUMNS: [(&str, &str, &str); 4] = [
    (
        "process",
        ACKED_NEVER_LOST,
        "acked_never_lost, process crash",
    ),
    (
        "machine",
        ACKED_NEVER_LOST,
        "acked_never_lost, machine crash + 2 lag removals",
    ),
    (
        "machine-elr",
        ACKED_NEVER_LOST,
        "acked_never_lost, machine crash + 2 lag removals, ELR",
    ),
    (
        "process",
        WRITES_AVAILABLE,
        "writes_available (f=1, no lag removals)",
    ),
];

pub fn scenario_name(acks: &str, min_isr: u8, variant: &str) -> String {
    format!("seed-acks{acks}-isr{min_isr}-{variant}")
}

#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub property: String,
    /// `None` while the catalogue has no scenario for this cell.
    pub verdict: Option<Verdict>,
    /// Steps in the shortest counterexample, when violated.
    pub counterexample_length: Option<usize>,
    pub scenario: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub acks: String,
    pub min_insync_replicas: u8,
    pub cells: Vec<Cell>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// Checks every scenario the table needs, once each, on `threads`
/// workers (0: one per core).
pub fn build(models: &Path, progress: bool, threads: usize) -> Result<Matrix, String> {
    let mut scenarios: Vec<Scenario> = Vec::new();
    for acks in ACKS {
        for min_isr in MIN_ISR {
            for (variant, _, _) in COLUMNS {
                let name = scenario_name(acks, min_isr, variant);
                let path = models.join(format!("{name}.toml"));
                if path.exists() && !scenarios.iter().any(|s| s.name == name) {
                    scenarios.push(Scenario::load(&path)?);
                }
            }
        }
    }
    let opts = CheckOptions {
        progress,
        threads,
        ..CheckOptions::default()
    };
    let reports = check::batch::run_many(&scenarios, &opts);
    let by_name: std::collections::HashMap<&str, &Report> = scenarios
        .iter()
        .map(|s| s.name.as_str())
        .zip(&reports)
        .collect();
    build_with(models, |s| by_name[s.name.as_str()].clone())
}

/// Builds the table from a function that checks a scenario (tests reuse
/// reports they already have).
pub fn build_with(
    models: &Path,
    mut check: impl FnMut(&Scenario) -> Report,
) -> Result<Matrix, String> {
    let mut rows = Vec::new();
    for acks in ACKS {
        for min_isr in MIN_ISR {
            let mut cells = Vec::new();
            for (variant, property, _) in COLUMNS {
                let name = scenario_name(acks, min_isr, variant);
                let path = models.join(format!("{name}.toml"));
                if !path.exists() {
                    cells.push(Cell {
                        property: property.to_string(),
                        verdict: None,
                        counterexample_length: None,
                        scenario: format!("models/{name}.toml"),
                    });
                    continue;
                }
                let scenario = Scenario::load(&path)?;
                let report = check(&scenario);
                let p = report
                    .property(property)
                    .ok_or_else(|| format!("{name}: no verdict for {property}"))?;
                cells.push(Cell {
                    property: property.to_string(),
                    verdict: Some(p.verdict),
                    counterexample_length: p.counterexample.as_ref().map(|c| c.length),
                    scenario: format!("models/{name}.toml"),
                });
            }
            rows.push(Row {
                acks: acks.to_string(),
                min_insync_replicas: min_isr,
                cells,
            });
        }
    }
    Ok(Matrix {
        columns: COLUMNS.iter().map(|c| c.2.to_string()).collect(),
        rows,
    })
}

impl Cell {
    fn text(&self) -> String {
        match (self.verdict, self.counterexample_length) {
            (None, _) => "not in the catalogue yet".into(),
            (Some(Verdict::Holds), _) => "holds".into(),
            (Some(Verdict::Violated), Some(n)) => {
                format!("violated ({n} steps, {})", self.scenario)
            }
            (Some(Verdict::Violated), None) => format!("violated ({})", self.scenario),
        }
    }
}

impl Matrix {
    pub fn to_markdown(&self) -> String {
        let mut s = String::from("| acks | min.insync.replicas |");
        for c in &self.columns {
            s.push_str(&format!(" {c} |"));
        }
        s.push_str("\n|---|---|");
        for _ in &self.columns {
            s.push_str("---|");
        }
        s.push('\n');
        for r in &self.rows {
            s.push_str(&format!("| {} | {} |", r.acks, r.min_insync_replicas));
            for c in &r.cells {
                s.push_str(&format!(" {} |", c.text()));
            }
            s.push('\n');
        }
        s
    }

    pub fn to_text(&self) -> String {
        let mut s = String::from(
            "The seed's table, decided by the model checker (RF=3, 2 records, f=1 broker crash):\n\n",
        );
        for (i, c) in self.columns.iter().enumerate() {
            s.push_str(&format!("  [{}] {c}\n", i + 1));
        }
        s.push('\n');
        for r in &self.rows {
            s.push_str(&format!(
                "acks={:<3} min.isr={}\n",
                r.acks, r.min_insync_replicas
            ));
            for (i, c) in r.cells.iter().enumerate() {
                s.push_str(&format!("    [{}] {}\n", i + 1, c.text()));
            }
        }
        s.push_str("\nExplore a cell's counterexample: insync explore <scenario>\n");
        s
    }
}
