//! `insync bench`: the checker's speed on a scenario, next to stateright's
//! own depth-first checker on a Paxos model, measured in the same process
//! so the ratio cancels out the machine.

pub mod lincheck;
pub mod paxos;

use crate::check::{self, CheckOptions};
use crate::scenario::{Expect, Scenario};
use serde::Serialize;
use stateright::{Checker, Model};
use std::time::Instant;

#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub seconds: f64,
    pub states: usize,
    pub unique_states: usize,
    pub states_per_second: f64,
    /// Peak resident memory during this run, when the OS reports it.
    pub peak_rss_mb: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub name: String,
    pub runs: Vec<Run>,
    pub median_seconds: f64,
    pub median_states_per_second: f64,
    pub max_peak_rss_mb: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub cores: usize,
    pub threads: usize,
    pub baseline: Series,
    pub insync: Series,
    /// insync's median states/s over the baseline's.
    pub speed_ratio: f64,
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Linux keeps a resettable high-water mark of the resident set. The
/// reset brings it down to the current resident set only, which still
/// holds what the allocator kept of the previous run's memory; so the
/// allocator hands that back first, or a run would be charged with its
/// predecessor's peak.
pub fn reset_peak_rss() {
    // SAFETY: mi_collect takes no pointers; it only returns free pages.
    unsafe { libmimalloc_sys::mi_collect(true) };
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn series(name: String, runs: Vec<Run>) -> Series {
    Series {
        name,
        median_seconds: median(runs.iter().map(|r| r.seconds).collect()),
        median_states_per_second: median(runs.iter().map(|r| r.states_per_second).collect()),
        max_peak_rss_mb: runs.iter().filter_map(|r| r.peak_rss_mb).reduce(f64::max),
        runs,
    }
}

fn measure(f: impl FnOnce() -> (usize, usize)) -> Run {
    reset_peak_rss();
    let t = Instant::now();
    let (states, unique_states) = f();
    let seconds = t.elapsed().as_secs_f64();
    Run {
        seconds,
        states,
        unique_states,
        states_per_second: states as f64 / seconds.max(1e-9),
        peak_rss_mb: peak_rss_mb(),
    }
}

/// Alternates baseline and scenario runs, `runs` of each, and calls
/// `progress` before each one.
pub fn run(
    scenario: &Scenario,
    runs: usize,
    paxos_clients: usize,
    threads: usize,
    progress: &dyn Fn(&str),
) -> BenchReport {
    let threads = check::resolve_threads(threads);
    let baseline_name =
        format!("stateright DFS: single-decree Paxos, 3 servers, {paxos_clients} clients");
    let name = scenario.name.clone();
    let opts = CheckOptions {
        threads,
        ..CheckOptions::default()
    };
    let mut base = Vec::new();
    let mut ours = Vec::new();
    for i in 0..runs.max(1) {
        progress(&format!("run {}/{}: Paxos baseline", i + 1, runs.max(1)));
        base.push(measure(|| {
            let c = paxos::model(paxos_clients)
                .checker()
                .threads(threads)
                .spawn_dfs()
                .join();
            (c.state_count(), c.unique_state_count())
        }));
        progress(&format!("run {}/{}: {name}", i + 1, runs.max(1)));
        ours.push(measure(|| {
            let r = check::run(&scenario.config, &Expect::default(), &opts);
            (r.states, r.unique_states)
        }));
    }
    let baseline = series(baseline_name, base);
    let insync = series(format!("insync check {name}"), ours);
    BenchReport {
        cores: check::resolve_threads(0),
        threads,
        speed_ratio: insync.median_states_per_second / baseline.median_states_per_second.max(1e-9),
        baseline,
        insync,
    }
}
