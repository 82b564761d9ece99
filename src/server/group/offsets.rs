//! Committed offsets are data: each commit is a batch appended to the
//! internal topic `__consumer_offsets` through the protocol core, acks=all
//! (Kafka's `offsets.commit.required.acks`), so they are replicated, survive
//! restarts and move with the coordinator. The coordinator keeps a cache it
//! rebuilds from the partition (`GroupMetadataManager.loadGroupsAndOffsets`)
//! whenever it begins to lead it.

use crate::core::types::Epoch;
use crate::wire::batch::encode_batch;
use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// One committed offset, as a record's value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub metadata: Option<String>,
}

/// A batch holding `commits`, as the coordinator appends it.
pub fn encode(commits: &[Committed], now_ms: i64) -> Result<Bytes, String> {
    let values: Vec<Bytes> = commits
        .iter()
        .map(|c| serde_json::to_vec(c).map(Bytes::from))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    encode_batch(&values, -1, -1, now_ms)
}

/// The commits in a stored batch; records that are not commits are skipped.
pub fn decode(mut batch: Bytes) -> Vec<Committed> {
    let Ok(sets) = RecordBatchDecoder::decode_all(&mut batch) else {
        return Vec::new();
    };
    sets.into_iter()
        .flat_map(|s| s.records)
        .filter_map(|r| r.value)
        .filter_map(|v| serde_json::from_slice(&v).ok())
        .collect()
}

type Key = (String, String, i32);

/// The committed offsets of every group this broker coordinates.
#[derive(Debug, Default)]
pub struct OffsetCache {
    /// The leader epoch of `__consumer_offsets` it was loaded in.
    pub loaded_in: Option<Epoch>,
    offsets: BTreeMap<Key, (i64, Option<String>)>,
}

impl OffsetCache {
    /// Starts over from the partition's committed batches.
    pub fn load(&mut self, epoch: Epoch, batches: impl IntoIterator<Item = Bytes>) {
        self.offsets.clear();
        for b in batches {
            for c in decode(b) {
                self.apply(c);
            }
        }
        self.loaded_in = Some(epoch);
    }

    pub fn apply(&mut self, c: Committed) {
        self.offsets
            .insert((c.group, c.topic, c.partition), (c.offset, c.metadata));
    }

    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<&(i64, Option<String>)> {
        self.offsets
            .get(&(group.to_string(), topic.to_string(), partition))
    }

    /// Every (topic, partition) `group` committed.
    pub fn of_group(&self, group: &str) -> Vec<(String, i32)> {
        self.offsets
            .keys()
            .filter(|(g, _, _)| g == group)
            .map(|(_, t, p)| (t.clone(), *p))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_read_back_from_their_batches_and_the_last_one_wins() {
        let c = |offset| Committed {
            group: "g".into(),
            topic: "t".into(),
            partition: 0,
            offset,
            metadata: None,
        };
        let b1 = encode(&[c(5)], 0).unwrap();
        let b2 = encode(&[c(9)], 1).unwrap();
        assert_eq!(decode(b1.clone()), vec![c(5)]);
        let mut cache = OffsetCache::default();
        cache.load(3, [b1, b2]);
        assert_eq!(cache.get("g", "t", 0).map(|e| e.0), Some(9));
        assert_eq!(cache.loaded_in, Some(3));
        assert_eq!(cache.of_group("g"), vec![("t".to_string(), 0)]);
        assert!(cache.get("h", "t", 0).is_none());
    }
}
