//! A Wing–Gong–Lowe linearizability search over one partition, with the
//! log spec of `../shared/reference/linearizability.md` §4: the state is
//! the log's length, because the anomaly pass has already fixed which
//! value sits at each offset.
//!
//! - An ok append at offset `o` is legal when the log holds `o` records,
//!   and adds one.
//! - A failed append took no effect: it is left out.
//! - An info append (a timeout, a lost connection) may take effect at any
//!   time after its call, or never: its return is at infinity. If a poll
//!   saw its value at `o`, it did take effect, at `o`: it behaves as an ok
//!   append at `o` whose return comes after every other event.
//! - An ok poll is legal when the log already holds every offset it
//!   returned (polls carry no recency requirement, as in Jepsen's and
//!   Maelstrom's Kafka workloads).
//!
//! In this spec every step WGL could take is forced, so the search never
//! needs to backtrack, keep a stack or memoise configurations; it stops at
//! the first return it cannot get past. From a configuration C (length
//! `len`), each step below can be moved to the front of any order that
//! completes C, so if C can be completed, C plus that step can too:
//!
//! - a legal poll: it changes nothing, and stays legal as the log grows;
//! - an append acked at `len`: nothing else can fill offset `len` without
//!   killing it, and the polls it overtakes stay legal;
//! - at an offset no append claims (a hole), an unseen info append: only
//!   such an append can fill it, any two that are called are
//!   interchangeable (both may land at any later time), and filling it
//!   disables nothing. An unseen info append never fills a claimed offset,
//!   as that would strand the claimant.
//!
//! Unseen info appends are therefore a pool used in call order; the ones
//! left over never took effect. The cost is linear in the history, plus
//! one rescan of the pending calls per record added to the log.

use super::history::{Op, Outcome};
use std::collections::HashMap;
use std::time::Instant;

/// The search's answer for one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// No order works: `op` (a position in the history) is the operation
    /// whose return the search could not get past.
    NotLinearizable {
        op: usize,
    },
    /// The deadline passed first.
    Unknown,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    /// Appends at this offset.
    AppendAt(u64),
    /// Needs the log to hold this many records.
    Sees(u64),
}

/// Checks the operations of one partition (`indices` into `ops`).
pub fn check(ops: &[Op], indices: &[usize], deadline: Option<Instant>) -> Verdict {
    // Where polls saw each value: an info append seen at o acts as ok at o.
    let mut seen_at: HashMap<&str, u64, ahash::RandomState> = HashMap::default();
    for &i in indices {
        if let Op::Poll {
            outcome: Outcome::Ok,
            records,
            ..
        } = &ops[i]
        {
            for (o, v) in records {
                seen_at.entry(v).or_insert(*o);
            }
        }
    }
    let mut steps: Vec<(usize, Step)> = Vec::new();
    // (time, is a return, step): calls first at the same instant, as
    // closed intervals that touch overlap.
    let mut events: Vec<(u64, bool, u32)> = Vec::new();
    let mut pool: Vec<u64> = Vec::new();
    let mut claimed: Vec<u64> = Vec::new();
    for &i in indices {
        let (step, invoke, complete) = match &ops[i] {
            Op::Append {
                outcome: Outcome::Ok,
                offset: Some(o),
                invoke_ns,
                complete_ns,
                ..
            } => (Step::AppendAt(*o), *invoke_ns, *complete_ns),
            Op::Append {
                outcome: Outcome::Info,
                value,
                invoke_ns,
                ..
            } => match seen_at.get(value.as_str()) {
                Some(o) => (Step::AppendAt(*o), *invoke_ns, u64::MAX),
                None => {
                    pool.push(*invoke_ns);
                    continue;
                }
            },
            Op::Poll {
                outcome: Outcome::Ok,
                records,
                invoke_ns,
                complete_ns,
                ..
            } => match records.iter().map(|(o, _)| *o).max() {
                Some(m) => (Step::Sees(m + 1), *invoke_ns, *complete_ns),
                None => continue,
            },
            _ => continue,
        };
        if let Step::AppendAt(o) = step {
            claimed.push(o);
        }
        let k = steps.len() as u32;
        steps.push((i, step));
        events.push((invoke, false, k));
        events.push((complete, true, k));
    }
    events.sort_unstable();
    pool.sort_unstable();
    claimed.sort_unstable();
    claimed.dedup();
    search(&steps, &events, &pool, &claimed, deadline)
}

fn search(
    steps: &[(usize, Step)],
    events: &[(u64, bool, u32)],
    pool: &[u64],
    claimed: &[u64],
    deadline: Option<Instant>,
) -> Verdict {
    let n = events.len();
    const NIL: u32 = u32::MAX;
    // A doubly linked list over events; index n is the head sentinel.
    let mut next: Vec<u32> = (1..=n as u32)
        .map(|i| if i as usize == n { NIL } else { i })
        .collect();
    next.push(if n == 0 { NIL } else { 0 });
    let mut prev: Vec<u32> = (0..n as u32).map(|i| i.wrapping_sub(1)).collect();
    if n > 0 {
        prev[0] = n as u32;
    }
    prev.push(NIL);
    let mut ret_of = vec![0u32; steps.len()];
    for (e, ev) in events.iter().enumerate() {
        if ev.1 {
            ret_of[ev.2 as usize] = e as u32;
        }
    }
    let unlink = |e: u32, next: &mut [u32], prev: &mut [u32]| {
        let (p, q) = (prev[e as usize], next[e as usize]);
        next[p as usize] = q;
        if q != NIL {
            prev[q as usize] = p;
        }
    };

    let mut len = 0u64;
    let mut used = 0usize;
    // Claimed offsets below this index are below `len`.
    let mut claim = 0usize;
    let mut entry = next[n];
    let mut budget = 0u32;
    while entry != NIL {
        budget = budget.wrapping_add(1);
        if budget.is_multiple_of(4096) && deadline.is_some_and(|d| Instant::now() >= d) {
            return Verdict::Unknown;
        }
        let (time, is_return, k) = events[entry as usize];
        if !is_return {
            let before = prev[entry as usize];
            match steps[k as usize].1 {
                Step::AppendAt(o) if o == len => {
                    unlink(entry, &mut next, &mut prev);
                    unlink(ret_of[k as usize], &mut next, &mut prev);
                    len += 1;
                    // A longer log may enable calls passed over before.
                    entry = next[n];
                }
                Step::Sees(need) if need <= len => {
                    unlink(entry, &mut next, &mut prev);
                    unlink(ret_of[k as usize], &mut next, &mut prev);
                    entry = next[before as usize];
                }
                _ => entry = next[entry as usize],
            }
            continue;
        }
        // A return whose operation is not placed: only filling a hole with
        // a crashed append called by now can still help.
        while claim < claimed.len() && claimed[claim] < len {
            claim += 1;
        }
        let hole = claimed.get(claim) != Some(&len);
        if hole && pool.get(used).is_some_and(|&call| call <= time) {
            used += 1;
            len += 1;
            entry = next[n];
            continue;
        }
        return Verdict::NotLinearizable {
            op: steps[k as usize].0,
        };
    }
    Verdict::Linearizable
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An append by `process` on partition "p".
    pub(crate) fn append(
        process: u64,
        value: &str,
        t: (u64, u64),
        outcome: Outcome,
        offset: Option<u64>,
    ) -> Op {
        Op::Append {
            process,
            partition: "p".into(),
            value: value.into(),
            invoke_ns: t.0,
            complete_ns: t.1,
            outcome,
            offset,
        }
    }

    /// An ok poll on partition "p".
    pub(crate) fn poll(process: u64, t: (u64, u64), records: &[(u64, &str)]) -> Op {
        Op::Poll {
            process,
            partition: "p".into(),
            invoke_ns: t.0,
            complete_ns: t.1,
            outcome: Outcome::Ok,
            records: records.iter().map(|(o, v)| (*o, v.to_string())).collect(),
            seek: false,
        }
    }

    fn verdict(ops: &[Op]) -> Verdict {
        let all: Vec<usize> = (0..ops.len()).collect();
        check(ops, &all, None)
    }

    #[test]
    fn overlapping_appends_may_take_either_order() {
        let h = vec![
            append(0, "a", (0, 10), Outcome::Ok, Some(1)),
            append(1, "b", (1, 9), Outcome::Ok, Some(0)),
            poll(2, (11, 12), &[(0, "b"), (1, "a")]),
        ];
        assert_eq!(verdict(&h), Verdict::Linearizable);
    }

    #[test]
    fn an_ack_order_against_real_time_is_caught() {
        // a is acknowledged before b starts, yet sits after it.
        let h = vec![
            append(0, "a", (0, 1), Outcome::Ok, Some(1)),
            append(1, "b", (2, 3), Outcome::Ok, Some(0)),
        ];
        assert_eq!(verdict(&h), Verdict::NotLinearizable { op: 0 });
    }

    #[test]
    fn a_poll_cannot_see_what_was_appended_after_it() {
        let h = vec![
            poll(1, (0, 1), &[(0, "a")]),
            append(0, "a", (2, 3), Outcome::Ok, Some(0)),
        ];
        assert_eq!(verdict(&h), Verdict::NotLinearizable { op: 0 });
    }

    #[test]
    fn info_appends_may_or_may_not_have_happened() {
        // An unseen info append that took effect explains the gap at 0;
        // one that did not is harmless.
        let took_effect = vec![
            append(0, "x", (0, 1), Outcome::Info, None),
            append(1, "a", (2, 3), Outcome::Ok, Some(1)),
        ];
        assert_eq!(verdict(&took_effect), Verdict::Linearizable);
        let never = vec![
            append(0, "x", (0, 1), Outcome::Info, None),
            append(1, "a", (2, 3), Outcome::Ok, Some(0)),
        ];
        assert_eq!(verdict(&never), Verdict::Linearizable);
        // A failed append took no effect: nothing can fill offset 0.
        let failed = vec![
            append(0, "x", (0, 1), Outcome::Fail, None),
            append(1, "a", (2, 3), Outcome::Ok, Some(1)),
        ];
        assert_eq!(verdict(&failed), Verdict::NotLinearizable { op: 1 });
    }

    #[test]
    fn a_crashed_append_seen_by_a_poll_must_have_landed_there() {
        // x is seen at 0 by a poll that ended before x was called; the
        // other crashed append y could fill offset 0 by length, not by value.
        let h = vec![
            append(0, "y", (0, 1), Outcome::Info, None),
            poll(1, (2, 3), &[(0, "x")]),
            append(2, "x", (4, 5), Outcome::Info, None),
        ];
        assert_eq!(verdict(&h), Verdict::NotLinearizable { op: 1 });
        let called_in_time = vec![h[0].clone(), h[2].clone(), poll(1, (6, 7), &[(0, "x")])];
        assert_eq!(verdict(&called_in_time), Verdict::Linearizable);
    }

    #[test]
    fn long_valid_histories_are_decided() {
        let mut h = Vec::new();
        for i in 0..20_000u64 {
            h.push(append(
                i % 5,
                &format!("v{i}"),
                (3 * i, 3 * i + 4),
                Outcome::Ok,
                Some(i),
            ));
        }
        // A blow-up would answer Unknown at the deadline.
        let all: Vec<usize> = (0..h.len()).collect();
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        assert_eq!(check(&h, &all, Some(deadline)), Verdict::Linearizable);
    }
}
