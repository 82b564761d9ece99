//! The broker that serves real Kafka clients (issue 3), built slice by
//! slice on the model's protocol core. So far: framing, version negotiation
//! (ApiVersions), Metadata from a cluster view, FindCoordinator's stub and
//! checked record batches (the server's `Record`), sans IO, and the tokio
//! listener that runs connections through them.

pub mod api;
pub mod batch;
pub mod broker;
pub mod conn;
pub mod fetch;
pub mod frame;
pub mod metadata;
pub mod offsets;
pub mod partition;
pub mod produce;
pub mod run;
pub mod topics;
