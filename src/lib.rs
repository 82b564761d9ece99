//! insync: Kafka's produce → replicate → ack protocol as a model-checked
//! specification, with the protocol core shared by the model and the server.

pub mod advise;
pub mod alloc;
pub mod bench;
pub mod check;
pub mod client;
pub mod conform;
pub mod core;
pub mod crosscheck;
pub mod kafka_config;
pub mod lincheck;
pub mod matrix;
pub mod matrix_html;
pub mod model;
pub mod releases;
pub mod rng;
pub mod scenario;
pub mod server;
pub mod torture;
pub mod wire;
