//! Fetch (v4–15) for consumers: the batches below the high watermark, as
//! the protocol core's `consumer_read` decides, waiting up to `max_wait_ms`
//! for `min_bytes` to arrive. From v13 topics are named by id (KIP-516).
//!
//! Fetch sessions (KIP-227) are not kept: every answer is a full response
//! with session id 0, which clients take as "no session".

use super::broker::Broker;
use super::late_records::LateRecords;
use super::replication::{decode_request, encode_response};
use super::shared::{FollowerAnswer, Shared};
use crate::core::error::ErrorCode;
use crate::core::replica::Input;
use crate::core::types::BrokerId;
use bytes::BytesMut;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId as WireBrokerId, FetchRequest, FetchResponse};
use std::time::Duration;

/// The topic a Fetch names: by name before v13, by id from v13 (KIP-516),
/// as this broker's view of the cluster knows it.
fn topic_name(broker: &Broker, t: &FetchTopic, version: i16) -> Option<String> {
    if version >= 13 {
        broker
            .view
            .topics
            .iter()
            .find(|(_, v)| v.id == t.topic_id)
            .map(|(name, _)| name.clone())
    } else {
        Some(t.topic.0.to_string())
    }
}

/// A topic's answer names it as its request did.
fn topic_response(t: &FetchTopic) -> FetchableTopicResponse {
    let mut r = FetchableTopicResponse::default();
    r.topic = t.topic.clone();
    r.topic_id = t.topic_id;
    r
}

/// A partition's answer that is only an error.
fn failed(partition: i32, code: ErrorCode) -> PartitionData {
    let mut p = PartitionData::default();
    p.partition_index = partition;
    p.error_code = code.code();
    p
}

/// A follower's Fetch, on the leader, from `replica` at broker epoch
/// `replica_epoch`: each partition goes through the core's `on_fetch`; a
/// parked one waits up to `max_wait_ms` for news, then expires with the
/// current HW. The records are held in the returned `LateRecords`, to be
/// written as the response is.
pub async fn follower_fetch(
    req: &FetchRequest,
    version: i16,
    (replica, replica_epoch): (i32, i64),
    shared: &Shared,
) -> (FetchResponse, LateRecords) {
    let mut late = LateRecords::default();
    let from = match BrokerId::try_from(replica) {
        Ok(b) => b,
        Err(_) => {
            let mut r = FetchResponse::default();
            r.error_code = ErrorCode::InvalidRequest.code();
            return (r, late);
        }
    };
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
    let mut r = FetchResponse::default();
    for topic in &req.topics {
        let mut t = topic_response(topic);
        let Some(name) = topic_name(&shared.lock(), topic, version) else {
            for fp in &topic.partitions {
                t.partitions
                    .push(failed(fp.partition, ErrorCode::UnknownTopicId));
            }
            r.responses.push(t);
            continue;
        };
        let name = name.as_str();
        for fp in &topic.partitions {
            let core_req = match decode_request(fp, replica_epoch) {
                Ok(q) => q,
                Err(code) => {
                    t.partitions.push(failed(fp.partition, code));
                    continue;
                }
            };
            let now = std::time::Instant::now();
            let answer = shared
                .lock()
                .follower_fetch(name, fp.partition, from, core_req, now);
            let resp = match answer {
                None => None,
                Some(FollowerAnswer::Now(resp)) => Some(resp),
                Some(FollowerAnswer::Later(mut rx)) => loop {
                    match tokio::time::timeout(wait, &mut rx).await {
                        Ok(r) => break r.ok(),
                        Err(_) => {
                            shared.lock().with_partition(name, fp.partition, |p| {
                                p.step(Input::FetchWaitExpired(from), std::time::Instant::now())
                            });
                            // Answered now, unless the fetch waits for an
                            // epoch this broker has not heard of yet: the
                            // core answers that once the controller's word
                            // arrives, so keep waiting.
                            if let Ok(r) = rx.try_recv() {
                                break Some(r);
                            }
                        }
                    }
                },
            };
            shared.changed.notify_waiters();
            let p = match resp {
                Some(resp) => {
                    let limit = usize::try_from(fp.partition_max_bytes).unwrap_or(0);
                    encode_response(fp.partition, &resp, limit, &mut late)
                }
                None => {
                    // Not hosted (yet): the controller's word may still be on
                    // its way here. The follower retries, as Kafka's does.
                    let mut p = PartitionData::default();
                    p.partition_index = fp.partition;
                    p.error_code = ErrorCode::UnknownTopicOrPartition.code();
                    p
                }
            };
            t.partitions.push(p);
        }
        r.responses.push(t);
    }
    (r, late)
}

/// Answers a consumer's Fetch once `min_bytes` are visible, any partition
/// has an error, or `max_wait_ms` passes.
pub async fn fetch(req: &FetchRequest, version: i16, shared: &Shared) -> FetchResponse {
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0).max(1);
    loop {
        // Registered before looking, so a change between the look and the
        // wait still wakes this fetch.
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let (response, bytes, errors) = read(&shared.lock(), req, version);
        if bytes >= min_bytes || errors || tokio::time::Instant::now() >= deadline {
            return response;
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            return read(&shared.lock(), req, version).0;
        }
    }
}

/// One look at the logs: the response, the record bytes in it, and
/// whether any partition answered an error.
fn read(broker: &Broker, req: &FetchRequest, version: i16) -> (FetchResponse, usize, bool) {
    let mut r = FetchResponse::default();
    let mut total = 0usize;
    let mut errors = false;
    let max_bytes = usize::try_from(req.max_bytes).unwrap_or(0);
    for topic in &req.topics {
        let mut t = topic_response(topic);
        let named = topic_name(broker, topic, version);
        let name = named.as_deref().unwrap_or_default();
        for fp in &topic.partitions {
            let mut p = PartitionData::default();
            p.partition_index = fp.partition;
            if version >= 11 {
                p.preferred_read_replica = WireBrokerId(-1);
            }
            let found = broker.partition(name, fp.partition);
            let read = match (found, u64::try_from(fp.fetch_offset)) {
                (None, _) if named.is_none() => Err(ErrorCode::UnknownTopicId.code()),
                (None, _) => Err(ErrorCode::UnknownTopicOrPartition.code()),
                (Some(_), Err(_)) => Err(ErrorCode::OffsetOutOfRange.code()),
                (Some(part), Ok(offset)) => {
                    let r = &part.replica;
                    p.high_watermark = r.high_watermark as i64;
                    p.last_stable_offset = r.high_watermark as i64;
                    r.consumer_read(offset).map_err(ErrorCode::code)
                }
            };
            if version >= 5 {
                p.log_start_offset = 0;
            }
            match read {
                Err(code) => {
                    errors = true;
                    p.error_code = code;
                    p.high_watermark = -1;
                    p.last_stable_offset = -1;
                }
                Ok(entries) => {
                    // KIP-74: at least one batch of the first partition with
                    // data, so a batch larger than the limits still moves.
                    let limit = usize::try_from(fp.partition_max_bytes).unwrap_or(0);
                    let mut out = BytesMut::new();
                    let mut failed = None;
                    for e in entries {
                        let size = e.record.size();
                        let over = out.len() + size > limit || total + size > max_bytes;
                        if over && (total > 0 || !out.is_empty()) {
                            break;
                        }
                        if let Err(why) = e.record.append_to(&mut out) {
                            failed = Some(why);
                            break;
                        }
                        total += size;
                    }
                    match failed {
                        // Under the broker's lock the log and its files
                        // agree: only the disk failing gets here.
                        Some(why) if out.is_empty() => {
                            eprintln!("insync: reading {name}-{}: {why}", fp.partition);
                            errors = true;
                            p.error_code = ErrorCode::KafkaStorageError.code();
                        }
                        _ => p.records = Some(out.freeze()),
                    }
                }
            }
            t.partitions.push(p);
        }
        r.responses.push(t);
    }
    (r, total, errors)
}
