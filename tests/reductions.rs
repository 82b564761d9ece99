//! The partial-order reduction (sleep sets) changes how many transitions
//! the search follows and nothing else: for every catalogue scenario small
//! enough to check twice, the same classes, the same verdicts, and
//! counterexamples of the same length, with and without it. The same
//! holds for a search shared among several workers.

use insync::check::report::Report;
use insync::check::{self, CheckOptions};
use insync::scenario::load_dir;
use std::path::Path;

/// Scenarios up to this many classes are checked both ways: every
/// scenario but the power-loss seed cells and `LARGE` (31 of the
/// catalogue's, about a minute unreduced).
const SMALL_ENOUGH: usize = 1_000_000;

/// Scenarios of millions of classes, left to the catalogue test.
const LARGE: &[&str] = &[
    "elr-with-strict-min-isr",
    "kip101-high-watermark-truncation",
    "kip101-leader-epoch-truncation",
    "kip903-stale-fetch-3.4",
    "kip903-stale-fetch-3.5",
    "last-replica-standing-fsync",
];

fn summary(r: &Report) -> Vec<(String, String, Option<usize>)> {
    r.properties
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.verdict.to_string(),
                p.counterexample.as_ref().map(|c| c.length),
            )
        })
        .collect()
}

#[test]
fn sleep_sets_keep_every_class_verdict_and_counterexample_length() {
    let small: Vec<_> = load_dir(Path::new("models"))
        .expect("the catalogue loads")
        .into_iter()
        .filter(|s| !s.name.contains("-machine") && !LARGE.contains(&s.name.as_str()))
        .collect();
    assert!(small.len() >= 20, "only {} small scenarios", small.len());
    let reduced = check::batch::run_many(&small, &CheckOptions::default());
    let plain = check::batch::run_many(
        &small,
        &CheckOptions {
            sleep_sets: false,
            ..CheckOptions::default()
        },
    );
    let mut fewer = 0;
    for ((s, r), p) in small.iter().zip(&reduced).zip(&plain) {
        assert!(r.exhausted && p.exhausted, "{}", s.name);
        assert!(
            r.unique_states <= SMALL_ENOUGH,
            "{}: {} classes; add it to LARGE",
            s.name,
            r.unique_states
        );
        assert_eq!(r.unique_states, p.unique_states, "{}: classes", s.name);
        assert_eq!(r.max_depth, p.max_depth, "{}: depth", s.name);
        assert_eq!(summary(r), summary(p), "{}: verdicts", s.name);
        assert!(r.states <= p.states, "{}: more transitions", s.name);
        if r.states * 3 < p.states * 2 {
            fewer += 1;
        }
    }
    // The reduction does something: most scenarios lose a third of their
    // transitions or more.
    assert!(fewer * 2 > small.len(), "{fewer} of {}", small.len());
}

/// A search on two workers meets the same classes and decides the same,
/// with counterexamples as short, as one worker: on the canonical scenario
/// (where the workers hand work to each other thousands of times) and on
/// small ones (where one may find nothing left to do).
#[test]
fn two_workers_keep_every_class_verdict_and_counterexample_length() {
    let all = load_dir(Path::new("models")).expect("the catalogue loads");
    let pick = [
        "seed-acksall-isr2-machine",
        "unclean-election",
        "consumer-reads-acks-all",
    ];
    for name in pick {
        let s = all
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is in the catalogue"));
        let run = |threads| {
            check::run(
                &s.config,
                &s.expect,
                &CheckOptions {
                    threads,
                    progress: false,
                    ..CheckOptions::default()
                },
            )
        };
        let (one, two) = (run(1), run(2));
        assert!(one.exhausted && two.exhausted, "{name}");
        assert_eq!(one.unique_states, two.unique_states, "{name}: classes");
        assert_eq!(one.max_depth, two.max_depth, "{name}: depth");
        assert_eq!(summary(&one), summary(&two), "{name}: verdicts");
        for p in &two.properties {
            if let Some(c) = &p.counterexample {
                assert_eq!(c.length, c.steps.len(), "{name}: {} replays", p.name);
            }
        }
    }
}
