//! Seeded random histories, for the differential test against stateright
//! and for `insync bench-lincheck`.
//!
//! K clients share one log (one or more partitions) over simulated time.
//! Each operation takes effect at one instant inside its interval, so the
//! history is linearizable by construction; failed appends take no effect,
//! and crashed ones (`info`) take effect or not, possibly after the client
//! gave up, and their process is replaced by a new id, as in Jepsen.
//! `violate` and `mutate` then break (or merely perturb) such a history.

use super::history::{Op, Outcome};
use std::collections::HashMap;

pub use crate::rng::Rng;

#[derive(Clone, Debug)]
pub struct Params {
    pub seed: u64,
    pub ops: usize,
    pub clients: usize,
    pub partitions: usize,
    /// Shares of all operations, in percent.
    pub poll_pct: u32,
    pub fail_pct: u32,
    pub info_pct: u32,
    /// End with one poll per partition reading the whole log, as Jepsen's
    /// final reads do, so no acked write goes unread (no `lost-write`).
    /// It also makes every crashed append that landed a seen one.
    pub final_read: bool,
}

impl Params {
    pub fn new(seed: u64, ops: usize, clients: usize) -> Params {
        Params {
            seed,
            ops,
            clients,
            partitions: 1,
            poll_pct: 40,
            fail_pct: 3,
            info_pct: 3,
            final_read: true,
        }
    }
}

/// A history, and where each info append really landed (`None` for the
/// other operations and for crashes that took no effect).
pub struct Generated {
    pub ops: Vec<Op>,
    pub landed: Vec<Option<u64>>,
}

enum Plan {
    Append,
    Poll { seek: bool, back: u64, max: u64 },
}

pub fn generate(p: &Params) -> Generated {
    let mut rng = Rng::new(p.seed);
    let clients = p.clients.max(1);
    let partitions = p.partitions.max(1);
    let mut free_at: Vec<u64> = (0..clients).map(|_| rng.below(100)).collect();
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut plans = Vec::with_capacity(p.ops);
    let mut ops = Vec::with_capacity(p.ops);
    let mut effects: Vec<(u64, usize)> = Vec::with_capacity(p.ops);
    let finals = if p.final_read { partitions } else { 0 };
    for i in 0..p.ops.saturating_sub(finals) {
        let c = (0..clients).min_by_key(|&c| free_at[c]).unwrap_or(0);
        let invoke = free_at[c] + rng.below(50);
        let complete = invoke + 1 + rng.below(200);
        // The next call starts strictly later: closed intervals that touch overlap.
        free_at[c] = complete + 1;
        let partition = format!("t-{}", rng.below(partitions as u64));
        let roll = rng.below(100) as u32;
        let outcome = if roll < p.fail_pct {
            Outcome::Fail
        } else if roll < p.fail_pct + p.info_pct {
            Outcome::Info
        } else {
            Outcome::Ok
        };
        let poll = rng.percent(p.poll_pct);
        let effect = match outcome {
            Outcome::Ok => Some(invoke + rng.below(complete - invoke + 1)),
            // A crashed append may still land, even after its client gave up.
            Outcome::Info if !poll && rng.percent(50) => {
                Some(invoke + rng.below(2 * (complete - invoke) + 1))
            }
            _ => None,
        };
        if let Some(t) = effect {
            effects.push((t, i));
        }
        let pid = process[c];
        if outcome == Outcome::Info {
            process[c] += clients as u64;
        }
        if poll {
            plans.push(Plan::Poll {
                seek: rng.percent(25),
                back: rng.below(8),
                max: 1 + rng.below(6),
            });
            ops.push(Op::Poll {
                process: pid,
                partition,
                invoke_ns: invoke,
                complete_ns: complete,
                outcome,
                records: Vec::new(),
                seek: false,
            });
        } else {
            plans.push(Plan::Append);
            ops.push(Op::Append {
                process: pid,
                partition,
                value: format!("v{i}"),
                invoke_ns: invoke,
                complete_ns: complete,
                outcome,
                offset: None,
            });
        }
    }
    effects.sort_unstable();
    let mut landed = vec![None; ops.len()];
    let mut logs: HashMap<String, Vec<String>> = HashMap::new();
    // Each consumer's last offset read, by (process, partition).
    let mut last: HashMap<(u64, String), u64> = HashMap::new();
    for &(_, i) in &effects {
        let plan = &plans[i];
        match (&mut ops[i], plan) {
            (
                Op::Append {
                    partition,
                    value,
                    outcome,
                    offset,
                    ..
                },
                Plan::Append,
            ) => {
                let log = logs.entry(partition.clone()).or_default();
                let o = log.len() as u64;
                log.push(value.clone());
                if *outcome == Outcome::Ok {
                    *offset = Some(o);
                } else {
                    landed[i] = Some(o);
                }
            }
            (
                Op::Poll {
                    process,
                    partition,
                    records,
                    seek,
                    ..
                },
                Plan::Poll {
                    seek: jump,
                    back,
                    max,
                },
            ) => {
                let empty = Vec::new();
                let log = logs.get(partition.as_str()).unwrap_or(&empty);
                let len = log.len() as u64;
                let key = (*process, partition.clone());
                if *jump {
                    last.remove(&key);
                    *seek = true;
                }
                let from = match last.get(&key) {
                    Some(o) => o + 1,
                    None => len.saturating_sub(*back),
                };
                for o in from..len.min(from + max) {
                    records.push((o, log[o as usize].clone()));
                }
                if let Some((o, _)) = records.last() {
                    last.insert(key, *o);
                }
            }
            _ => unreachable!("plans follow the operations"),
        }
    }
    if finals > 0 {
        let end = ops.iter().map(|op| op.times().1).max().unwrap_or(0);
        let end = effects.last().map_or(end, |(t, _)| end.max(*t)) + 1;
        let first = process.iter().max().unwrap_or(&0) + 1;
        for k in 0..partitions {
            let partition = format!("t-{k}");
            let records = logs.get(&partition).map_or_else(Vec::new, |log| {
                log.iter()
                    .cloned()
                    .enumerate()
                    .map(|(o, v)| (o as u64, v))
                    .collect()
            });
            ops.push(Op::Poll {
                process: first + k as u64,
                partition,
                invoke_ns: end,
                complete_ns: end + 1,
                outcome: Outcome::Ok,
                records,
                seek: false,
            });
            landed.push(None);
        }
    }
    Generated { ops, landed }
}

/// Ok appends of `partition`, by offset: (offset, position in `ops`).
fn acked(ops: &[Op], partition: &str) -> Vec<(u64, usize)> {
    let mut out: Vec<(u64, usize)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match op {
            Op::Append {
                partition: p,
                outcome: Outcome::Ok,
                offset: Some(o),
                ..
            } if p == partition => Some((*o, i)),
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out
}

/// Exchanges the offsets of appends `a` and `b`, in their acks and in
/// every poll, so each offset still holds one value and each value one
/// offset: only the order of the log changes.
fn swap_offsets(ops: &mut [Op], a: usize, b: usize) {
    let (
        Op::Append {
            partition,
            value: va,
            offset: Some(oa),
            ..
        },
        Op::Append {
            value: vb,
            offset: Some(ob),
            ..
        },
    ) = (&ops[a], &ops[b])
    else {
        return;
    };
    let (partition, va, vb, oa, ob) = (partition.clone(), va.clone(), vb.clone(), *oa, *ob);
    for op in ops.iter_mut() {
        match op {
            Op::Append {
                value, offset: o, ..
            } if *value == va => *o = Some(ob),
            Op::Append {
                value, offset: o, ..
            } if *value == vb => *o = Some(oa),
            Op::Poll {
                partition: p,
                records,
                ..
            } if *p == partition => {
                for (o, v) in records.iter_mut() {
                    if *o == oa {
                        *v = vb.clone();
                    } else if *o == ob {
                        *v = va.clone();
                    }
                }
            }
            _ => {}
        }
    }
}

/// Breaks a valid history late on, keeping its size: an append `a` acked
/// before `b` was called swaps offsets with it, so the log's order goes
/// against real time. No anomaly class sees this; only the search does.
/// False when no such pair exists.
pub fn violate(ops: &mut [Op]) -> bool {
    let Some(partition) = ops.first().map(|op| op.partition().to_string()) else {
        return false;
    };
    let acked = acked(ops, &partition);
    for k in acked.len() * 9 / 10..acked.len() {
        let a = acked[k].1;
        let done = Op::times(&ops[a]).1;
        if let Some(&(_, b)) = acked[k + 1..]
            .iter()
            .find(|(_, b)| Op::times(&ops[*b]).0 > done)
        {
            swap_offsets(ops, a, b);
            return true;
        }
    }
    false
}

/// One or two random edits of a valid history, which may or may not leave
/// it linearizable: swapped offsets, a poll shown a record (perhaps from
/// its future, perhaps a crashed append's, perhaps a wrong value), an
/// operation moved in time, an ack turned into a failure or a crash.
pub fn mutate(g: &Generated, rng: &mut Rng) -> Vec<Op> {
    let mut ops = g.ops.clone();
    // Appends whose offset is known (acked, or crashed but landed).
    let placed: Vec<(usize, u64)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match op {
            Op::Append {
                offset: Some(o), ..
            } => Some((i, *o)),
            _ => g.landed[i].map(|o| (i, o)),
        })
        .collect();
    let polls: Vec<usize> = (0..ops.len())
        .filter(|&i| {
            matches!(
                ops[i],
                Op::Poll {
                    outcome: Outcome::Ok,
                    ..
                }
            )
        })
        .collect();
    let pick = |rng: &mut Rng, v: &[usize]| v.get(rng.below(v.len() as u64) as usize).copied();
    let acked: Vec<usize> = placed
        .iter()
        .map(|(i, _)| *i)
        .filter(|&i| {
            matches!(
                ops[i],
                Op::Append {
                    offset: Some(_),
                    ..
                }
            )
        })
        .collect();
    for _ in 0..1 + rng.below(2) {
        match rng.below(4) {
            0 => {
                if let (Some(a), Some(b)) = (pick(rng, &acked), pick(rng, &acked))
                    && ops[a].partition() == ops[b].partition()
                {
                    swap_offsets(&mut ops, a, b);
                }
            }
            1 => {
                let Some(&(j, o)) = placed.get(rng.below(placed.len() as u64) as usize) else {
                    continue;
                };
                let Some(i) = pick(rng, &polls) else { continue };
                let wrong = rng.percent(15);
                let same = ops[i].partition() == ops[j].partition();
                if let (Op::Append { value, .. }, Op::Poll { records, .. }, true) =
                    (g.ops[j].clone(), &mut ops[i], same)
                {
                    let v = if wrong {
                        format!("v{}", g.ops.len())
                    } else {
                        value
                    };
                    *records = vec![(o, v)];
                }
            }
            2 => {
                let i = rng.below(ops.len() as u64) as usize;
                let shift = rng.below(600);
                let (Op::Append {
                    invoke_ns,
                    complete_ns,
                    ..
                }
                | Op::Poll {
                    invoke_ns,
                    complete_ns,
                    ..
                }) = &mut ops[i];
                let d = *complete_ns - *invoke_ns;
                *invoke_ns = (*invoke_ns + shift).saturating_sub(300);
                *complete_ns = *invoke_ns + d;
            }
            _ => {
                if let Some(i) = pick(rng, &acked)
                    && let Op::Append {
                        outcome, offset, ..
                    } = &mut ops[i]
                {
                    *outcome = if rng.percent(50) {
                        Outcome::Fail
                    } else {
                        Outcome::Info
                    };
                    *offset = None;
                }
            }
        }
    }
    ops
}

/// The differential test's histories: 24 operations, 3 to 5 clients,
/// crashes and failures, most of them edited so some are violations.
pub fn small_histories(count: u64) -> Vec<Vec<Op>> {
    let mut rng = Rng::new(42);
    (0..count)
        .map(|seed| {
            let mut p = Params::new(seed, 24, 3 + (seed % 3) as usize);
            p.partitions = if seed % 4 == 0 { 2 } else { 1 };
            p.fail_pct = 8;
            p.info_pct = 15;
            p.final_read = false;
            let g = generate(&p);
            if rng.percent(80) {
                mutate(&g, &mut rng)
            } else {
                g.ops
            }
        })
        .collect()
}

/// The history as `history.jsonl` text, for the CLI.
pub fn to_jsonl(ops: &[Op]) -> String {
    let mut out = String::with_capacity(ops.len() * 120);
    for op in ops {
        out.push_str(&serde_json::to_string(op).expect("an Op always serializes"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lincheck::{anomalies, history, linearizability, wgl::Verdict};

    #[test]
    fn generated_histories_are_clean_and_round_trip() {
        let mut p = Params::new(7, 3_000, 6);
        p.partitions = 2;
        p.info_pct = 10;
        let g = generate(&p);
        assert_eq!(g.ops.len(), 3_000);
        assert_eq!(anomalies::find(&g.ops), vec![]);
        let v = linearizability(&g.ops, None);
        assert_eq!(v.len(), 2);
        assert!(v.values().all(|v| *v == Verdict::Linearizable), "{v:?}");
        let seen = |f: fn(&Op) -> bool| g.ops.iter().filter(|op| f(op)).count();
        assert!(seen(|op| matches!(op, Op::Poll { records, .. } if records.len() > 1)) > 100);
        assert!(
            seen(|op| matches!(
                op,
                Op::Append {
                    outcome: Outcome::Info,
                    ..
                }
            )) > 50
        );
        assert!(g.landed.iter().flatten().count() > 20);
        assert_eq!(history::parse(&to_jsonl(&g.ops)).unwrap(), g.ops);
    }

    #[test]
    fn a_violated_history_keeps_its_size_and_fails_the_search_only() {
        let g = generate(&Params::new(3, 2_000, 10));
        let mut ops = g.ops.clone();
        assert!(violate(&mut ops));
        assert_eq!(ops.len(), g.ops.len());
        assert_ne!(ops, g.ops);
        assert_eq!(anomalies::find(&ops), vec![]);
        let v = linearizability(&ops, None);
        assert!(matches!(v["t-0"], Verdict::NotLinearizable { .. }), "{v:?}");
    }
}
