//! Follower fetch as Kafka does it: a Fetch request whose `ReplicaState`
//! names the follower and its broker epoch (v15, KIP-903), carrying the
//! follower's leader epoch and last fetched epoch, its topic named by id
//! (v13, KIP-516). Both ends
//! translate between Kafka's wire fields and the core's `FetchRequest` and
//! `FetchResponse`, so the core alone decides divergence, truncation, the
//! HW and ISR expansion.
//!
//! On the wire: records come as the leader's stored batches, whose headers
//! carry their offsets and leader epochs; divergence is KIP-320's
//! `diverging_epoch`; "not the leader of that epoch" is
//! NOT_LEADER_OR_FOLLOWER; a partition the leader does not host yet is
//! UNKNOWN_TOPIC_OR_PARTITION, which the follower retries; and OFFSET_OUT_OF_RANGE (only possible under
//! high-watermark truncation) carries the leader's LEO in the
//! `high_watermark` field, an insync convention between its own brokers.

use super::late_records::LateRecords;
use crate::core::error::ErrorCode;
use crate::core::log::Entry;
use crate::core::messages::{FetchRequest, FetchResponse, FetchResult};
use crate::core::types::BrokerId;
use crate::wire::batch::Batch;
use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use kafka_protocol::messages::fetch_response::{EpochEndOffset, PartitionData};
use kafka_protocol::messages::{BrokerId as WireBrokerId, FetchRequest as WireFetch};
use uuid::Uuid;

/// The Fetch version followers send: the first with `ReplicaState`, whose
/// `ReplicaEpoch` carries the follower's broker epoch.
pub const FOLLOWER_FETCH_VERSION: i16 = 15;

/// The follower's side: the core's fetch as a Kafka request. The core's
/// `incarnation` is the broker's life as the controller counts it (see
/// the controller's `Member::life`): the broker epoch the controller's
/// core compares, so it goes out as `ReplicaEpoch`, where Kafka's
/// follower puts its KRaft broker epoch (`ReplicaFetcherThread`).
pub fn encode_request(
    follower: BrokerId,
    topic_id: Uuid,
    partition: i32,
    req: &FetchRequest,
    max_wait_ms: i32,
) -> WireFetch {
    let mut p = FetchPartition::default();
    p.partition = partition;
    p.current_leader_epoch = req.leader_epoch as i32;
    p.fetch_offset = req.fetch_offset as i64;
    p.last_fetched_epoch = req.last_fetched_epoch.map_or(-1, |e| e as i32);
    p.log_start_offset = 0;
    p.partition_max_bytes = 8 << 20;
    let mut t = FetchTopic::default();
    t.topic_id = topic_id;
    t.partitions = vec![p];
    let mut r = WireFetch::default();
    let mut replica = ReplicaState::default();
    replica.replica_id = WireBrokerId(i32::from(follower));
    replica.replica_epoch = i64::from(req.incarnation);
    r.replica_state = replica;
    r.max_wait_ms = max_wait_ms;
    r.min_bytes = 1;
    r.max_bytes = 64 << 20;
    r.session_id = 0;
    r.session_epoch = -1;
    r.topics = vec![t];
    r
}

/// Who sent a Fetch (`FetchRequest.replicaId` and `replicaEpoch`): a
/// follower's id and broker epoch, or `None` for a consumer. Before v15 a
/// follower names no epoch (-1).
pub fn fetcher(req: &WireFetch, version: i16) -> Option<(i32, i64)> {
    if version >= 15 {
        let r = &req.replica_state;
        (r.replica_id.0 >= 0).then_some((r.replica_id.0, r.replica_epoch))
    } else {
        (req.replica_id.0 >= 0).then_some((req.replica_id.0, -1))
    }
}

/// The leader's side: the Kafka request, from a follower at
/// `replica_epoch`, as the core's fetch, or why not.
///
/// The epoch becomes the core's `incarnation`, which an ISR expansion the
/// fetch brings about names to the controller (KIP-903). Kafka takes -1 (a
/// follower before v15) as "do not check" (`ReplicationControlManager
/// .ineligibleReplicasForIsr`); the core has no such value, and insync's
/// followers always send their epoch, so a follower fetch without one, or
/// with one no broker life can have, is refused rather than trusted.
pub fn decode_request(p: &FetchPartition, replica_epoch: i64) -> Result<FetchRequest, ErrorCode> {
    let incarnation = u8::try_from(replica_epoch).map_err(|_| ErrorCode::InvalidRequest)?;
    let fetch_offset = u64::try_from(p.fetch_offset).map_err(|_| ErrorCode::OffsetOutOfRange)?;
    let leader_epoch =
        u32::try_from(p.current_leader_epoch).map_err(|_| ErrorCode::NotLeaderOrFollower)?;
    Ok(FetchRequest {
        leader_epoch,
        fetch_offset,
        last_fetched_epoch: u32::try_from(p.last_fetched_epoch).ok(),
        incarnation,
    })
}

/// The leader's side: the core's answer in Kafka's fields.
///
/// At most `max_bytes` of records go back (but always a first batch, as
/// KIP-74 has it): the follower's next fetch starts where these end, and
/// the leader learns its position from that fetch, not from this answer.
/// The records themselves are held in `late` and read when the response
/// is written, outside the broker's lock: a batch the log truncated
/// meanwhile cannot be read any more, and the answer ends before it.
pub fn encode_response(
    index: i32,
    resp: &FetchResponse<Batch>,
    max_bytes: usize,
    late: &mut LateRecords,
) -> PartitionData {
    let mut p = PartitionData::default();
    p.partition_index = index;
    p.log_start_offset = 0;
    match &resp.result {
        FetchResult::Records {
            entries,
            high_watermark,
        } => {
            p.high_watermark = *high_watermark as i64;
            p.last_stable_offset = *high_watermark as i64;
            let batches = entries.iter().map(|e| e.record.clone()).collect();
            p.records = Some(late.hold(batches, max_bytes));
        }
        FetchResult::Diverging { epoch, end_offset } => {
            let mut d = EpochEndOffset::default();
            d.epoch = *epoch as i32;
            d.end_offset = *end_offset as i64;
            p.diverging_epoch = d;
            p.records = Some(Bytes::new());
        }
        FetchResult::OffsetOutOfRange { leader_end_offset } => {
            p.error_code = ErrorCode::OffsetOutOfRange.code();
            p.high_watermark = *leader_end_offset as i64;
        }
        FetchResult::NotLeader => {
            p.error_code = ErrorCode::NotLeaderOrFollower.code();
        }
    }
    p
}

/// The follower's side: the leader's answer as the core's, for the request
/// it answers. Corrupt batches are an error: the follower fetches again.
pub fn decode_response(
    req: &FetchRequest,
    p: &PartitionData,
) -> Result<FetchResponse<Batch>, String> {
    let result = match ErrorCode::from_code(p.error_code) {
        Ok(None) if p.diverging_epoch.epoch >= 0 => FetchResult::Diverging {
            epoch: p.diverging_epoch.epoch as u32,
            end_offset: u64::try_from(p.diverging_epoch.end_offset)
                .map_err(|_| "a negative diverging end offset")?,
        },
        Ok(None) => {
            let bytes = p.records.clone().unwrap_or_default();
            let batches = Batch::parse_all(&bytes).map_err(|e| e.to_string())?;
            let mut entries = Vec::with_capacity(batches.len());
            for b in batches {
                let offset =
                    u64::try_from(b.base_offset()).map_err(|_| "a negative base offset")?;
                let epoch = u32::try_from(b.partition_leader_epoch())
                    .map_err(|_| "a batch without a leader epoch")?;
                entries.push(Entry {
                    epoch,
                    offset,
                    record: b,
                });
            }
            FetchResult::Records {
                entries,
                high_watermark: u64::try_from(p.high_watermark).map_err(|_| "a negative HW")?,
            }
        }
        Ok(Some(ErrorCode::OffsetOutOfRange)) => FetchResult::OffsetOutOfRange {
            leader_end_offset: u64::try_from(p.high_watermark).map_err(|_| "a negative LEO")?,
        },
        Ok(Some(ErrorCode::NotLeaderOrFollower)) => FetchResult::NotLeader,
        Ok(Some(e)) => return Err(format!("the leader answered {e}")),
        Err(code) => return Err(format!("the leader answered error {code}")),
    };
    Ok(FetchResponse {
        leader_epoch: req.leader_epoch,
        fetch_offset: req.fetch_offset,
        incarnation: req.incarnation,
        result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::protocol::{Decodable, Encodable};

    fn core_fetch(incarnation: u8) -> FetchRequest {
        FetchRequest {
            leader_epoch: 4,
            fetch_offset: 17,
            last_fetched_epoch: Some(3),
            incarnation,
        }
    }

    /// What a follower sends, as its leader reads it off the wire.
    fn over_the_wire(req: &WireFetch, version: i16) -> WireFetch {
        let mut buf = BytesMut::new();
        req.encode(&mut buf, version).expect("encodes");
        WireFetch::decode(&mut buf.freeze(), version).expect("decodes")
    }

    /// KIP-903 on the wire: the follower's life goes out as
    /// `ReplicaState.ReplicaEpoch` (Fetch v15) and comes back, on the
    /// leader, as the core's incarnation, which an ISR expansion names to
    /// the controller; the topic travels by id.
    #[test]
    fn a_follower_fetch_carries_its_broker_epoch_to_the_leaders_core() {
        let topic = Uuid::from_u128(0x1234);
        let sent = encode_request(2, topic, 0, &core_fetch(3), 500);
        let read = over_the_wire(&sent, FOLLOWER_FETCH_VERSION);
        assert_eq!(fetcher(&read, FOLLOWER_FETCH_VERSION), Some((2, 3)));
        assert_eq!(read.topics[0].topic_id, topic);
        let (_, epoch) = fetcher(&read, FOLLOWER_FETCH_VERSION).unwrap();
        assert_eq!(
            decode_request(&read.topics[0].partitions[0], epoch),
            Ok(core_fetch(3))
        );
    }

    /// A consumer is no follower; a follower fetch without an epoch
    /// (before v15) or with one no life can have is refused, not trusted.
    #[test]
    fn a_follower_fetch_without_a_broker_life_is_refused() {
        let mut consumer = WireFetch::default();
        consumer.replica_id = WireBrokerId(-1);
        assert_eq!(fetcher(&consumer, 12), None);
        assert_eq!(fetcher(&over_the_wire(&consumer, 15), 15), None);
        let mut old = WireFetch::default();
        old.replica_id = WireBrokerId(1);
        assert_eq!(fetcher(&old, 12), Some((1, -1)));
        let p = FetchPartition::default();
        for epoch in [-1, 256, i64::MAX] {
            assert_eq!(
                decode_request(&p, epoch),
                Err(ErrorCode::InvalidRequest),
                "{epoch}"
            );
        }
    }
}
