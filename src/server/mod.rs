//! The broker that serves real Kafka clients (issue 3), built slice by
//! slice on the model's protocol core. So far: framing, version negotiation
//! (ApiVersions), Metadata from a cluster view and FindCoordinator's stub,
//! sans IO, and the tokio listener that runs connections through them.

pub mod api;
pub mod conn;
pub mod frame;
pub mod metadata;
