//! Checking histories the running cluster records (issue 4): the history
//! format (`history`), Jepsen's Kafka anomaly classes found by a linear
//! pass over it (`anomalies`), and a Wing–Gong–Lowe linearizability search
//! per partition (`wgl`).

pub mod anomalies;
pub mod baseline;
pub mod generate;
pub mod history;
pub mod html;
pub mod plots;
pub mod report;
pub mod wgl;

/// Every partition's linearizability verdict, by partition name.
pub fn linearizability(
    ops: &[history::Op],
    deadline: Option<std::time::Instant>,
) -> std::collections::BTreeMap<String, wgl::Verdict> {
    let mut by_partition: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, op) in ops.iter().enumerate() {
        by_partition.entry(op.partition()).or_default().push(i);
    }
    by_partition
        .into_iter()
        .map(|(p, indices)| {
            let v = wgl::check(ops, &indices, deadline);
            (p.to_string(), v)
        })
        .collect()
}

/// Whether the history satisfies the log spec itself, values and all (what
/// `baseline` asks stateright): the search checks lengths only, so the
/// anomalies that put the wrong value at an offset count too. Lost writes
/// and consumers' skips are not part of it: a poll has no recency or
/// session requirement. A value appended twice is taken as a duplicate,
/// as values are unique in Jepsen's workloads. `None` past the deadline.
pub fn satisfies_log_spec(
    ops: &[history::Op],
    deadline: Option<std::time::Instant>,
) -> Option<bool> {
    use anomalies::Kind;
    let wrong_value = anomalies::find(ops).iter().any(|a| {
        matches!(
            a.kind,
            Kind::InconsistentOffsets | Kind::Duplicate | Kind::AbortedRead | Kind::PhantomRead
        )
    });
    let mut answer = Some(!wrong_value);
    for v in linearizability(ops, deadline).values() {
        match v {
            wgl::Verdict::Linearizable => {}
            wgl::Verdict::NotLinearizable { .. } => return Some(false),
            wgl::Verdict::Unknown => answer = None,
        }
    }
    answer
}
