//! The partial-order reduction (sleep sets) changes how many transitions
//! the search follows and nothing else: for every catalogue scenario small
//! enough to check twice, the same classes, the same verdicts, and
//! counterexamples of the same length, with and without it.

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
