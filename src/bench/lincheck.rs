//! `insync bench-lincheck`: issue 4's speed targets for `insync lincheck`
//! on generated histories, next to stateright's `LinearizabilityTester` on
//! the same small histories, in the same process so the ratio cancels out
//! the machine.

use super::{median, peak_rss_mb, reset_peak_rss};
use crate::lincheck::generate::{self, Params};
use crate::lincheck::history::{self, Op};
use crate::lincheck::{anomalies, baseline, linearizability, satisfies_log_spec, wgl::Verdict};
use serde::Serialize;
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct Options {
    pub runs: usize,
    pub ops: usize,
    pub clients: usize,
    pub partitions: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub name: String,
    pub ops: usize,
    pub seconds: Vec<f64>,
    pub median_seconds: f64,
    pub median_ops_per_second: f64,
    pub max_peak_rss_mb: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    pub histories: usize,
    pub ops_each: usize,
    pub linearizable: usize,
    /// Histories on which both checkers gave the same verdict.
    pub agreed: usize,
    pub stateright: Series,
    pub insync: Series,
    /// stateright's median seconds over insync's.
    pub speed_ratio: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: f64,
    pub met: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub cores: usize,
    pub clients: usize,
    pub valid: Series,
    /// The same, parsed from JSON lines first, as `insync lincheck` does.
    pub valid_from_jsonl: Series,
    pub one_partition_valid: Series,
    pub one_partition_violating: Series,
    /// Median seconds, violating over valid, same size.
    pub violating_over_valid: f64,
    pub baseline: Baseline,
    pub targets: Vec<Target>,
}

/// The whole check `insync lincheck` makes, minus reading and printing.
fn check(ops: &[Op]) -> (bool, bool) {
    let clean = anomalies::find(ops).is_empty();
    let lin = linearizability(ops, None)
        .values()
        .all(|v| *v == Verdict::Linearizable);
    (clean, lin)
}

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let out = f();
    (t.elapsed().as_secs_f64(), out)
}

fn series(name: String, ops: usize, seconds: Vec<f64>, rss: Vec<Option<f64>>) -> Series {
    let median_seconds = median(seconds.clone());
    Series {
        name,
        ops,
        median_ops_per_second: ops as f64 / median_seconds.max(1e-9),
        median_seconds,
        seconds,
        max_peak_rss_mb: rss.into_iter().flatten().reduce(f64::max),
    }
}

pub fn run(o: &Options, progress: &dyn Fn(&str)) -> Result<Report, String> {
    let runs = o.runs.max(1);
    let mut p = Params::new(1, o.ops, o.clients);
    p.partitions = o.partitions;
    let valid = generate::generate(&p).ops;
    let text = generate::to_jsonl(&valid);
    p.partitions = 1;
    p.seed = 2;
    let one = generate::generate(&p).ops;
    let mut broken = one.clone();
    if !generate::violate(&mut broken) {
        return Err("no pair of appends to swap: use more --ops".into());
    }
    let small = generate::small_histories(300);

    let (mut t_valid, mut t_jsonl, mut t_one, mut t_broken) = (vec![], vec![], vec![], vec![]);
    let (mut rss_one, mut rss_broken) = (vec![], vec![]);
    let (mut t_sr, mut t_ours) = (vec![], vec![]);
    let (mut agreed, mut linearizable) = (0, 0);
    for i in 1..=runs {
        progress(&format!("run {i}/{runs}: valid histories"));
        let (s, v) = time(|| check(&valid));
        if v != (true, true) {
            return Err(format!("a generated valid history failed: {v:?}"));
        }
        t_valid.push(s);
        let (s, v) = time(|| history::parse(&text).map(|ops| check(&ops)));
        if v != Ok((true, true)) {
            return Err(format!("the valid history's JSON lines failed: {v:?}"));
        }
        t_jsonl.push(s);
        reset_peak_rss();
        let (s, v) = time(|| check(&one));
        if v != (true, true) {
            return Err(format!("the one-partition valid history failed: {v:?}"));
        }
        t_one.push(s);
        rss_one.push(peak_rss_mb());
        progress(&format!("run {i}/{runs}: the violating history"));
        reset_peak_rss();
        let (s, v) = time(|| check(&broken));
        if v.1 {
            return Err("the violating history passed the search".into());
        }
        t_broken.push(s);
        rss_broken.push(peak_rss_mb());
        progress(&format!("run {i}/{runs}: stateright baseline"));
        let (s, theirs) = time(|| {
            small
                .iter()
                .map(|h| baseline::linearizable(h))
                .collect::<Vec<_>>()
        });
        t_sr.push(s);
        let (s, ours) = time(|| {
            small
                .iter()
                .map(|h| satisfies_log_spec(h, None))
                .collect::<Vec<_>>()
        });
        t_ours.push(s);
        agreed = ours
            .iter()
            .zip(&theirs)
            .filter(|(a, b)| **a == Some(**b))
            .count();
        linearizable = theirs.iter().filter(|b| **b).count();
    }
    let n_small = small.iter().map(Vec::len).sum();
    let stateright = series(
        "stateright LinearizabilityTester, 300 × 24 ops".into(),
        n_small,
        t_sr,
        vec![],
    );
    let insync_small = series(
        "insync anomaly pass + search, 300 × 24 ops".into(),
        n_small,
        t_ours,
        vec![],
    );
    let report = Report {
        cores: crate::check::resolve_threads(0),
        clients: o.clients,
        valid: series(
            format!("valid, {} clients, {} partitions", o.clients, o.partitions),
            valid.len(),
            t_valid,
            vec![],
        ),
        valid_from_jsonl: series(
            "the same from JSON lines".into(),
            valid.len(),
            t_jsonl,
            vec![],
        ),
        violating_over_valid: median(t_broken.clone()) / median(t_one.clone()).max(1e-9),
        one_partition_valid: series(
            format!("valid, one partition, {} clients", o.clients),
            one.len(),
            t_one,
            rss_one,
        ),
        one_partition_violating: series(
            "violating, one partition (two late acks swapped)".into(),
            broken.len(),
            t_broken,
            rss_broken,
        ),
        baseline: Baseline {
            histories: small.len(),
            ops_each: 24,
            linearizable,
            agreed,
            speed_ratio: stateright.median_seconds / insync_small.median_seconds.max(1e-9),
            stateright,
            insync: insync_small,
        },
        targets: vec![],
    };
    Ok(with_targets(report))
}

fn with_targets(mut r: Report) -> Report {
    let rss = [&r.one_partition_valid, &r.one_partition_violating]
        .iter()
        .filter_map(|s| s.max_peak_rss_mb)
        .reduce(f64::max)
        .unwrap_or(f64::NAN);
    let target = |target: &str, measured: f64, met: bool| Target {
        target: target.into(),
        measured,
        met,
    };
    r.targets = vec![
        target(
            "≥ 1M operations/s on valid histories, ≤ 10 clients",
            r.valid.median_ops_per_second,
            r.valid.median_ops_per_second >= 1e6 && r.clients <= 10,
        ),
        target(
            "100k operations in one partition in < 3 s",
            r.one_partition_valid.median_seconds,
            r.one_partition_valid.median_seconds < 3.0 && r.one_partition_valid.ops >= 100_000,
        ),
        target(
            "a violating history ≤ 10× a valid one of the same size",
            r.violating_over_valid,
            r.violating_over_valid <= 10.0,
        ),
        target(
            "peak RSS < 2 GB at 100k operations (MB)",
            rss,
            rss < 2048.0 && r.one_partition_valid.ops >= 100_000,
        ),
        target(
            "the same verdict as stateright on 300 small histories",
            r.baseline.agreed as f64,
            r.baseline.agreed == r.baseline.histories,
        ),
    ];
    r
}
