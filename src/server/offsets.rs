//! ListOffsets (v1–7) for consumers: where the log starts, where the
//! visible part ends (the high watermark), or the first batch at or after
//! a timestamp.

use super::broker::Broker;
use super::shared::Shared;
use crate::core::error::ErrorCode;
use crate::core::replica::Replica;
use crate::wire::batch::Batch;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

/// The special timestamps of ListOffsets.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

pub fn list_offsets(
    req: &ListOffsetsRequest,
    version: i16,
    shared: &Shared,
) -> ListOffsetsResponse {
    let broker: &Broker = &shared.lock();
    let mut r = ListOffsetsResponse::default();
    for topic in &req.topics {
        let mut t = ListOffsetsTopicResponse::default();
        t.name = topic.name.clone();
        for lp in &topic.partitions {
            let mut p = ListOffsetsPartitionResponse::default();
            p.partition_index = lp.partition_index;
            let answer = match broker.partition(&topic.name.0, lp.partition_index) {
                None => Err(ErrorCode::UnknownTopicOrPartition.code()),
                Some(part) => lookup(&part.replica, lp.timestamp).map_err(ErrorCode::code),
            };
            match answer {
                Ok((offset, timestamp, epoch)) => {
                    p.offset = offset;
                    p.timestamp = timestamp;
                    if version >= 4 {
                        p.leader_epoch = epoch;
                    }
                }
                Err(code) => {
                    p.error_code = code;
                    p.offset = -1;
                    p.timestamp = -1;
                }
            }
            t.partitions.push(p);
        }
        r.topics.push(t);
    }
    r
}

/// Offset, timestamp and leader epoch answering `timestamp`, over what a
/// consumer may read: only the leader answers, and only below the HW.
fn lookup(replica: &Replica<Batch>, timestamp: i64) -> Result<(i64, i64, i32), ErrorCode> {
    let visible = replica.consumer_read(0)?;
    let hw = replica.high_watermark as i64;
    let epoch = replica.partition.leader_epoch as i32;
    Ok(match timestamp {
        LATEST => (hw, -1, epoch),
        EARLIEST => (0, -1, epoch),
        MAX_TIMESTAMP => visible
            .iter()
            .max_by_key(|e| e.record.max_timestamp())
            .map_or((-1, -1, -1), |e| {
                (e.offset as i64, e.record.max_timestamp(), e.epoch as i32)
            }),
        // The first batch holding a record at or after the timestamp; a
        // batch's records may be out of timestamp order, so the batch is
        // the finest grain without decoding it.
        ts => visible
            .iter()
            .find(|e| e.record.max_timestamp() >= ts)
            .map_or((-1, -1, -1), |e| {
                (e.offset as i64, e.record.max_timestamp(), e.epoch as i32)
            }),
    })
}
