//! Checking many scenarios at once, one per core: each exhaustive search
//! runs on one thread, so a catalogue spreads across the machine.

use super::progress::Progress;
use super::report::Report;
use super::{CheckOptions, resolve_threads, run};
use crate::scenario::Scenario;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Checks every scenario against its `[expect]` on `opts.threads` workers
/// (0: one per core); reports come back in the scenarios' order.
pub fn run_many(scenarios: &[Scenario], opts: &CheckOptions) -> Vec<Report> {
    run_many_enough(scenarios, &|_| Vec::new(), opts)
}

/// `run_many`, where the search for scenario `i` may stop once the
/// properties `enough(i)` names are all decided (`CheckOptions::enough`;
/// empty: every property, to the end). Scenarios that ask the same
/// question share one check, which searches as far as its most demanding
/// member needs.
pub fn run_many_enough(
    scenarios: &[Scenario],
    enough: &(dyn Fn(usize) -> Vec<&'static str> + Sync),
    opts: &CheckOptions,
) -> Vec<Report> {
    // Two names for one configuration, or releases whose rules agree on it.
    let first: Vec<usize> = (0..scenarios.len())
        .map(|i| {
            (0..i)
                .find(|&j| {
                    scenarios[j].walks == scenarios[i].walks
                        && scenarios[j].config.same_rules(&scenarios[i].config)
                })
                .unwrap_or(i)
        })
        .collect();
    let distinct: Vec<usize> = (0..scenarios.len()).filter(|&i| first[i] == i).collect();
    let group_enough = |i: usize| {
        let mut union: Vec<&'static str> = Vec::new();
        for member in (i..scenarios.len()).filter(|&m| first[m] == i) {
            let wants = enough(member);
            if wants.is_empty() {
                return Vec::new();
            }
            union.extend(wants);
        }
        union.sort_unstable();
        union.dedup();
        union
    };
    let checked = run_distinct(scenarios, &distinct, &group_enough, opts);
    (0..scenarios.len())
        .map(|i| {
            let mut r = checked[first[i]]
                .clone()
                .expect("each first member was checked");
            if first[i] != i {
                let s = &scenarios[i];
                r.config = s.config.clone();
                for p in &mut r.properties {
                    p.expected = s.expect.get(&p.name);
                }
            }
            r
        })
        .collect()
}

/// Checks every scenario on `opts.threads` workers, each search stopping
/// once the properties `enough(i)` names for scenario `i` are all decided
/// (`CheckOptions::enough`); reports come back in the scenarios' order.
pub fn run_each(
    scenarios: &[Scenario],
    enough: &(dyn Fn(usize) -> Vec<&'static str> + Sync),
    opts: &CheckOptions,
) -> Vec<Report> {
    let all: Vec<usize> = (0..scenarios.len()).collect();
    run_distinct(scenarios, &all, enough, opts)
        .into_iter()
        .map(|r| r.expect("every scenario was checked"))
        .collect()
}

/// Checks the scenarios numbered in `which`; the others' slots stay empty.
fn run_distinct(
    scenarios: &[Scenario],
    which: &[usize],
    enough: &(dyn Fn(usize) -> Vec<&'static str> + Sync),
    opts: &CheckOptions,
) -> Vec<Option<Report>> {
    let workers = resolve_threads(opts.threads).min(which.len()).max(1);
    let single = CheckOptions {
        progress: false,
        threads: 1,
        ..opts.clone()
    };
    let pb = Progress::bar(opts.progress, which.len() as u64, "scenarios");
    let done = AtomicUsize::new(0);
    // Largest first, so no big search is left running alone at the end.
    let mut order: Vec<usize> = which.to_vec();
    order.sort_by_key(|&i| std::cmp::Reverse(size_hint(&scenarios[i])));
    let next = AtomicUsize::new(0);
    let running: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    let reports: Mutex<Vec<Option<Report>>> = Mutex::new(vec![None; scenarios.len()]);
    let show = |running: &Vec<&str>| {
        pb.message(format!(
            "{}/{} scenarios done; checking {}",
            done.load(Ordering::Relaxed),
            which.len(),
            running.join(", ")
        ))
    };
    let finished = AtomicBool::new(false);
    let workers_done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        // Off a terminal nothing redraws, so someone must speak up while
        // a long search runs; `Progress` keeps it to a line every few
        // seconds.
        if opts.progress {
            scope.spawn(|| {
                while !finished.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(250));
                    show(&running.lock().expect("no worker panics holding it"));
                }
            });
        }
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let s = &scenarios[i];
                    {
                        let mut r = running.lock().expect("no worker panics holding it");
                        r.push(&s.name);
                        show(&r);
                    }
                    let own = CheckOptions {
                        enough: enough(i),
                        ..single.walking(s.walks)
                    };
                    let report = run(&s.config, &s.expect, &own);
                    reports.lock().expect("no worker panics holding it")[i] = Some(report);
                    done.fetch_add(1, Ordering::Relaxed);
                    let mut r = running.lock().expect("no worker panics holding it");
                    r.retain(|n| *n != s.name);
                    show(&r);
                    pb.inc();
                }
                if workers_done.fetch_add(1, Ordering::Relaxed) + 1 == workers {
                    finished.store(true, Ordering::Relaxed);
                }
            });
        }
    });
    pb.finish();
    reports.into_inner().expect("no worker panicked")
}

/// A rough rank of a scenario's state space: replicas multiply it most
/// (each is another fetcher whose steps interleave), then power loss and
/// lag removals, then ELR, records and crashes.
fn size_hint(s: &Scenario) -> (u8, bool, u8, bool, u8, u8) {
    let c = &s.config;
    (
        c.kafka.replication_factor,
        c.crash_mode == crate::model::CrashMode::Machine,
        c.lag_removals,
        c.kafka.eligible_leader_replicas_enable,
        c.records,
        c.crashes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::properties::ACKED_NEVER_LOST;
    use crate::scenario::Verdict;
    use std::path::Path;

    fn acks1() -> Scenario {
        Scenario::load(Path::new("models/seed-acks1-isr1-process.toml")).expect("in the catalogue")
    }

    /// A check stops early only when every scenario sharing it may.
    #[test]
    fn a_shared_check_goes_as_far_as_its_most_demanding_member() {
        let opts = CheckOptions {
            threads: 1,
            ..CheckOptions::default()
        };
        let alone = run_many_enough(&[acks1()], &|_| vec![ACKED_NEVER_LOST], &opts);
        assert!(!alone[0].exhausted, "acks=1 loses a record early");
        assert_eq!(alone[0].stopped, Some("enough decided"));

        let both = [acks1(), acks1()];
        let wants = |i: usize| match i {
            0 => vec![ACKED_NEVER_LOST],
            _ => Vec::new(),
        };
        for r in run_many_enough(&both, &wants, &opts) {
            assert!(r.exhausted, "the second member needs every verdict");
            assert!(r.properties.iter().all(|p| p.verdict != Verdict::Unknown));
        }
    }
}
