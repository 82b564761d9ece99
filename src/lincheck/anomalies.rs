//! Jepsen's Kafka anomaly classes, found by one linear pass over a
//! history, per partition:
//!
//! - `inconsistent-offsets`: one offset holds two values (acks and polls
//!   disagree, or two polls do);
//! - `duplicate`: one value sits at two offsets;
//! - `lost-write`: an ok append at an offset at or below the highest offset
//!   any poll returned, whose value no poll ever returned;
//! - `aborted-read`: a poll returned a value whose every append definitely
//!   failed;
//! - `phantom-read`: a poll returned a value nobody appended;
//! - `poll-skip` and `nonmonotonic-poll`: one process's consecutive polls
//!   (and the records within one poll) move by more than one offset, or
//!   not forward; `"seek": true` on a poll restarts the check.

use super::history::{Op, Outcome};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    InconsistentOffsets,
    Duplicate,
    LostWrite,
    AbortedRead,
    PhantomRead,
    PollSkip,
    NonmonotonicPoll,
}

/// One anomaly, with the operations (by position in the history, from 0)
/// that show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    pub kind: Kind,
    pub partition: String,
    pub offset: Option<u64>,
    pub value: Option<String>,
    pub ops: Vec<usize>,
    pub detail: String,
}

/// Every anomaly in `ops`, ordered by partition, kind and offset.
pub fn find(ops: &[Op]) -> Vec<Anomaly> {
    let mut by_partition: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        by_partition.entry(op.partition()).or_default().push(i);
    }
    let mut out = Vec::new();
    for (partition, indices) in by_partition {
        partition_anomalies(partition, ops, &indices, &mut out);
    }
    out.sort_by(|a, b| (&a.partition, a.kind, a.offset).cmp(&(&b.partition, b.kind, b.offset)));
    out
}

fn anomaly(
    kind: Kind,
    partition: &str,
    offset: Option<u64>,
    value: Option<&str>,
    ops: Vec<usize>,
    detail: String,
) -> Anomaly {
    Anomaly {
        kind,
        partition: partition.to_string(),
        offset,
        value: value.map(str::to_string),
        ops,
        detail,
    }
}

/// What one pass learns about a value.
#[derive(Clone, Copy)]
struct Value {
    sends: u32,
    failed: u32,
    read: bool,
    /// The first offset it was seen at, and whether it was seen at another.
    offset: u64,
    moved: bool,
}

// Values are interned to integers so that grouping by offset is one sort
// of integer triples instead of maps of maps keyed by strings.
fn partition_anomalies(partition: &str, ops: &[Op], indices: &[usize], out: &mut Vec<Anomaly>) {
    let mut ids: HashMap<&str, u32, ahash::RandomState> = HashMap::default();
    let mut names: Vec<&str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    // (offset, value, op) for every ack and every record a poll returned
    let mut seen: Vec<(u64, u32, u32)> = Vec::new();
    let mut highest_read: Option<u64> = None;
    let mut acked: Vec<(usize, u32, u64)> = Vec::new();
    // process -> (last offset polled, the poll)
    let mut position: HashMap<u64, (u64, usize), ahash::RandomState> = HashMap::default();
    macro_rules! id {
        ($v:expr) => {{
            let v: &str = $v;
            *ids.entry(v).or_insert_with(|| {
                names.push(v);
                values.push(Value {
                    sends: 0,
                    failed: 0,
                    read: false,
                    offset: u64::MAX,
                    moved: false,
                });
                names.len() as u32 - 1
            })
        }};
    }
    let sighted =
        |values: &mut Vec<Value>, seen: &mut Vec<(u64, u32, u32)>, o: u64, v: u32, i: usize| {
            let x = &mut values[v as usize];
            if x.offset == u64::MAX {
                x.offset = o;
            } else if x.offset != o {
                x.moved = true;
            }
            seen.push((o, v, i as u32));
        };

    for &i in indices {
        match &ops[i] {
            Op::Append {
                value,
                outcome,
                offset,
                ..
            } => {
                let v = id!(value);
                values[v as usize].sends += 1;
                values[v as usize].failed += u32::from(*outcome == Outcome::Fail);
                if let (Outcome::Ok, Some(o)) = (outcome, offset) {
                    sighted(&mut values, &mut seen, *o, v, i);
                    acked.push((i, v, *o));
                }
            }
            Op::Poll {
                process,
                outcome: Outcome::Ok,
                records,
                seek,
                ..
            } => {
                // One lookup per poll: the position lives in `at` meanwhile.
                let mut at = if *seek {
                    None
                } else {
                    position.get(process).copied()
                };
                for (o, value) in records {
                    let v = id!(value);
                    values[v as usize].read = true;
                    sighted(&mut values, &mut seen, *o, v, i);
                    highest_read = highest_read.max(Some(*o));
                    if let Some((last, by)) = at {
                        let (kind, what) = if *o > last + 1 {
                            (Kind::PollSkip, "skipped")
                        } else if *o <= last {
                            (Kind::NonmonotonicPoll, "went back")
                        } else {
                            at = Some((*o, i));
                            continue;
                        };
                        out.push(anomaly(
                            kind,
                            partition,
                            Some(*o),
                            Some(value),
                            if by == i { vec![i] } else { vec![by, i] },
                            format!("process {process} {what} from offset {last} to {o}"),
                        ));
                    }
                    at = Some((*o, i));
                }
                match at {
                    Some(at) => {
                        position.insert(*process, at);
                    }
                    None => {
                        position.remove(process);
                    }
                }
            }
            Op::Poll { .. } => {}
        }
    }

    seen.sort_unstable();
    let sorted_ops = |group: &mut dyn Iterator<Item = u32>| -> Vec<usize> {
        let mut ops: Vec<usize> = group.map(|i| i as usize).collect();
        ops.sort_unstable();
        ops.dedup();
        ops
    };
    for group in seen.chunk_by(|a, b| a.0 == b.0) {
        if group[0].1 != group[group.len() - 1].1 {
            let o = group[0].0;
            let mut shown: Vec<&str> = group.iter().map(|g| names[g.1 as usize]).collect();
            shown.sort_unstable();
            shown.dedup();
            out.push(anomaly(
                Kind::InconsistentOffsets,
                partition,
                Some(o),
                None,
                sorted_ops(&mut group.iter().map(|g| g.2)),
                format!("offset {o} holds {shown:?}"),
            ));
        }
    }
    for (v, x) in values.iter().enumerate() {
        if !x.moved {
            continue;
        }
        let name = names[v];
        let mine: Vec<&(u64, u32, u32)> = seen.iter().filter(|g| g.1 == v as u32).collect();
        let mut list: Vec<u64> = mine.iter().map(|g| g.0).collect();
        list.dedup();
        out.push(anomaly(
            Kind::Duplicate,
            partition,
            list.first().copied(),
            Some(name),
            sorted_ops(&mut mine.iter().map(|g| g.2)),
            format!("{name:?} sits at offsets {list:?}"),
        ));
    }
    for (i, v, o) in acked {
        let value = names[v as usize];
        if highest_read.is_some_and(|h| o <= h) && !values[v as usize].read {
            out.push(anomaly(
                Kind::LostWrite,
                partition,
                Some(o),
                Some(value),
                vec![i],
                format!(
                    "{value:?} was acknowledged at offset {o}; polls reached offset {} and never returned it",
                    highest_read.unwrap_or(0)
                ),
            ));
        }
    }
    for (v, x) in values.iter().enumerate() {
        if !x.read || (x.sends > 0 && x.failed < x.sends) {
            continue;
        }
        let name = names[v];
        // Rare: gather the operations by another pass.
        let mut readers = Vec::new();
        let mut attempts = Vec::new();
        for &i in indices {
            match &ops[i] {
                Op::Append { value, .. } if value == name => attempts.push(i),
                Op::Poll {
                    outcome: Outcome::Ok,
                    records,
                    ..
                } => readers.extend(records.iter().filter(|(_, r)| r == name).map(|_| i)),
                _ => {}
            }
        }
        if x.sends == 0 {
            out.push(anomaly(
                Kind::PhantomRead,
                partition,
                None,
                Some(name),
                readers,
                format!("{name:?} was read but never appended"),
            ));
        } else {
            attempts.extend(readers);
            attempts.sort_unstable();
            attempts.dedup();
            out.push(anomaly(
                Kind::AbortedRead,
                partition,
                None,
                Some(name),
                attempts,
                format!("{name:?} was read, but every append of it failed"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(process: u64, value: &str, t: u64, outcome: Outcome, offset: Option<u64>) -> Op {
        Op::Append {
            process,
            partition: "t-0".into(),
            value: value.into(),
            invoke_ns: t,
            complete_ns: t + 1,
            outcome,
            offset,
        }
    }

    fn ok(process: u64, value: &str, t: u64, offset: u64) -> Op {
        append(process, value, t, Outcome::Ok, Some(offset))
    }

    fn poll(process: u64, t: u64, records: &[(u64, &str)]) -> Op {
        Op::Poll {
            process,
            partition: "t-0".into(),
            invoke_ns: t,
            complete_ns: t + 1,
            outcome: Outcome::Ok,
            records: records.iter().map(|(o, v)| (*o, v.to_string())).collect(),
            seek: false,
        }
    }

    fn kinds(ops: &[Op]) -> Vec<Kind> {
        find(ops).into_iter().map(|a| a.kind).collect()
    }

    #[test]
    fn a_clean_history_has_no_anomaly() {
        let h = vec![
            ok(0, "a", 0, 0),
            ok(1, "b", 2, 1),
            append(0, "c", 4, Outcome::Info, None),
            append(1, "d", 6, Outcome::Fail, None),
            poll(2, 8, &[(0, "a"), (1, "b")]),
            poll(2, 10, &[(2, "c")]),
        ];
        assert_eq!(kinds(&h), vec![]);
    }

    #[test]
    fn each_anomaly_is_flagged_with_its_operations() {
        let lost = vec![ok(0, "a", 0, 0), ok(0, "b", 2, 1), poll(1, 4, &[(1, "b")])];
        let found = find(&lost);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].kind, found[0].offset, found[0].ops.clone()),
            (Kind::LostWrite, Some(0), vec![0])
        );

        let not_yet_read = vec![ok(0, "a", 0, 0), ok(0, "b", 2, 1), poll(1, 4, &[(0, "a")])];
        assert_eq!(
            kinds(&not_yet_read),
            vec![],
            "b is above every offset read: unseen, not lost"
        );

        let inconsistent = vec![
            ok(0, "a", 0, 0),
            poll(1, 2, &[(0, "x")]),
            append(2, "x", 3, Outcome::Info, None),
        ];
        assert_eq!(
            kinds(&inconsistent),
            vec![Kind::InconsistentOffsets, Kind::LostWrite]
        );

        let duplicate = vec![
            ok(0, "a", 0, 0),
            ok(0, "a", 2, 1),
            poll(1, 4, &[(0, "a"), (1, "a")]),
        ];
        assert_eq!(kinds(&duplicate), vec![Kind::Duplicate]);

        let aborted = vec![
            append(0, "a", 0, Outcome::Fail, None),
            poll(1, 2, &[(0, "a")]),
        ];
        assert_eq!(kinds(&aborted), vec![Kind::AbortedRead]);

        let phantom = vec![poll(1, 2, &[(0, "zz")])];
        assert_eq!(kinds(&phantom), vec![Kind::PhantomRead]);

        let values = [(0, "a"), (1, "b"), (2, "c"), (3, "d")];
        let mut h: Vec<Op> = values.iter().map(|(o, v)| ok(0, v, *o * 2, *o)).collect();
        h.push(poll(1, 10, &[(0, "a")]));
        h.push(poll(1, 12, &[(2, "c")]));
        h.push(poll(1, 14, &[(1, "b"), (3, "d")]));
        assert_eq!(
            kinds(&h),
            vec![Kind::PollSkip, Kind::PollSkip, Kind::NonmonotonicPoll],
            "0 → 2 skips, 2 → 1 goes back, 1 → 3 skips within one poll"
        );
        let mut seeking = h.clone();
        if let Op::Poll { seek, .. } = &mut seeking[6] {
            *seek = true;
        }
        assert_eq!(
            kinds(&seeking),
            vec![Kind::PollSkip, Kind::PollSkip],
            "a seek restarts the check"
        );
    }

    #[test]
    fn partitions_are_checked_apart() {
        let mut other = ok(0, "a", 0, 0);
        if let Op::Append { partition, .. } = &mut other {
            *partition = "t-1".into();
        }
        let h = vec![ok(0, "a", 0, 0), other, poll(1, 2, &[(0, "a")])];
        let found = find(&h);
        assert_eq!(
            found.len(),
            0,
            "the same value and offset in two partitions is no duplicate: {found:?}"
        );
    }
}
