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
//!   saw its value at `o`, it behaves as an ok append at `o`.
//! - An ok poll is legal when the log already holds every offset it
//!   returned (polls carry no recency requirement, as in Jepsen's and
//!   Maelstrom's Kafka workloads).
//!
//! Configurations already explored are remembered as (128-bit hash of the
//! linearized set, length); the hash is updated in O(1) per step. Two sets
//! colliding would skip a configuration: with random 128-bit keys that is
//! vanishingly unlikely, and it keeps memory at 24 bytes a configuration.

use super::history::{Op, Outcome};
use std::collections::{HashMap, HashSet};
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
    /// Appends or not, at any time (an unobserved info append).
    MaybeAppend,
    /// Needs the log to hold this many records.
    Sees(u64),
}

struct Event {
    op: usize,
    call: bool,
    time: u64,
}

/// Checks the operations of one partition (`indices` into `ops`).
pub fn check(ops: &[Op], indices: &[usize], deadline: Option<Instant>) -> Verdict {
    // Where polls saw each value: an info append seen at o acts as ok at o.
    let mut seen_at: HashMap<&str, u64> = HashMap::new();
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
    let mut events: Vec<Event> = Vec::new();
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
                None => (Step::MaybeAppend, *invoke_ns, u64::MAX),
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
        let k = steps.len();
        steps.push((i, step));
        events.push(Event {
            op: k,
            call: true,
            time: invoke,
        });
        events.push(Event {
            op: k,
            call: false,
            time: complete,
        });
    }
    // Calls before returns at the same instant: closed intervals overlap.
    events.sort_by_key(|e| (e.time, !e.call));
    search(&steps, &events, deadline)
}

fn search(steps: &[(usize, Step)], events: &[Event], deadline: Option<Instant>) -> Verdict {
    let n = events.len();
    const NIL: usize = usize::MAX;
    // A doubly linked list over events; index n is the head sentinel.
    let mut next: Vec<usize> = (1..=n).map(|i| if i == n { NIL } else { i }).collect();
    next.push(if n == 0 { NIL } else { 0 });
    let mut prev: Vec<usize> = (0..n).map(|i| if i == 0 { n } else { i - 1 }).collect();
    prev.push(NIL);
    let mut call_of = vec![0; steps.len()];
    let mut ret_of = vec![0; steps.len()];
    for (e, ev) in events.iter().enumerate() {
        if ev.call {
            call_of[ev.op] = e;
        } else {
            ret_of[ev.op] = e;
        }
    }
    let unlink = |e: usize, next: &mut Vec<usize>, prev: &mut Vec<usize>| {
        let (p, q) = (prev[e], next[e]);
        next[p] = q;
        if q != NIL {
            prev[q] = p;
        }
    };
    let relink = |e: usize, next: &mut Vec<usize>, prev: &mut Vec<usize>| {
        let (p, q) = (prev[e], next[e]);
        next[p] = e;
        if q != NIL {
            prev[q] = e;
        }
    };
    // Fixed pseudo-random keys, one per operation.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut key = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let keys: Vec<(u64, u64)> = steps.iter().map(|_| (key(), key())).collect();

    let successors = |len: u64, step: Step| -> [Option<u64>; 2] {
        match step {
            Step::AppendAt(o) if o == len => [Some(len + 1), None],
            Step::AppendAt(_) => [None, None],
            Step::MaybeAppend => [Some(len + 1), Some(len)],
            Step::Sees(need) if len >= need => [Some(len), None],
            Step::Sees(_) => [None, None],
        }
    };

    let mut len = 0u64;
    let mut hash = (0u64, 0u64);
    let mut seen: HashSet<((u64, u64), u64)> = HashSet::new();
    // (op, the successor taken, length and hash before)
    let mut stack: Vec<(usize, usize, u64, (u64, u64))> = Vec::new();
    let mut entry = next[n];
    let mut budget = 0u32;
    // Tries op's successors from `from` on; lifts it on the first new one.
    macro_rules! try_lift {
        ($op:expr, $from:expr) => {{
            let op = $op;
            let mut lifted = false;
            for (alt, s) in successors(len, steps[op].1)
                .into_iter()
                .enumerate()
                .skip($from)
            {
                let Some(s) = s else { continue };
                let h = (hash.0 ^ keys[op].0, hash.1 ^ keys[op].1);
                if seen.insert((h, s)) {
                    stack.push((op, alt, len, hash));
                    len = s;
                    hash = h;
                    unlink(call_of[op], &mut next, &mut prev);
                    unlink(ret_of[op], &mut next, &mut prev);
                    lifted = true;
                    break;
                }
            }
            lifted
        }};
    }
    loop {
        budget += 1;
        if budget.is_multiple_of(4096) && deadline.is_some_and(|d| Instant::now() >= d) {
            return Verdict::Unknown;
        }
        if entry == NIL || events[entry].time == u64::MAX && !events[entry].call {
            // Only the returns of info appends are left: they may never
            // have taken effect.
            return Verdict::Linearizable;
        }
        let ev = &events[entry];
        if ev.call {
            if try_lift!(ev.op, 0) {
                entry = next[n];
            } else {
                entry = next[entry];
            }
            continue;
        }
        // A return whose operation could not be placed: undo the last step.
        let stuck = ev.op;
        loop {
            let Some((op, alt, l, h)) = stack.pop() else {
                return Verdict::NotLinearizable { op: steps[stuck].0 };
            };
            relink(ret_of[op], &mut next, &mut prev);
            relink(call_of[op], &mut next, &mut prev);
            len = l;
            hash = h;
            if try_lift!(op, alt + 1) {
                entry = next[n];
                break;
            }
            entry = next[call_of[op]];
            if entry != NIL {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(
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

    fn poll(process: u64, t: (u64, u64), records: &[(u64, &str)]) -> Op {
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
