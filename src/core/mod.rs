//! The protocol core: sans-IO state machines for every decision of Kafka's
//! produce → replicate → ack protocol. Each takes one input and pushes its
//! effects (messages, trace events); none does I/O. The stateright model and
//! the server both drive these same functions.

pub mod config;
pub mod consumer;
pub mod controller;
pub mod effects;
pub mod error;
pub mod log;
pub mod messages;
pub mod producer;
pub mod replica;
#[cfg(test)]
mod replica_tests;
pub mod settings;
pub mod types;
