//! Kafka's wire format, below both the broker and insync's own clients:
//! length-prefixed framing (`frame`) and checked record batches, the
//! server's `Record` (`batch`). Kafka's error codes are the core's
//! `ErrorCode`, which both sides share.

pub mod batch;
pub mod frame;
