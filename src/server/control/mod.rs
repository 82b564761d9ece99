//! The control plane: the controller process (`node`), which runs the
//! protocol core's `Controller` for every partition, and the messages it
//! exchanges with brokers (`wire`). It stands for the KRaft quorum; like the
//! model's controller it is assumed not to fail.

pub mod node;
pub mod serve;
pub mod wire;
