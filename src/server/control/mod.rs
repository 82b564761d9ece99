//! The control plane: the controller process (`node`), which runs the
//! protocol core's `Controller` for every partition, and the messages it
//! exchanges with brokers (`wire`). It stands for the KRaft quorum: its
//! decisions are records in a durable metadata log (`records`,
//! `metadata_log`), so a restarted controller resumes them.

pub mod metadata_log;
pub mod node;
pub mod records;
pub mod serve;
pub mod wire;
