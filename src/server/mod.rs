//! The broker that serves real Kafka clients (issue 3), built slice by
//! slice on the model's protocol core. So far, sans IO: framing, version
//! negotiation (ApiVersions) and FindCoordinator's stub.

pub mod api;
pub mod frame;
