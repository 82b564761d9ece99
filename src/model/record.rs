//! The model's records: tiny values, optionally carrying an idempotent
//! producer's sequence number.

use crate::core::types::{ProducerSeq, Record};
use std::fmt;

/// The single producer's id in the model.
pub const PRODUCER_ID: u64 = 1;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rec {
    pub value: u8,
    /// Sent by an idempotent producer, in `producer_epoch` at `sequence`.
    pub idempotent: bool,
    pub producer_epoch: u8,
    pub sequence: u8,
}

impl Rec {
    /// Record `value` as first sent: epoch 0, its own index as sequence.
    pub fn new(value: u8, idempotent: bool) -> Rec {
        Rec {
            value,
            idempotent,
            producer_epoch: 0,
            sequence: value,
        }
    }
}

impl Record for Rec {
    fn producer_seq(&self) -> Option<ProducerSeq> {
        self.idempotent.then_some(ProducerSeq {
            producer_id: PRODUCER_ID,
            producer_epoch: u16::from(self.producer_epoch),
            sequence: u32::from(self.sequence),
        })
    }

    fn resequenced(self, producer_epoch: u16, sequence: u32) -> Rec {
        Rec {
            producer_epoch: u8::try_from(producer_epoch)
                .expect("the model bumps an epoch per record at most"),
            sequence: u8::try_from(sequence).expect("at most MAX_RECORDS records"),
            ..self
        }
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
