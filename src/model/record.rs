//! The model's records: tiny values, optionally carrying an idempotent
//! producer's sequence number.

use crate::core::types::{ProducerSeq, Record};
use std::fmt;

/// The single producer's id in the model.
pub const PRODUCER_ID: u64 = 1;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rec {
    pub value: u8,
    /// Sent by an idempotent producer: the value is its sequence number.
    pub idempotent: bool,
}

impl Record for Rec {
    fn producer_seq(&self) -> Option<ProducerSeq> {
        self.idempotent.then_some(ProducerSeq {
            producer_id: PRODUCER_ID,
            sequence: self.value as u32,
        })
    }
}

impl fmt::Display for Rec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.value)
    }
}

impl fmt::Debug for Rec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.value)
    }
}
