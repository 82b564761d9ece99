//! Identifiers and small value types shared by every protocol state machine.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A broker's id. Kafka calls it `broker.id`; here it is small because a
/// partition's replica set is small and [`BrokerSet`] is a bitset.
pub type BrokerId = u8;
/// A leader epoch: bumped by the controller on every leader change.
pub type Epoch = u32;
/// A log offset.
pub type Offset = u64;
/// The controller's version of a partition's state (`partitionEpoch`).
pub type PartitionEpoch = u32;

/// The largest broker id a [`BrokerSet`] can hold, plus one.
pub const MAX_BROKERS: u8 = 32;

/// A set of broker ids, as a bitset: the ISR, the ELR, the replica set.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "Vec<BrokerId>", from = "Vec<BrokerId>")]
pub struct BrokerSet(u32);

/// In JSON (traces, the control plane) a set reads as its sorted members.
impl From<BrokerSet> for Vec<BrokerId> {
    fn from(s: BrokerSet) -> Self {
        s.iter().collect()
    }
}

impl From<Vec<BrokerId>> for BrokerSet {
    fn from(v: Vec<BrokerId>) -> Self {
        BrokerSet::of(v.into_iter().filter(|b| *b < 32))
    }
}

impl BrokerSet {
    pub const EMPTY: BrokerSet = BrokerSet(0);

    pub fn of(ids: impl IntoIterator<Item = BrokerId>) -> Self {
        let mut s = BrokerSet::EMPTY;
        for id in ids {
            s.insert(id);
        }
        s
    }
    pub fn contains(self, id: BrokerId) -> bool {
        id < MAX_BROKERS && self.0 & (1 << id) != 0
    }
    pub fn insert(&mut self, id: BrokerId) {
        assert!(id < MAX_BROKERS, "broker id {id} does not fit a BrokerSet");
        self.0 |= 1 << id;
    }
    pub fn remove(&mut self, id: BrokerId) {
        if id < MAX_BROKERS {
            self.0 &= !(1 << id);
        }
    }
    pub fn with(mut self, id: BrokerId) -> Self {
        self.insert(id);
        self
    }
    pub fn without(mut self, id: BrokerId) -> Self {
        self.remove(id);
        self
    }
    pub fn union(self, other: BrokerSet) -> Self {
        BrokerSet(self.0 | other.0)
    }
    pub fn minus(self, other: BrokerSet) -> Self {
        BrokerSet(self.0 & !other.0)
    }
    pub fn intersect(self, other: BrokerSet) -> Self {
        BrokerSet(self.0 & other.0)
    }
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Members in increasing order; visits set bits only.
    pub fn iter(self) -> impl Iterator<Item = BrokerId> {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            if rest == 0 {
                return None;
            }
            let id = rest.trailing_zeros() as BrokerId;
            rest &= rest - 1;
            Some(id)
        })
    }
    /// Applies a renaming of brokers (used by the symmetry reduction).
    pub fn map(self, f: impl Fn(BrokerId) -> BrokerId) -> Self {
        BrokerSet::of(self.iter().map(f))
    }
}

impl fmt::Debug for BrokerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for BrokerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{")?;
        for (i, id) in self.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{id}")?;
        }
        write!(f, "}}")
    }
}

/// A value that names brokers, with every name put through `to`. The
/// model's symmetry reduction renames whole states with it. Each type
/// implements it beside its definition by destructuring every field, so a
/// field added later does not compile until someone decides whether it
/// names a broker.
pub trait RenameBrokers {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId);
}

impl RenameBrokers for BrokerSet {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        *self = self.map(to);
    }
}

/// An optional broker: a leader, or none.
impl RenameBrokers for Option<BrokerId> {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        if let Some(b) = self {
            *b = to(*b);
        }
    }
}

/// The producer's `acks` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Acks {
    /// `acks=0`: fire and forget, no response.
    Zero,
    /// `acks=1`: the leader answers after its local append.
    One,
    /// `acks=all` (or `-1`): the leader answers once every ISR member has the record.
    All,
}

impl Acks {
    /// The `acks` field of a Produce request.
    pub fn wire(self) -> i16 {
        match self {
            Acks::Zero => 0,
            Acks::One => 1,
            Acks::All => -1,
        }
    }

    /// A Produce request's `acks`, if it is one Kafka accepts.
    pub fn from_wire(acks: i16) -> Option<Acks> {
        [Acks::Zero, Acks::One, Acks::All]
            .into_iter()
            .find(|a| a.wire() == acks)
    }
}

impl fmt::Display for Acks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acks::Zero => "0",
            Acks::One => "1",
            Acks::All => "all",
        })
    }
}

impl std::str::FromStr for Acks {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "0" => Ok(Acks::Zero),
            "1" => Ok(Acks::One),
            "all" | "-1" => Ok(Acks::All),
            other => Err(format!(
                "acks must be 0, 1, all or -1 (an alias for all), not {other:?}"
            )),
        }
    }
}

/// An idempotent producer's identity, epoch and sequence number for one
/// batch. Sequences start at 0 in each epoch (KIP-360).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProducerSeq {
    pub producer_id: u64,
    pub producer_epoch: u16,
    pub sequence: u32,
}

/// What the log stores. The model uses tiny records; the server uses byte
/// batches. Either way the protocol only needs these facts about one entry.
pub trait Record: Clone + fmt::Debug + Eq + std::hash::Hash {
    /// How many offsets the entry takes (a batch of n records takes n).
    fn offset_count(&self) -> u64 {
        1
    }
    /// The idempotent producer's id and sequence, if the batch carries them.
    /// A batch of n records holds sequences `sequence..sequence + n`.
    fn producer_seq(&self) -> Option<ProducerSeq>;
    /// The record as the log stores it once a leader of `epoch` placed it at
    /// `offset`: a wire batch carries both in its header, a model record
    /// needs neither.
    fn stamped(self, _offset: Offset, _epoch: Epoch) -> Self {
        self
    }
    /// The record as an idempotent producer sends it in `producer_epoch`
    /// at `sequence`, once it bumped its epoch. Only the model's producer
    /// resends records under a new epoch; other records never are.
    fn resequenced(self, _producer_epoch: u16, _sequence: u32) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_sets_iterate_and_rename_their_members() {
        let s = BrokerSet::of([3, 1, 31, 0]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 1, 3, 31]);
        assert_eq!(s.len(), 4);
        assert!(BrokerSet::EMPTY.iter().next().is_none());
        let swapped = BrokerSet::of([1, 2]).map(|b| if b == 1 { 3 } else { b });
        assert_eq!(swapped, BrokerSet::of([2, 3]));
    }
}
