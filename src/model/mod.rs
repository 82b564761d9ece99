//! The stateright model of one partition: RF brokers, the controller, a
//! producer and an optional consumer, all driving the protocol core.

pub mod actor;
pub mod build;
pub mod client_first;
pub mod compact;
pub mod config;
pub mod digest;
pub mod history;
pub mod news_first;
pub mod properties;
pub mod record;
pub mod state;
pub mod step_names;
pub mod symmetry;

pub use config::{CrashMode, ModelConfig, NetworkKind};
