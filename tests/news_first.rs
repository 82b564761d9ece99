//! News first (`model::news_first`) takes a follower's news of a newer
//! leader epoch alone, with the few steps it would otherwise race (its
//! crash, the answer it awaits, a fetch it refuses from the new leader).
//! Here its argument is checked on every state of several scenarios, in
//! the full model and in the one that drops ignored messages, rather than
//! only by its outcome (which `tests/reductions.rs` compares): wherever
//! the rule picks a follower,
//! - the news changes no property;
//! - every other step leaves the follower picked with the same set (so
//!   the set stays persistent along any path that avoids it, by
//!   induction), and commutes with the news, and with each other member
//!   of the set where that can follow it.

use insync::core::messages::{FetchResult, Msg, Node};
use insync::model::actor::{NodeState, Timer};
use insync::model::client_first::Channels;
use insync::model::compact::{Compact, CompactModel, StepKind, timer_bit};
use insync::model::news_first::news_for;
use insync::model::properties::properties;
use insync::model::state::View;
use insync::model::symmetry::fingerprint;
use insync::scenario::load_dir;
use std::collections::HashSet;
use std::path::Path;

#[test]
fn news_first_sets_are_persistent_and_their_news_invisible() {
    let pick = [
        "seed-acksall-isr2-process",
        "seed-acks1-isr2-process",
        "seed-acks0-isr1-machine",
        "follower-fetch-before-leader-and-isr",
        "unclean-election",
        "preferred-election-acks1",
        "retries-with-idempotence",
        "seed-acks0-isr1-process",
        "controlled-shutdown-acks-all",
    ];
    let all = load_dir(Path::new("models")).expect("the catalogue loads");
    let crash = timer_bit(&Timer::Crash).trailing_zeros() as u8;
    let (mut picked, mut commuted, mut after_last_crash) = (0u64, 0u64, 0u64);
    let (mut raced, mut answered) = (0u64, 0u64);
    for name in pick {
        let s = all
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is in the catalogue"));
        let cfg = &s.config;
        let model = cfg.clone().into_model();
        let props = properties::<Compact>(cfg);
        let judge = |c: &Compact| {
            let v = View::of(c);
            props
                .iter()
                .map(|(_, _, p)| p(cfg, c, &v))
                .collect::<Vec<_>>()
        };
        let controller = usize::from(cfg.layout().id(Node::Controller)) as u8;
        for dropping in [false, true] {
            let space = CompactModel::new(&model).dropping_ignored(dropping);
            let succ = |c: &Compact| {
                let mut out = Vec::new();
                space.successors_by_kind(c, &mut out);
                out
            };
            let init = space.init_state();
            let mut seen = HashSet::from([fingerprint(&init, true)]);
            let mut stack = vec![init];
            while let Some(st) = stack.pop() {
                let next = succ(&st);
                for picked_news in news_for(&st, cfg) {
                    let f = picked_news.follower;
                    let news = StepKind::Deliver(controller, f as u8);
                    // The set's other members: the follower's crash, and
                    // the fetch it refuses from the leader the news names.
                    let mut members = vec![StepKind::Timer(f as u8, crash)];
                    if let Some(g) = picked_news.refused_fetch_from {
                        members.push(StepKind::Deliver(g as u8, f as u8));
                        raced += 1;
                    }
                    if let Some(l) = picked_news.answer_from {
                        members.push(StepKind::Deliver(l as u8, f as u8));
                        answered += 1;
                    }
                    let find = |list: &[(StepKind, Compact)], k: StepKind| {
                        list.iter().find(|(x, _)| *x == k).map(|(_, c)| c.clone())
                    };
                    let told = find(&next, news).expect("the news can be delivered");
                    if !same_log(&told, &st, f) {
                        continue; // the search does not take this one alone
                    }
                    picked += 1;
                    if View::of(&st).crashes() == u32::from(cfg.crashes)
                        && !only_parked(&st, f, controller)
                    {
                        after_last_crash += 1;
                    }
                    assert_eq!(judge(&told), judge(&st), "{name}: the news is visible");
                    let after_news = succ(&told);
                    let after_members: Vec<_> = members
                        .iter()
                        .map(|&m| find(&next, m).map(|c| (succ(&c), c)))
                        .collect();
                    let outside = |k: &StepKind| *k != news && !members.contains(k);
                    for (k, other) in next.iter().filter(|(k, _)| outside(k)) {
                        assert!(
                            news_for(other, cfg).contains(&picked_news),
                            "{name}: after {k:?} the rule no longer picks {picked_news:?}"
                        );
                        let then = succ(other);
                        let a = find(&then, news).expect("the news is still there");
                        // Where the news makes the other step's message
                        // ignored for good, the dropping model has dropped it.
                        let absorbed = dropping && same(&a, &told);
                        assert!(
                            absorbed || same_as_one_of(&a, *k, &after_news),
                            "{name}: {k:?} and the news to {f} do not commute"
                        );
                        // A path that takes another member after `k` can
                        // take it before.
                        for (m, after) in members.iter().zip(&after_members) {
                            if let Some(b) = find(&then, *m) {
                                let (list, state) =
                                    after.as_ref().expect("the member was enabled before");
                                let absorbed = dropping && same(&b, state);
                                assert!(
                                    absorbed || same_as_one_of(&b, *k, list),
                                    "{name}: {k:?} and {m:?} do not commute"
                                );
                            }
                        }
                        commuted += 1;
                    }
                }
                for (_, n) in next {
                    if seen.insert(fingerprint(&n, true)) {
                        stack.push(n);
                    }
                }
            }
        }
    }
    assert!(
        picked > 10_000,
        "only {picked} states where the rule applies"
    );
    assert!(commuted > 50_000, "only {commuted} steps commuted");
    assert!(
        raced > 100,
        "only {raced} refused fetches from the new leader"
    );
    assert!(answered > 100, "only {answered} awaited answers");
    // The conditions that need no crash left are exercised too.
    assert!(
        after_last_crash > 100,
        "only {after_last_crash} after the last crash"
    );
}

fn same_log(a: &Compact, b: &Compact, f: usize) -> bool {
    match (a.node(f), b.node(f)) {
        (NodeState::Broker(x), NodeState::Broker(y)) => {
            x.replica.log.entries() == y.replica.log.entries()
        }
        _ => false,
    }
}

/// Whether everything on its way to `f` but the controller's messages is
/// a fetch `f` parks: what the rule asks while a crash is left.
fn only_parked(c: &Compact, f: usize, controller: u8) -> bool {
    let NodeState::Broker(b) = c.node(f) else {
        return false;
    };
    (0..c.actors())
        .filter(|&y| y != usize::from(controller))
        .all(|y| {
            c.channel(y, f).all(|m| match m {
                Msg::Fetch(req) => b.replica.waits_for_epoch(req.leader_epoch),
                Msg::FetchResponse(a) => matches!(a.result, FetchResult::NotLeader),
                _ => false,
            })
        })
}

/// The same state but for messages their receivers ignore for good (whose
/// delivery changes nothing, whenever it comes: `tests/reductions.rs`).
fn same(a: &Compact, b: &Compact) -> bool {
    heard(a) == heard(b)
}

fn heard(c: &Compact) -> u64 {
    let mut c = c.clone();
    let nodes = c.slots.clone();
    c.net.retain(|(src, dst, m, _)| {
        !NodeState::ignored(
            &nodes[*src as usize].node.state,
            &nodes[*dst as usize].node.state,
            m,
            true,
        )
    });
    fingerprint(&c, false)
}

/// Whether `c` is one of the states `list` reaches by a step of kind `k`.
fn same_as_one_of(c: &Compact, k: StepKind, list: &[(StepKind, Compact)]) -> bool {
    let want = heard(c);
    list.iter().any(|(x, n)| *x == k && heard(n) == want)
}
