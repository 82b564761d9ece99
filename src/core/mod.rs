//! The protocol core: sans-IO state machines for every decision of Kafka's
//! produce → replicate → ack protocol. Each takes one input per step and
//! returns every effect of it (`effects`: events, log writes, messages,
//! timers), checking its invariants after the step; none does I/O or reads
//! a clock. The stateright model and the server both drive these same
//! steps. Kafka's settings (`settings`) and error codes (`error`) live here
//! too, since every layer above speaks them.

pub mod config;
pub mod consumer;
pub mod controller;
pub mod effects;
pub mod error;
pub mod log;
pub mod messages;
pub mod producer;
pub mod release;
pub mod replica;
#[cfg(test)]
mod replica_tests;
pub mod settings;
pub mod types;
