//! insync: Kafka's produce → replicate → ack protocol as a model-checked
//! specification, with the protocol core shared by the model and the server.

pub mod core;
pub mod model;
