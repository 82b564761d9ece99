//! Checking histories the running cluster records (issue 4): the history
//! format (`history`) and Jepsen's Kafka anomaly classes found by a linear
//! pass over it (`anomalies`). The Wing–Gong–Lowe linearizability search
//! and the HTML report build on these.

pub mod anomalies;
pub mod history;
