//! The broker that serves real Kafka clients (issue 3), on the model's
//! protocol core and the wire format (`crate::wire`).
//!
//! Sans IO, handed `now`: the broker state (`broker`) and its partitions
//! on the core's `Replica` (`partition`, `storage`, `trace`), what topics
//! may be (`topic_settings`), the cluster view (`metadata`) and follower
//! replication's wire mapping (`replication`), and fetch answers whose
//! records are read from the log as the response is written (`late_records`).
//!
//! With tokio, on top: the lock and the routing of the broker's outputs
//! (`shared`), dispatch and version negotiation (`api`) with one file per
//! Kafka API (`produce`, `fetch`, `offsets`, `topics`, `elections`), consumer groups
//! (`group`: a sans-IO coordinator, offsets in `__consumer_offsets`), the listener
//! (`conn`), the follower fetcher, controller link and timers (`runtime`),
//! the controller process (`control`) and serving until Ctrl-C (`run`),
//! which SIGTERM turns into a controlled shutdown (`clean_shutdown` keeps
//! its marker).

pub mod api;
pub mod broker;
pub mod clean_shutdown;
pub mod conn;
pub mod control;
pub mod elections;
pub mod fetch;
pub mod group;
pub mod late_records;
pub mod metadata;
pub mod offsets;
pub mod partition;
pub mod produce;
pub mod replication;
pub mod run;
pub mod runtime;
pub mod shared;
pub mod storage;
pub mod topic_settings;
pub mod topics;
pub mod trace;
