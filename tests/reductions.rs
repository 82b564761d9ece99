//! The partial-order reduction changes how much the search visits and
//! nothing else. Its sleep sets change only the transitions followed: for
//! every catalogue scenario small enough to check twice, the same classes,
//! the same verdicts, and counterexamples of the same length, with and
//! without them. Clients first (`model::client_first`) visits fewer
//! classes and keeps every verdict and counterexample length; the facts
//! about who sends to clients that it rests on are checked on every
//! transition of several scenarios. So does dropping the messages their
//! receivers ignore for good (`CompactModel::dropping_ignored`), with the
//! facts it rests on checked the same way. The same holds for a search shared
//! among several workers.

use insync::check::report::Report;
use insync::check::{self, CheckOptions};
use insync::core::messages::Node;
use insync::model::ModelConfig;
use insync::model::actor::{KMsg, NodeState};
use insync::model::client_first::{self, Channels};
use insync::model::compact::{Compact, CompactModel, StepKind};
use insync::model::symmetry::fingerprint;
use insync::scenario::{Scenario, load_dir};
use std::collections::{HashMap, HashSet};
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

/// Checks that `reduced` decides as `reference` does, with counterexamples
/// as long, visiting no more classes than `wider`; answers whether it
/// visits at least a tenth fewer.
fn fewer(name: &str, what: &str, reduced: &Report, wider: &Report, reference: &Report) -> bool {
    assert_eq!(
        summary(reduced),
        summary(reference),
        "{name}: verdicts, {what}"
    );
    assert!(
        reduced.unique_states <= wider.unique_states,
        "{name}: more classes, {what}"
    );
    reduced.unique_states * 10 < wider.unique_states * 9
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
    let run = |sleep_sets, client_first, drop_ignored, news_first| {
        let opts = CheckOptions {
            sleep_sets,
            client_first,
            drop_ignored,
            news_first,
            ..CheckOptions::default()
        };
        check::batch::run_many(&small, &opts)
    };
    let all = run(true, true, true, true);
    let dropping = run(true, true, true, false);
    let first = run(true, true, false, false);
    let sleep = run(true, false, false, false);
    let plain = run(false, false, false, false);
    let (mut fewer_transitions, mut fewer_classes, mut fewer_dropping) = (0, 0, 0);
    let mut fewer_news = 0;
    let runs = small.iter().zip(&all).zip(&dropping).zip(&first);
    for ((((s, a), d), f), (r, p)) in runs.zip(sleep.iter().zip(&plain)) {
        assert!(
            a.exhausted && d.exhausted && f.exhausted && r.exhausted && p.exhausted,
            "{}",
            s.name
        );
        // News first on top: fewer classes again, the same verdicts and
        // lengths.
        fewer_news += usize::from(fewer(&s.name, "news first", a, d, p));
        // Dropping ignored messages as well: fewer classes again, the
        // same verdicts and lengths.
        fewer_dropping += usize::from(fewer(&s.name, "dropping", d, f, p));
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
        fewer_classes += usize::from(fewer(&s.name, "clients first", f, r, p));
    }
    // Each reduction does something: most scenarios lose a third of their
    // transitions to sleep sets, and a tenth of their classes to clients
    // first, another tenth to dropping ignored messages and another to
    // news first.
    let n = small.len();
    assert!(fewer_transitions * 2 > n, "{fewer_transitions} of {n}");
    assert!(fewer_classes * 2 > n, "{fewer_classes} of {n}");
    assert!(fewer_dropping * 2 > n, "{fewer_dropping} of {n}");
    assert!(fewer_news * 2 > n, "{fewer_news} of {n}");
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
    every_transition(&pick, |name, cfg, st, kind, n| {
        let layout = cfg.layout();
        let controller = usize::from(layout.id(Node::Controller));
        let clients = client_first::client_slots(st, cfg);
        let actor = match kind {
            StepKind::Deliver(_, dst) => dst as usize,
            StepKind::Timer(a, _) => a as usize,
            StepKind::Elect => controller,
        };
        for x in clients.clone() {
            for y in 0..clients.start {
                if st.busy(y, x) || client_first::may_send(st, cfg, y, x) {
                    continue;
                }
                assert!(
                    !n.busy(y, x),
                    "{name}: slot {y} sent to client slot {x} unasked ({kind:?})"
                );
                if !clients.contains(&actor) {
                    assert!(
                        !client_first::may_send(n, cfg, y, x),
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
    });
    assert!(
        sends_checked > 1000,
        "only {sends_checked} sends to clients checked"
    );
    assert!(silent_kept > 1000, "only {silent_kept} silences checked");
}

/// What dropping ignored messages (`CompactModel::dropping_ignored`)
/// assumes, on every transition out of every class of scenarios with
/// crashes and power losses, network partitions, controlled shutdowns,
/// rolling restarts, preferred elections, unclean elections and refused
/// ISR changes: delivering a message that changes nothing whenever it
/// arrives (`NodeState::ignored`) changes nothing but that channel,
/// sending at most what is ignored in turn, and a message ignored before
/// any step is still ignored after it, wherever it still is.
#[test]
fn an_ignored_message_changes_nothing_whenever_it_arrives() {
    let pick = [
        "seed-acksall-isr2-process",
        "network-partition-acks1",
        "network-partition-zombie-leader-min-isr1",
        "controlled-shutdown-acks-all",
        "rolling-restart-acks-all",
        "preferred-election-acks1",
        "unclean-election",
        "follower-fetch-before-leader-and-isr",
        "seed-acks1-isr1-machine-elr",
    ];
    let mut delivered: HashMap<&'static str, u64> = HashMap::new();
    let mut kept = 0u64;
    let ignored = |st: &Compact, i: usize| {
        let (src, dst, m, _) = &st.net[i];
        NodeState::ignored(st.node(*src as usize), st.node(*dst as usize), m, true)
    };
    every_transition(&pick, |name, _, st, kind, n| {
        // The head of a channel is its first message in `net`.
        let head = match kind {
            StepKind::Deliver(src, dst) => st
                .net
                .iter()
                .position(|(a, b, _, _)| (*a, *b) == (src, dst)),
            _ => None,
        };
        if let Some(h) = head.filter(|&h| ignored(st, h)) {
            let mut rest = st.net.clone();
            let (_, _, m, _) = rest.remove(h);
            // What it sends (a NOT_LEADER to a fetch), it sends at the
            // tail of a channel, and that is ignored in turn.
            let mut sent = 0;
            let mut left = rest.iter().peekable();
            for i in 0..n.net.len() {
                if left.peek().is_some_and(|&x| *x == n.net[i]) {
                    left.next();
                } else {
                    assert!(
                        ignored(n, i),
                        "{name}: delivering {m:?} sent {:?}",
                        n.net[i]
                    );
                    sent += 1;
                }
            }
            assert!(
                left.next().is_none() && n.net.len() == rest.len() + sent,
                "{name}: delivering {m:?} changed the network"
            );
            assert!(
                n.history == st.history,
                "{name}: delivering {m:?} changed the history"
            );
            for a in 0..st.actors() {
                assert!(
                    n.node(a) == st.node(a) && n.slots[a].timers == st.slots[a].timers,
                    "{name}: delivering {m:?} changed actor {a}"
                );
            }
            *delivered.entry(kind_of(&m)).or_default() += 1;
        }
        // Still ignored: the same message, where the step left it (a step
        // takes at most one head, and sends at the tails).
        for i in (0..st.net.len()).filter(|&i| Some(i) != head && ignored(st, i)) {
            let (src, dst, m, _) = &st.net[i];
            let same_channel = |(a, b, _, _): &&(u8, u8, KMsg, u64)| (a, b) == (src, dst);
            let taken = head.is_some_and(|h| (st.net[h].0, st.net[h].1) == (*src, *dst));
            let ahead = st.net[..i].iter().filter(same_channel).count() - usize::from(taken);
            let now = n
                .net
                .iter()
                .filter(same_channel)
                .nth(ahead)
                .expect("still on its way");
            assert_eq!(&now.2, m, "{name}: the channel changed before it");
            assert!(
                NodeState::ignored(n.node(*src as usize), n.node(*dst as usize), m, true),
                "{name}: after {kind:?}, {m:?} is no longer ignored"
            );
            kept += 1;
        }
    });
    // Every kind of message the rule names arrives ignored somewhere but
    // a leave to shut down, which no scenario sends to a broker that then
    // crashes (the core's unit tests check that one).
    for kind in [
        "Fetch",
        "FetchResponse",
        "LeaderAndIsr",
        "AlterPartitionRejected",
    ] {
        assert!(
            delivered.get(kind).is_some_and(|&n| n > 100),
            "only {delivered:?} ignored deliveries checked"
        );
    }
    assert!(kept > 10_000, "only {kept} ignored messages followed");
}

/// Calls `check` on every transition (state, step, next state) out of
/// every class of the named catalogue scenarios, in the full model: every
/// message kept until delivered.
fn every_transition(
    names: &[&str],
    mut check: impl FnMut(&str, &ModelConfig, &Compact, StepKind, &Compact),
) {
    let all = load_dir(Path::new("models")).expect("the catalogue loads");
    for name in names {
        let s = all
            .iter()
            .find(|s| s.name == *name)
            .unwrap_or_else(|| panic!("{name} is in the catalogue"));
        let model = s.config.clone().into_model();
        let space = CompactModel::new(&model);
        let init = space.init_state();
        let mut seen = HashSet::from([fingerprint(&init, true)]);
        let mut stack = vec![init];
        let mut next = Vec::new();
        while let Some(st) = stack.pop() {
            space.successors_by_kind(&st, &mut next);
            for (kind, n) in next.drain(..) {
                check(name, &s.config, &st, kind, &n);
                if seen.insert(fingerprint(&n, true)) {
                    stack.push(n);
                }
            }
        }
    }
}

fn kind_of(m: &KMsg) -> &'static str {
    use insync::core::messages::Msg;
    match m {
        Msg::Fetch(_) => "Fetch",
        Msg::FetchResponse(_) => "FetchResponse",
        Msg::LeaderAndIsr { .. } => "LeaderAndIsr",
        Msg::ShutdownAllowed { .. } => "ShutdownAllowed",
        Msg::AlterPartitionRejected { .. } => "AlterPartitionRejected",
        _ => "other",
    }
}

/// A search on two workers decides the same as one, with counterexamples
/// as short: on the canonical scenario (where the workers hand work to
/// each other thousands of times) and on small ones (where one may find
/// nothing left to do). With sleep sets alone both meet the same classes.
/// With clients first and news first, which of the classes that differ
/// only by steps those sets postpone a search meets depends on the order
/// it takes steps, so the counts may differ slightly.
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
                    news_first: client_first,
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

/// The canonical scenario's counterexamples are as long with ignored
/// messages dropped as without, though its nearest `linearizable` class
/// is reached only through a delivery that changes nothing: the replay
/// then looks for a path through other classes (`check::concrete`), and
/// finds the 32 steps the search without the drop finds.
#[test]
fn dropping_ignored_messages_keeps_the_canonical_counterexample_lengths() {
    let all = load_dir(Path::new("models")).expect("the catalogue loads");
    let s = all
        .iter()
        .find(|s| s.name == "seed-acksall-isr2-machine")
        .expect("the canonical scenario is in the catalogue");
    let run = |drop_ignored| {
        let opts = CheckOptions {
            drop_ignored,
            progress: false,
            ..CheckOptions::default()
        };
        check::run(&s.config, &s.expect, &opts)
    };
    let (dropping, keeping) = (run(true), run(false));
    assert!(dropping.exhausted && keeping.exhausted);
    assert_eq!(summary(&dropping), summary(&keeping));
    let linearizable = dropping
        .property(insync::model::properties::LINEARIZABLE)
        .and_then(|p| p.counterexample.as_ref())
        .expect("a linearizability counterexample");
    assert_eq!(linearizable.length, 32);
    assert_eq!(linearizable.steps.len(), 32);
}
