//! Checking histories the running cluster records (issue 4): the history
//! format (`history`), Jepsen's Kafka anomaly classes found by a linear
//! pass over it (`anomalies`), and a Wing–Gong–Lowe linearizability search
//! per partition (`wgl`).

pub mod anomalies;
pub mod history;
pub mod html;
pub mod report;
pub mod wgl;

/// Every partition's linearizability verdict, by partition name.
pub fn linearizability(
    ops: &[history::Op],
    deadline: Option<std::time::Instant>,
) -> std::collections::BTreeMap<String, wgl::Verdict> {
    let mut by_partition: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (i, op) in ops.iter().enumerate() {
        by_partition
            .entry(op.partition().to_string())
            .or_default()
            .push(i);
    }
    by_partition
        .into_iter()
        .map(|(p, indices)| {
            let v = wgl::check(ops, &indices, deadline);
            (p, v)
        })
        .collect()
}
