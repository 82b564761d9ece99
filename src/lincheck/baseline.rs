//! The same histories under stateright's `LinearizabilityTester`: an
//! oracle that shares nothing with `wgl` but the history. Its spec is the
//! log itself (values at offsets, not just the length), and its search is
//! stateright's own, without memoisation, so it suits small histories only.
//!
//! Info operations are invoked and never return: the tester may place them
//! anywhere after their call, or nowhere, which is what a crash means.

use super::history::{Op, Outcome};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};
use std::collections::BTreeMap;

/// Every partition's log, as values by offset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Logs(BTreeMap<String, Vec<String>>);

#[derive(Clone, Debug)]
pub enum LogOp {
    Append { partition: String, value: String },
    Poll { partition: String },
}

#[derive(Clone, Debug, PartialEq)]
pub enum LogRet {
    Offset(u64),
    Records(Vec<(u64, String)>),
    /// A definite error: the operation took no effect.
    Failed,
}

impl SequentialSpec for Logs {
    type Op = LogOp;
    type Ret = LogRet;

    fn invoke(&mut self, op: &LogOp) -> LogRet {
        match op {
            LogOp::Append { partition, value } => {
                let log = self.0.entry(partition.clone()).or_default();
                log.push(value.clone());
                LogRet::Offset(log.len() as u64 - 1)
            }
            // Only crashed polls are invoked without a return to check.
            LogOp::Poll { .. } => LogRet::Records(Vec::new()),
        }
    }

    fn is_valid_step(&mut self, op: &LogOp, ret: &LogRet) -> bool {
        match (op, ret) {
            (_, LogRet::Failed) => true,
            (LogOp::Append { partition, value }, LogRet::Offset(o)) => {
                let log = self.0.entry(partition.clone()).or_default();
                let fits = log.len() as u64 == *o;
                if fits {
                    log.push(value.clone());
                }
                fits
            }
            // No recency requirement: any records already in the log.
            (LogOp::Poll { partition }, LogRet::Records(records)) => {
                let log = self.0.get(partition);
                records
                    .iter()
                    .all(|(o, v)| log.and_then(|l| l.get(*o as usize)) == Some(v))
            }
            _ => false,
        }
    }
}

fn call(op: &Op) -> LogOp {
    match op {
        Op::Append {
            partition, value, ..
        } => LogOp::Append {
            partition: partition.clone(),
            value: value.clone(),
        },
        Op::Poll { partition, .. } => LogOp::Poll {
            partition: partition.clone(),
        },
    }
}

fn ret(op: &Op) -> Option<LogRet> {
    match op {
        Op::Append {
            outcome: Outcome::Ok,
            offset: Some(o),
            ..
        } => Some(LogRet::Offset(*o)),
        Op::Poll {
            outcome: Outcome::Ok,
            records,
            ..
        } => Some(LogRet::Records(records.clone())),
        Op::Append {
            outcome: Outcome::Info,
            ..
        }
        | Op::Poll {
            outcome: Outcome::Info,
            ..
        } => None,
        _ => Some(LogRet::Failed),
    }
}

/// stateright's verdict on the whole history (all partitions in one spec).
///
/// Operations that are always legal and change nothing (failures, crashed
/// polls, polls that returned nothing) are left out, as `wgl` leaves them
/// out: any order of the rest has room for them inside their intervals,
/// and the tester, with no memo, would try every place for each.
///
/// Each operation gets its own tester thread: the tester uses threads only
/// for program order, which real time already gives a sequential process,
/// and it refuses a second call on a thread whose first never returned.
pub fn linearizable(ops: &[Op]) -> bool {
    // (time, return after call at the same instant, op): closed intervals,
    // as in `wgl`.
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * ops.len());
    for (i, op) in ops.iter().enumerate() {
        if matches!(ret(op), Some(LogRet::Failed))
            || matches!(
                op,
                Op::Poll {
                    outcome: Outcome::Info,
                    ..
                }
            )
            || matches!(op, Op::Poll { records, .. } if records.is_empty())
        {
            continue;
        }
        let (invoke, complete) = op.times();
        events.push((invoke, false, i));
        if ret(op).is_some() {
            events.push((complete, true, i));
        }
    }
    events.sort_unstable();
    let mut tester = LinearizabilityTester::new(Logs::default());
    for (_, is_return, i) in events {
        let step = if is_return {
            tester.on_return(i, ret(&ops[i]).expect("only ops with a return"))
        } else {
            tester.on_invoke(i, call(&ops[i]))
        };
        step.expect("one call at a time per thread");
    }
    tester.is_consistent()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lincheck::generate::small_histories;
    use crate::lincheck::satisfies_log_spec;
    use crate::lincheck::wgl::Verdict;

    #[test]
    fn wgl_agrees_with_stateright_on_300_small_histories_with_crashes() {
        let (mut yes, mut no, mut by_search, mut with_info) = (0, 0, 0, 0);
        for (seed, ops) in small_histories(300).into_iter().enumerate() {
            let theirs = linearizable(&ops);
            let ours = satisfies_log_spec(&ops, None).expect("no deadline");
            assert_eq!(
                ours,
                theirs,
                "seed {seed}:\n{}",
                crate::lincheck::generate::to_jsonl(&ops)
            );
            if ours {
                yes += 1;
            } else {
                no += 1;
                let search = crate::lincheck::linearizability(&ops, None);
                if search.values().any(|v| v != &Verdict::Linearizable) {
                    by_search += 1;
                }
            }
            if ops.iter().any(|op| {
                matches!(
                    op,
                    Op::Append {
                        outcome: Outcome::Info,
                        ..
                    }
                )
            }) {
                with_info += 1;
            }
        }
        eprintln!(
            "{yes} linearizable, {no} not ({by_search} found by the search), {with_info} with a crash"
        );
        assert!(yes >= 60 && no >= 60, "{yes} linearizable, {no} not");
        assert!(
            by_search >= 40,
            "only {by_search} violations found by the search"
        );
        assert!(with_info >= 150, "only {with_info} histories with a crash");
    }

    #[test]
    fn a_crashed_append_may_land_or_not_but_not_before_its_call() {
        use crate::lincheck::wgl::tests::{append as append_by, poll as poll_by};
        let append = |value: &str, t, outcome, offset| append_by(0, value, t, outcome, offset);
        let poll = |t, records: &[(u64, &str)]| poll_by(1, t, records);
        let x = || append("x", (0, 1), Outcome::Info, None);
        let seen = poll((5, 6), &[(0, "x")]);
        assert!(linearizable(&[x(), seen.clone()]));
        assert!(linearizable(&[
            x(),
            append("a", (2, 3), Outcome::Ok, Some(0))
        ]));
        let early = poll((0, 1), &[(0, "x")]);
        let late_x = append("x", (2, 3), Outcome::Info, None);
        assert!(!linearizable(&[early, late_x]));
    }
}
