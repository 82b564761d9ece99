//! The broker that serves real Kafka clients (issue 3), on the model's
//! protocol core. Sans IO: framing (`frame`), dispatch and version
//! negotiation (`api`), one file per Kafka API (`metadata`, `produce`,
//! `fetch`, `offsets`, `topics`), checked record batches as the core's
//! `Record` (`batch`), partitions on the core's `Replica` (`partition`) and
//! the broker state (`broker`). With tokio: the listener (`conn`) and
//! `insync cluster` (`run`).

pub mod api;
pub mod batch;
pub mod broker;
pub mod conn;
pub mod control;
pub mod fetch;
pub mod frame;
pub mod metadata;
pub mod offsets;
pub mod partition;
pub mod produce;
pub mod replication;
pub mod run;
pub mod runtime;
pub mod storage;
pub mod topics;
pub mod trace;
