//! The seed's table: acks × min.insync.replicas at RF=3, each cell decided
//! by checking the catalogue's scenario for it.

use crate::check::report::Report;
use crate::check::{self, CheckOptions};
use crate::core::release::{KafkaVersion, NEWEST, describe_releases, era_of, eras};
use crate::model::ModelConfig;
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
        "acked_never_lost, machine crash + 2 lag removals, ELR off",
    ),
    (
        "machine-elr",
        ACKED_NEVER_LOST,
        "acked_never_lost, machine crash + 2 lag removals, ELR on",
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
    /// `None` while the catalogue has no scenario for this cell, or when
    /// the table's release cannot run it (`unavailable` says why).
    pub verdict: Option<Verdict>,
    /// Why the table's release has no verdict here: ELR asked of a
    /// release before 4.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// Steps in the shortest counterexample, when violated.
    pub counterexample_length: Option<usize>,
    pub scenario: String,
    /// The releases where the verdict is not this one (the newest
    /// release's table only), oldest first.
    pub elsewhere: Vec<ReleaseVerdict>,
}

/// A verdict that holds for a range of releases.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReleaseVerdict {
    /// "before 3.7", "3.7 to 4.0", "from 4.1".
    pub releases: String,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub acks: String,
    pub min_insync_replicas: u8,
    pub cells: Vec<Cell>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    /// The release whose rules and defaults decide the cells.
    #[serde(rename = "kafka.version")]
    pub kafka_version: KafkaVersion,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// One cell to decide: its scenario at the table's release, and at every
/// other era whose rules give that scenario another configuration.
struct CellPlan {
    acks: &'static str,
    min_isr: u8,
    property: &'static str,
    scenario: String,
    /// Index into `Plan::jobs` of the check at the table's release.
    at_release: Option<usize>,
    /// Why the scenario cannot run at the table's release.
    unavailable: Option<String>,
    /// For each era (in order), the job that decides it, if the scenario
    /// is valid there.
    eras: Vec<(KafkaVersion, Option<usize>)>,
}

/// Every check a table needs, each distinct configuration once.
pub struct Plan {
    release: KafkaVersion,
    cells: Vec<CellPlan>,
    /// The checks to run: the catalogue's scenarios, re-configured per release.
    pub jobs: Vec<Scenario>,
}

impl Plan {
    /// Each cell's report at the table's release, in the table's order
    /// (row by row), given the reports of `jobs`.
    pub fn cell_reports<'a>(&self, reports: &'a [Report]) -> Vec<Option<&'a Report>> {
        self.cells
            .iter()
            .map(|c| c.at_release.map(|j| &reports[j]))
            .collect()
    }

    /// What job `job` must decide (`CheckOptions::enough`): everything,
    /// with its shortest counterexamples, when a cell reads it at the
    /// table's release; only its cells' properties when it decides other
    /// releases alone, where the table shows nothing but verdicts, so its
    /// search may stop at their first violation.
    pub fn enough(&self, job: usize) -> Vec<&'static str> {
        if self.cells.iter().any(|c| c.at_release == Some(job)) {
            return Vec::new();
        }
        let mut wanted: Vec<&'static str> = self
            .cells
            .iter()
            .filter(|c| c.eras.iter().any(|(_, j)| *j == Some(job)))
            .map(|c| c.property)
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        wanted
    }

    /// The job for `config`, added if no job has it yet.
    fn job(&mut self, base: &Scenario, config: ModelConfig) -> usize {
        let same = |j: &Scenario| j.config.same_rules(&config);
        if let Some(i) = self.jobs.iter().position(same) {
            return i;
        }
        let mut s = base.clone();
        if config.kafka_version != base.config.kafka_version {
            s.name = format!(
                "{} at {}",
                base.name,
                config.kafka_version.unwrap_or(NEWEST)
            );
            s.expect = Default::default();
        }
        s.config = config;
        self.jobs.push(s);
        self.jobs.len() - 1
    }
}

/// What the table at `release` needs checked (`None`: the newest release,
/// with every cell's verdict at the other releases too).
pub fn plan(models: &Path, release: Option<KafkaVersion>) -> Result<Plan, String> {
    let annotate = release.is_none();
    let release = release.unwrap_or(NEWEST).check_modelled()?;
    let own_era = era_of(release);
    let mut plan = Plan {
        release,
        cells: Vec::new(),
        jobs: Vec::new(),
    };
    for acks in ACKS {
        for min_isr in MIN_ISR {
            for (variant, property, _) in COLUMNS {
                let name = scenario_name(acks, min_isr, variant);
                let path = models.join(format!("{name}.toml"));
                let mut cell = CellPlan {
                    acks,
                    min_isr,
                    property,
                    scenario: format!("models/{name}.toml"),
                    at_release: None,
                    unavailable: None,
                    eras: Vec::new(),
                };
                if path.exists() {
                    let scenario = Scenario::load(&path)?;
                    let config = match scenario.at_release(release) {
                        Ok(c) => c,
                        // A scenario valid at the newest release asks for
                        // a feature this older one lacks: no verdict here.
                        Err(e) if !annotate && scenario.at_release(NEWEST).is_ok() => {
                            cell.unavailable = Some(e);
                            plan.cells.push(cell);
                            continue;
                        }
                        Err(e) => {
                            return Err(format!("{}: at Kafka {release}: {e}", path.display()));
                        }
                    };
                    cell.at_release = Some(plan.job(&scenario, config));
                    for era in eras().into_iter().filter(|_| annotate) {
                        let job = match era == own_era {
                            true => cell.at_release,
                            // ELR asked of a release without it: no verdict there.
                            false => scenario
                                .at_release(era)
                                .ok()
                                .map(|c| plan.job(&scenario, c)),
                        };
                        cell.eras.push((era, job));
                    }
                }
                plan.cells.push(cell);
            }
        }
    }
    Ok(plan)
}

/// The table from the plan's reports, one per job, in order.
pub fn assemble(plan: &Plan, reports: &[Report]) -> Result<Matrix, String> {
    let verdict = |job: usize, property: &str| {
        reports[job]
            .property(property)
            .ok_or_else(|| format!("{}: no verdict for {property}", plan.jobs[job].name))
    };
    let mut rows: Vec<Row> = Vec::new();
    for c in &plan.cells {
        let cell = match c.at_release {
            None => Cell {
                property: c.property.to_string(),
                verdict: None,
                unavailable: c.unavailable.clone(),
                counterexample_length: None,
                scenario: c.scenario.clone(),
                elsewhere: Vec::new(),
            },
            Some(job) => {
                let p = verdict(job, c.property)?;
                let mut per_era = Vec::new();
                for (era, job) in &c.eras {
                    let v = job
                        .map(|j| verdict(j, c.property).map(|p| p.verdict))
                        .transpose()?;
                    per_era.push((*era, v));
                }
                Cell {
                    property: c.property.to_string(),
                    verdict: Some(p.verdict),
                    unavailable: None,
                    counterexample_length: p.counterexample.as_ref().map(|c| c.length),
                    scenario: c.scenario.clone(),
                    elsewhere: differing(&per_era, p.verdict),
                }
            }
        };
        match rows.last_mut() {
            Some(r) if r.acks == c.acks && r.min_insync_replicas == c.min_isr => r.cells.push(cell),
            _ => rows.push(Row {
                acks: c.acks.to_string(),
                min_insync_replicas: c.min_isr,
                cells: vec![cell],
            }),
        }
    }
    Ok(Matrix {
        kafka_version: plan.release,
        columns: COLUMNS.iter().map(|c| c.2.to_string()).collect(),
        rows,
    })
}

/// The runs of consecutive eras whose verdict is not `here`.
fn differing(per_era: &[(KafkaVersion, Option<Verdict>)], here: Verdict) -> Vec<ReleaseVerdict> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < per_era.len() {
        let (first, v) = per_era[i];
        let mut j = i + 1;
        while j < per_era.len() && per_era[j].1 == v {
            j += 1;
        }
        if let Some(v) = v.filter(|v| *v != here) {
            out.push(ReleaseVerdict {
                releases: describe_releases(first, per_era.get(j).map(|e| e.0)),
                verdict: v,
            });
        }
        i = j;
    }
    out
}

/// Checks every scenario the table at `release` needs (`None`: the newest,
/// with the other releases' verdicts), once each, on `threads` workers
/// (0: one per core).
pub fn build(
    models: &Path,
    release: Option<KafkaVersion>,
    progress: bool,
    threads: usize,
) -> Result<Matrix, String> {
    let (plan, reports) = checked(models, release, progress, threads)?;
    assemble(&plan, &reports)
}

/// The plan for the table, and its jobs' reports.
pub fn checked(
    models: &Path,
    release: Option<KafkaVersion>,
    progress: bool,
    threads: usize,
) -> Result<(Plan, Vec<Report>), String> {
    let plan = plan(models, release)?;
    let opts = CheckOptions {
        progress,
        threads,
        ..CheckOptions::default()
    };
    let reports = check::batch::run_many_enough(&plan.jobs, &|j| plan.enough(j), &opts);
    Ok((plan, reports))
}

impl Cell {
    fn text(&self) -> String {
        let mut s = match (self.verdict, self.counterexample_length) {
            (None, _) => match &self.unavailable {
                Some(why) => format!("no verdict: {why}"),
                None => "not in the catalogue yet".into(),
            },
            (Some(Verdict::Holds), _) => "holds".into(),
            (Some(Verdict::Violated), Some(n)) => {
                format!("violated ({n} steps, {})", self.scenario)
            }
            (Some(Verdict::Violated), None) => format!("violated ({})", self.scenario),
            // The table's checks are exhaustive and never cut short.
            (Some(Verdict::Unknown), _) => "undecided".into(),
        };
        for e in &self.elsewhere {
            s.push_str(&format!("; {} {}", e.verdict, e.releases));
        }
        s
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
        let mut s = format!(
            "The seed's table, decided by the model checker for Kafka {} (RF=3, 2 records, f=1 broker crash):\n\n",
            self.kafka_version
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An older release's table leaves out the cells it cannot run (ELR
    /// before 4.0) and says why, instead of refusing the whole table.
    #[test]
    fn an_older_release_has_no_verdict_where_it_lacks_the_feature() {
        let v: KafkaVersion = "3.6".parse().unwrap();
        let plan = plan(Path::new("models"), Some(v)).expect("a 3.6 table");
        let elr: Vec<&CellPlan> = plan
            .cells
            .iter()
            .filter(|c| c.scenario.ends_with("-elr.toml"))
            .collect();
        assert_eq!(elr.len(), 9);
        for c in &elr {
            assert!(c.at_release.is_none(), "{}", c.scenario);
            let why = c.unavailable.as_deref().unwrap_or_default();
            assert!(why.contains("KIP-966 ships in 4.0"), "{why}");
        }
        let others = plan.cells.iter().filter(|c| c.at_release.is_some()).count();
        assert_eq!(others, 27, "four columns, one of them ELR");
        assert!(plan.jobs.iter().all(|j| j.config.kafka_version == Some(v)));
        assert!(plan.cells.iter().all(|c| c.eras.is_empty()));
    }

    /// A job the table reads at its own release is searched to the end;
    /// one that only decides an older release may stop once its cells'
    /// properties are violated.
    #[test]
    fn only_jobs_for_other_releases_may_stop_early() {
        let plan = plan(Path::new("models"), None).expect("the newest table");
        let enough = |name: &str| {
            let j = plan.jobs.iter().position(|j| j.name == name).expect(name);
            plan.enough(j)
        };
        assert!(enough("seed-acks1-isr1-machine").is_empty());
        assert!(enough("seed-acksall-isr3-process").is_empty());
        assert_eq!(enough("seed-acks1-isr1-machine at 2.5"), [ACKED_NEVER_LOST]);
        let mut both = vec![ACKED_NEVER_LOST, WRITES_AVAILABLE];
        both.sort_unstable();
        assert_eq!(enough("seed-acks0-isr2-process at 3.7"), both);
        let early = (0..plan.jobs.len()).filter(|&j| !plan.enough(j).is_empty());
        // Nine scenarios for each of three variants (the process one serves
        // two columns) run to the end; the same at 2.5 and 3.7 may stop.
        assert_eq!(early.count(), plan.jobs.len() - 27);
    }
}
