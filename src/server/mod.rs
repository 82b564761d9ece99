//! The broker that serves real Kafka clients (issue 3), on the model's
//! protocol core and the wire format (`crate::wire`). Dispatch and version
//! negotiation (`api`), one file per Kafka API (`metadata`, `produce`,
//! `fetch`, `offsets`, `topics`), what topics may be (`topic_settings`),
//! partitions on the core's `Replica` carrying out its effects
//! (`partition`, `storage`, `trace`: no tokio, handed `now`). With tokio:
//! the broker state routing answers to waiting requests (`broker`), the
//! listener (`conn`), the follower fetcher and controller link
//! (`runtime`), the controller process (`control`) and `insync cluster`
//! (`run`).

pub mod api;
pub mod broker;
pub mod conn;
pub mod control;
pub mod fetch;
pub mod metadata;
pub mod offsets;
pub mod partition;
pub mod produce;
pub mod replication;
pub mod run;
pub mod runtime;
pub mod storage;
pub mod topic_settings;
pub mod topics;
pub mod trace;
