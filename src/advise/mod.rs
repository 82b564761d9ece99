//! `insync advise`: which durability settings keep every acknowledged
//! record and stay writable under the faults a user must survive, cheapest
//! first. Every row is decided by the checker; nothing here knows a verdict.
//!
//! Each candidate is checked twice, as the seed's table does: for
//! durability under the crashes plus lag removals (a follower dropped from
//! the ISR for lagging, which production sees every day), and for
//! availability under the crashes alone (a lagging follower that is never
//! let back would make every min.insync.replicas above 1 look unwritable).

mod diff;
mod render;

use crate::check::CheckOptions;
use crate::check::batch::run_each;
use crate::check::report::{PropertyReport, Report};
use crate::core::release::{KafkaVersion, Rule};
use crate::core::types::Acks;
use crate::model::config::Named;
use crate::model::properties::{ACKED_NEVER_LOST, NO_DUPLICATES, WRITES_AVAILABLE};
use crate::model::{CrashMode, ModelConfig};
use crate::scenario::{Scenario, Verdict};
pub use diff::{Change, changes, distance};
use serde::Serialize;

/// The faults and the cluster the advice is for.
#[derive(Clone, Debug, Serialize)]
pub struct Question {
    #[serde(rename = "kafka.version")]
    pub release: KafkaVersion,
    /// Broker crashes to survive (f).
    pub tolerate: u8,
    pub crash_mode: CrashMode,
    /// The topic's replication factor.
    pub replicas: u8,
    /// Lag removals in the durability check.
    pub lag_removals: u8,
    /// Records the producer sends in each check.
    pub records: u8,
}

impl Question {
    pub fn validate(&self) -> Result<(), String> {
        self.release.check_modelled()?;
        if self.replicas == 0 || self.replicas > crate::model::config::MAX_REPLICATION_FACTOR {
            return Err(format!(
                "--replicas must be between 1 and {}, not {}",
                crate::model::config::MAX_REPLICATION_FACTOR,
                self.replicas
            ));
        }
        if self.tolerate >= self.replicas {
            return Err(format!(
                "--tolerate {} with {} replicas: no setting survives losing every replica; \
                 tolerate at most {}",
                self.tolerate,
                self.replicas,
                self.replicas - 1
            ));
        }
        Ok(())
    }
}

/// One combination of the settings the advisor weighs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Candidate {
    #[serde(serialize_with = "crate::core::settings::ser_acks")]
    pub acks: Acks,
    #[serde(rename = "min.insync.replicas")]
    pub min_isr: u8,
    #[serde(rename = "enable.idempotence")]
    pub idempotence: bool,
    /// `log.flush.interval.messages`; `None` leaves fsync to the OS.
    #[serde(rename = "log.flush.interval.messages")]
    pub flush_every: Option<u64>,
    /// Eligible Leader Replicas (KIP-966).
    #[serde(rename = "eligible.leader.replicas")]
    pub elr: bool,
    #[serde(rename = "unclean.leader.election.enable")]
    pub unclean: bool,
}

impl Candidate {
    /// The settings a configuration has.
    pub fn of(c: &ModelConfig) -> Candidate {
        let k = &c.kafka;
        Candidate {
            acks: k.acks,
            min_isr: k.min_insync_replicas,
            idempotence: k.enable_idempotence,
            flush_every: k.log_flush_interval_messages,
            elr: k.eligible_leader_replicas_enable,
            unclean: k.unclean_leader_election_enable,
        }
    }

    /// What it costs, smallest first: fsyncs per record, then how many
    /// replicas a write waits for, then how many must be in sync.
    pub fn cost(&self) -> (u64, u8, u8) {
        let fsyncs = match self.flush_every {
            None => 0,
            // One fsync every n records: fewer records between fsyncs cost more.
            Some(n) => u64::MAX / n.max(1),
        };
        let acks = match self.acks {
            Acks::Zero => 0,
            Acks::One => 1,
            Acks::All => 2,
        };
        (fsyncs, acks, self.min_isr)
    }

    /// The model configuration that checks it under `q`'s faults, with
    /// `lag_removals` lag removals.
    pub fn config(&self, q: &Question, lag_removals: u8) -> Result<ModelConfig, String> {
        let mut c = ModelConfig::default();
        let k = &mut c.kafka;
        k.acks = self.acks;
        k.min_insync_replicas = self.min_isr;
        k.enable_idempotence = self.idempotence;
        k.log_flush_interval_messages = self.flush_every;
        k.eligible_leader_replicas_enable = self.elr;
        k.unclean_leader_election_enable = self.unclean;
        k.replication_factor = q.replicas;
        k.retries = 1;
        c.records = q.records;
        c.crashes = q.tolerate;
        c.crash_mode = q.crash_mode;
        c.lag_removals = lag_removals;
        let named = Named {
            acks: true,
            enable_idempotence: true,
            eligible_leader_replicas: true,
            strict_min_isr: false,
            truncation: false,
        };
        c.apply_release(q.release, named)?;
        c.validate()?;
        Ok(c)
    }

    /// `insync check` flags that check it under `q`'s faults.
    pub fn command(&self, q: &Question, lag_removals: u8) -> String {
        let mut s = format!(
            "insync check --kafka-version {} --rf {} --acks {} --min-isr {} --idempotence={} --elr={} --unclean={}",
            q.release,
            q.replicas,
            self.acks,
            self.min_isr,
            self.idempotence,
            self.elr,
            self.unclean
        );
        if let Some(n) = self.flush_every {
            s.push_str(&format!(" --flush-every {n}"));
        }
        s.push_str(&format!(
            " --crashes {} --crash-mode {} --lag-removals {lag_removals} --records {} --retries 1",
            q.tolerate, q.crash_mode, q.records
        ));
        s
    }
}

/// Every combination worth checking under `q`: acks × min.insync.replicas
/// × idempotence (acks=all only: Kafka's producer refuses it with other
/// acks) × flushing (power loss only: a kill -9 leaves the page cache, so
/// fsync changes nothing) × ELR (releases that have it) × unclean election.
pub fn grid(q: &Question) -> Vec<Candidate> {
    let mut out = Vec::new();
    let flushes: &[Option<u64>] = match q.crash_mode {
        CrashMode::Machine => &[None, Some(1)],
        CrashMode::Process => &[None],
    };
    let elrs: &[bool] = if q.release.has(Rule::EligibleLeaderReplicas) {
        &[false, true]
    } else {
        &[false]
    };
    for acks in [Acks::Zero, Acks::One, Acks::All] {
        let idempotence: &[bool] = match acks {
            Acks::All => &[false, true],
            _ => &[false],
        };
        for min_isr in 1..=q.replicas {
            for &idempotence in idempotence {
                for &flush_every in flushes {
                    for &elr in elrs {
                        for unclean in [false, true] {
                            out.push(Candidate {
                                acks,
                                min_isr,
                                idempotence,
                                flush_every,
                                elr,
                                unclean,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// One candidate's verdicts.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub candidate: Candidate,
    /// Every acknowledged record survives (`acked_never_lost`); unknown
    /// when the candidate failed availability, so was not checked for it.
    pub keeps_acknowledged: Verdict,
    /// Every record sent is acknowledged once the faults are over
    /// (`writes_available`).
    pub writable: Verdict,
    /// No record is written twice (`no_duplicates`), under the durability
    /// check's faults; unknown where that check stopped at a lost record
    /// or did not run.
    pub no_duplicates: Verdict,
    /// Keeps every acknowledged record and stays writable.
    pub passes: bool,
    /// The user's own settings (given as config files).
    pub yours: bool,
    /// The first property it breaks, with the command whose story shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaks: Option<Broken>,
    /// `insync check` flags for the durability and availability checks.
    pub durability_command: String,
    pub availability_command: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Broken {
    pub property: &'static str,
    /// Prints the shortest counterexample as a story.
    pub command: String,
    /// The check's verdict on it, with the counterexample it met first
    /// (the check stopped there, so not necessarily the shortest).
    #[serde(skip)]
    pub found: Option<PropertyReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Advice {
    pub question: Question,
    /// Passing rows first, cheapest first; then the rest, cheapest first.
    pub rows: Vec<Row>,
    /// What to change in the user's files to reach the advised row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

impl Advice {
    /// The cheapest combination that passes, if any does.
    pub fn recommended(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.passes)
    }
}

/// Checks every candidate under `q`, and `yours` too when given.
pub fn advise(
    q: &Question,
    yours: Option<Candidate>,
    opts: &CheckOptions,
) -> Result<Advice, String> {
    q.validate()?;
    let mut candidates = grid(q);
    if let Some(y) = yours
        && !candidates.contains(&y)
    {
        candidates.push(y);
    }
    // Availability first: it is cheap (no lag removals), and a candidate
    // that cannot stay writable is rejected without its costlier
    // durability check.
    let writable = check_all(q, &candidates, 0, WRITES_AVAILABLE, opts)?;
    let durable_ones: Vec<Candidate> = candidates
        .iter()
        .zip(&writable)
        .filter(|(_, r)| verdict(r, WRITES_AVAILABLE) != Verdict::Violated)
        .map(|(c, _)| *c)
        .collect();
    let durable = check_all(q, &durable_ones, q.lag_removals, ACKED_NEVER_LOST, opts)?;
    let mut rows: Vec<Row> = candidates
        .iter()
        .zip(&writable)
        .map(|(c, w)| {
            let d = durable_ones
                .iter()
                .position(|x| x == c)
                .map(|i| &durable[i]);
            row(q, *c, d, w, Some(*c) == yours)
        })
        .collect();
    let defaults = Candidate::of(&Candidate::defaults(q));
    let reference = yours.unwrap_or(defaults);
    rows.sort_by_key(|r| {
        (
            !r.passes,
            r.candidate.cost(),
            r.no_duplicates != Verdict::Holds,
            diff::distance(&r.candidate, &reference),
        )
    });
    Ok(Advice {
        question: q.clone(),
        rows,
        changes: Vec::new(),
    })
}

impl Candidate {
    /// The release's defaults: what a cluster gets when no file names a key.
    pub fn defaults(q: &Question) -> ModelConfig {
        // An empty configuration read as a user's files are: the config
        // reader is where Kafka's defaults live.
        let mut c = ModelConfig::default();
        let mut named = Named::default();
        if let Ok(empty) = crate::kafka_config::read(&[], q.release) {
            empty.apply(&mut c, &mut named);
        }
        c.kafka.replication_factor = q.replicas;
        let _ = c.apply_release(q.release, named);
        c
    }
}

fn verdict(r: &Report, property: &str) -> Verdict {
    r.property(property).map_or(Verdict::Unknown, |p| p.verdict)
}

/// Checks each candidate with `lag_removals`, each search stopping once
/// `property` fails.
fn check_all(
    q: &Question,
    candidates: &[Candidate],
    lag_removals: u8,
    property: &'static str,
    opts: &CheckOptions,
) -> Result<Vec<Report>, String> {
    let mut scenarios = Vec::new();
    for c in candidates {
        let mut s = Scenario::from_config(c.config(q, lag_removals)?);
        s.name = s.config.summary();
        scenarios.push(s);
    }
    Ok(run_each(&scenarios, &|_| vec![property], opts))
}

/// `durable` is `None` when the candidate was not checked for durability,
/// having failed availability already.
fn row(
    q: &Question,
    c: Candidate,
    durable: Option<&Report>,
    writable: &Report,
    yours: bool,
) -> Row {
    let keeps = durable.map_or(Verdict::Unknown, |d| verdict(d, ACKED_NEVER_LOST));
    let avail = verdict(writable, WRITES_AVAILABLE);
    let durability_command = c.command(q, q.lag_removals);
    let availability_command = c.command(q, 0);
    let breaks = if avail == Verdict::Violated {
        Some(Broken {
            property: WRITES_AVAILABLE,
            command: availability_command.clone(),
            found: writable.property(WRITES_AVAILABLE).cloned(),
        })
    } else if keeps == Verdict::Violated {
        Some(Broken {
            property: ACKED_NEVER_LOST,
            command: durability_command.clone(),
            found: durable.and_then(|d| d.property(ACKED_NEVER_LOST)).cloned(),
        })
    } else {
        None
    };
    Row {
        candidate: c,
        keeps_acknowledged: keeps,
        writable: avail,
        no_duplicates: durable.map_or(Verdict::Unknown, |d| verdict(d, NO_DUPLICATES)),
        passes: keeps == Verdict::Holds && avail == Verdict::Holds,
        yours,
        breaks,
        durability_command,
        availability_command,
    }
}

pub use render::{to_html, to_json, to_markdown, to_text};

#[cfg(test)]
mod tests {
    use super::*;

    fn question(release: &str, crash_mode: CrashMode) -> Question {
        Question {
            release: release.parse().unwrap(),
            tolerate: 1,
            crash_mode,
            replicas: 3,
            lag_removals: 2,
            records: 2,
        }
    }

    #[test]
    fn the_grid_weighs_what_the_release_and_the_fault_allow() {
        let count = |r, m| grid(&question(r, m)).len();
        // acks 0 and 1: 2 × 3 min.isr; acks=all: 3 × 2 idempotence; × 2 unclean.
        let base = (2 * 3 + 3 * 2) * 2;
        assert_eq!(
            count("4.3", CrashMode::Machine),
            base * 2 * 2,
            "fsync × ELR"
        );
        assert_eq!(
            count("4.3", CrashMode::Process),
            base * 2,
            "no fsync under kill -9"
        );
        assert_eq!(
            count("3.9", CrashMode::Machine),
            base * 2,
            "no ELR before 4.0"
        );
        for m in [CrashMode::Machine, CrashMode::Process] {
            let q = question("4.3", m);
            for c in grid(&q) {
                assert!(c.config(&q, 2).is_ok(), "{c:?}");
                assert!(!c.idempotence || c.acks == Acks::All, "{c:?}");
            }
        }
    }

    #[test]
    fn fsync_costs_most_then_acks_then_min_isr() {
        let q = question("4.3", CrashMode::Machine);
        let base = Candidate::of(&Candidate::defaults(&q));
        let with = |f: &dyn Fn(&mut Candidate)| {
            let mut c = base;
            f(&mut c);
            c.cost()
        };
        let cheap = with(&|c| {
            c.acks = Acks::Zero;
            c.min_isr = 1;
        });
        let more_isr = with(&|c| {
            c.acks = Acks::Zero;
            c.min_isr = 3;
        });
        let more_acks = with(&|c| {
            c.acks = Acks::One;
            c.min_isr = 1;
        });
        let fsync = with(&|c| {
            c.acks = Acks::Zero;
            c.min_isr = 1;
            c.flush_every = Some(1);
        });
        let rarer_fsync = with(&|c| {
            c.acks = Acks::Zero;
            c.min_isr = 1;
            c.flush_every = Some(100);
        });
        assert!(cheap < more_isr && more_isr < more_acks);
        assert!(more_acks < rarer_fsync && rarer_fsync < fsync);
    }

    #[test]
    fn the_defaults_are_kafkas() {
        let c = Candidate::of(&Candidate::defaults(&question("4.3", CrashMode::Machine)));
        assert_eq!(
            (c.acks, c.min_isr, c.idempotence, c.elr, c.unclean),
            (Acks::All, 1, true, true, false)
        );
        assert_eq!(c.flush_every, None);
        let c = Candidate::of(&Candidate::defaults(&question("2.8", CrashMode::Machine)));
        assert_eq!((c.acks, c.idempotence, c.elr), (Acks::One, false, false));
    }

    #[test]
    fn impossible_questions_are_refused() {
        let mut q = question("4.3", CrashMode::Machine);
        q.tolerate = 3;
        assert!(
            q.validate()
                .unwrap_err()
                .contains("--tolerate 3 with 3 replicas")
        );
        q.tolerate = 1;
        q.replicas = 0;
        assert!(q.validate().is_err());
    }
}
