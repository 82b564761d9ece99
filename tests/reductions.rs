//! The partial-order reduction changes how much the search visits and
//! nothing else. Its sleep sets change only the transitions followed: for
//! every catalogue scenario small enough to check twice, the same classes,
//! the same verdicts, and counterexamples of the same length, with and
//! without them. Clients first (`model::client_first`) visits fewer
//! classes and keeps every verdict and counterexample length; the facts
//! about who sends to clients that it rests on are checked on every
//! transition of several scenarios. The same holds for a search shared
//! among several workers.

use insync::check::report::Report;
use insync::check::{self, CheckOptions};
use insync::core::messages::Node;
use insync::model::client_first::{self, Channels};
use insync::model::compact::{CompactModel, StepKind};
use insync::model::symmetry::fingerprint;
use insync::scenario::{Scenario, load_dir};
use std::collections::HashSet;
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

fn small_scenarios() -> Vec<Scenario> {
    let small: Vec<_> = load_dir(Path::new("models"))
        .expect("the catalogue loads")
        .into_iter()
        .filter(|s| {
            s.walks.is_none() && !s.name.contains("-machine") && !LARGE.contains(&s.name.as_str())
        })
        .collect();
    assert!(small.len() >= 20, "only {} small scenarios", small.len());
    small
}

#[test]
fn the_reductions_keep_every_verdict_and_counterexample_length() {
    let small = small_scenarios();
    let run = |sleep_sets, client_first| {
        let opts = CheckOptions {
            sleep_sets,
            client_first,
            ..CheckOptions::default()
        };
        check::batch::run_many(&small, &opts)
    };
    let (first, sleep, plain) = (run(true, true), run(true, false), run(false, false));
    let (mut fewer_transitions, mut fewer_classes) = (0, 0);
    for (((s, f), r), p) in small.iter().zip(&first).zip(&sleep).zip(&plain) {
        assert!(f.exhausted && r.exhausted && p.exhausted, "{}", s.name);
        assert!(
            p.unique_states <= SMALL_ENOUGH,
            "{}: {} classes; add it to LARGE",
            s.name,
            p.unique_states
        );
        // Sleep sets alone: every class, fewer transitions.
        assert_eq!(r.unique_states, p.unique_states, "{}: classes", s.name);
        assert_eq!(r.max_depth, p.max_depth, "{}: depth", s.name);
        assert_eq!(summary(r), summary(p), "{}: verdicts", s.name);
        assert!(r.states <= p.states, "{}: more transitions", s.name);
        if r.states * 3 < p.states * 2 {
            fewer_transitions += 1;
        }
        // Clients first: fewer classes, the same verdicts and lengths.
        assert_eq!(
            summary(f),
            summary(p),
            "{}: verdicts, clients first",
            s.name
        );
        assert!(
            f.unique_states <= r.unique_states,
            "{}: more classes",
            s.name
        );
        if f.unique_states * 10 < r.unique_states * 9 {
            fewer_classes += 1;
        }
    }
    // Each reduction does something: most scenarios lose a third of their
    // transitions to sleep sets, and a tenth of their classes to clients
    // first.
    let n = small.len();
    assert!(fewer_transitions * 2 > n, "{fewer_transitions} of {n}");
    assert!(fewer_classes * 2 > n, "{fewer_classes} of {n}");
}

/// What `client_first` assumes, on every transition out of every class of
/// scenarios where clients wait on brokers in every way the model has
/// (acks=all answers held for the HW, produce and reads parked for an
/// epoch, crashes, partitions, shutdowns, rolling restarts, preferred
/// elections, a consumer): a broker or the controller puts a message on
/// an empty channel to a client only where `may_send` said it could; none
/// of their steps turns a "could not" into a "could" (so no chain of them
/// does either); no client sends to a client; and only client steps
/// change the history.
#[test]
fn only_who_client_first_expects_sends_to_a_client() {
    let all = load_dir(Path::new("models")).expect("the catalogue loads");
    let pick = [
        "seed-acksall-isr2-process",
        "consumer-reads-acks-all",
        "network-partition-acks1",
        "controlled-shutdown-acks-all",
        "rolling-restart-acks-all",
        "preferred-election-acks1",
        "unclean-election",
        "follower-fetch-before-leader-and-isr",
        "idempotent-producer-after-unclean-election",
        "seed-acks1-isr1-machine-elr",
    ];
    let (mut sends_checked, mut silent_kept) = (0u64, 0u64);
    for name in pick {
        let s = all
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is in the catalogue"));
        let cfg = &s.config;
        let model = cfg.clone().into_model();
        let layout = cfg.layout();
        let controller = usize::from(layout.id(Node::Controller));
        let space = CompactModel::new(&model);
        let init = space.init_state();
        let clients = client_first::client_slots(&init, cfg);
        let mut seen = HashSet::from([fingerprint(&init, true)]);
        let mut stack = vec![init];
        let mut next = Vec::new();
        while let Some(st) = stack.pop() {
            space.successors_by_kind(&st, &mut next);
            for (kind, n) in next.drain(..) {
                let actor = match kind {
                    StepKind::Deliver(_, dst) => dst as usize,
                    StepKind::Timer(a, _) => a as usize,
                    StepKind::Elect => controller,
                };
                for x in clients.clone() {
                    for y in 0..clients.start {
                        if st.busy(y, x) || client_first::may_send(&st, cfg, y, x) {
                            continue;
                        }
                        assert!(
                            !n.busy(y, x),
                            "{name}: slot {y} sent to client slot {x} unasked ({kind:?})"
                        );
                        if !clients.contains(&actor) {
                            assert!(
                                !client_first::may_send(&n, cfg, y, x),
                                "{name}: after {kind:?}, slot {y} may send to client slot {x}"
                            );
                            silent_kept += 1;
                        }
                    }
                    if !st.busy(actor, x) && n.busy(actor, x) {
                        assert!(
                            !clients.contains(&actor),
                            "{name}: client slot {actor} sent to client slot {x}"
                        );
                        sends_checked += 1;
                    }
                }
                if !clients.contains(&actor) {
                    assert!(
                        n.history == st.history,
                        "{name}: slot {actor} changed the history"
                    );
                }
                if seen.insert(fingerprint(&n, true)) {
                    stack.push(n);
                }
            }
        }
    }
    assert!(
        sends_checked > 1000,
        "only {sends_checked} sends to clients checked"
    );
    assert!(silent_kept > 1000, "only {silent_kept} silences checked");
}

/// A search on two workers decides the same as one, with counterexamples
/// as short: on the canonical scenario (where the workers hand work to
/// each other thousands of times) and on small ones (where one may find
/// nothing left to do). With sleep sets alone both meet the same classes.
/// With clients first, which of the classes that differ only by client
/// deliveries a search meets depends on the order it takes steps, so the
/// counts may differ slightly.
#[test]
fn two_workers_keep_every_verdict_and_counterexample_length() {
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
        let run = |threads, client_first| {
            check::run(
                &s.config,
                &s.expect,
                &CheckOptions {
                    threads,
                    client_first,
                    progress: false,
                    ..CheckOptions::default()
                },
            )
        };
        for client_first in [false, true] {
            let (one, two) = (run(1, client_first), run(2, client_first));
            assert!(one.exhausted && two.exhausted, "{name}");
            if client_first {
                // Measured: up to 8 of 8,237 classes (unclean-election)
                // and 280 of 1.48 million (the canonical scenario).
                let (a, b) = (one.unique_states as f64, two.unique_states as f64);
                assert!((a - b).abs() <= a / 100.0, "{name}: classes {a} and {b}");
            } else {
                assert_eq!(one.unique_states, two.unique_states, "{name}: classes");
                assert_eq!(one.max_depth, two.max_depth, "{name}: depth");
            }
            assert_eq!(summary(&one), summary(&two), "{name}: verdicts");
            for p in &two.properties {
                if let Some(c) = &p.counterexample {
                    assert_eq!(c.length, c.steps.len(), "{name}: {} replays", p.name);
                }
            }
        }
    }
}
