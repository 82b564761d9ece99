//! The broker that serves real Kafka clients (issue 3), built slice by
//! slice on the model's protocol core. So far: framing and version
//! negotiation, sans IO.

pub mod api;
pub mod frame;
