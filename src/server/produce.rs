//! Produce (v3–10): checked batches into the protocol core's leader append,
//! answered as the core decides: nothing for acks=0, at once for acks=1,
//! once the HW passes for acks=all, REQUEST_TIMED_OUT when `timeout_ms`
//! passes first.

use super::partition::ProduceResult;
use super::shared::Produced;
use super::shared::Shared;
use crate::core::error::ErrorCode;
use crate::core::types::Acks;
use crate::wire::batch::Batch;
use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::messages::ProduceResponse;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use std::time::Duration;

/// One partition's answer, in the making.
enum Answer {
    Code(i16),
    Done(ProduceResult),
    Waiting(tokio::sync::oneshot::Receiver<ProduceResult>),
}

/// Handles a Produce request. `None` means no response at all (acks=0).
pub async fn produce(
    req: ProduceRequest,
    version: i16,
    shared: &Shared,
) -> Option<ProduceResponse> {
    let acks = Acks::from_wire(req.acks);
    let mut answers: Vec<(String, Vec<(i32, Answer)>)> = Vec::new();
    {
        let mut broker = shared.lock();
        for topic in req.topic_data {
            let name = topic.name.0.to_string();
            let mut parts = Vec::new();
            for p in topic.partition_data {
                let answer = match (acks, broker.partition(&name, p.index).is_some()) {
                    (None, _) => Answer::Code(ErrorCode::InvalidRequiredAcks.code()),
                    (_, false) => Answer::Code(ErrorCode::UnknownTopicOrPartition.code()),
                    (Some(acks), true) => match one_batch(p.records) {
                        Err(code) => Answer::Code(code),
                        Ok(batch) => {
                            let now = std::time::Instant::now();
                            let produced = broker
                                .produce(&name, p.index, batch, acks, now)
                                .expect("checked above");
                            match produced {
                                Produced::Unanswered => Answer::Code(0),
                                Produced::Now(r) => Answer::Done(r),
                                Produced::Later(rx) => Answer::Waiting(rx),
                            }
                        }
                    },
                };
                parts.push((p.index, answer));
            }
            answers.push((name, parts));
        }
    }
    shared.changed.notify_waiters();
    if acks == Some(Acks::Zero) {
        return None;
    }
    let deadline = tokio::time::Instant::now()
        + Duration::from_millis(u64::try_from(req.timeout_ms).unwrap_or(0));
    let mut r = ProduceResponse::default();
    for (name, parts) in answers {
        let mut t = TopicProduceResponse::default();
        t.name = kafka_protocol::messages::TopicName(name.into());
        for (index, answer) in parts {
            let result = match answer {
                Answer::Code(code) => Err(code),
                Answer::Done(r) => r.map_err(ErrorCode::code),
                Answer::Waiting(rx) => match tokio::time::timeout_at(deadline, rx).await {
                    Ok(Ok(r)) => r.map_err(ErrorCode::code),
                    // The broker dropped the partition's waiters: it is
                    // shutting down, and the client must look elsewhere.
                    Ok(Err(_)) => Err(ErrorCode::NotLeaderOrFollower.code()),
                    Err(_) => Err(ErrorCode::RequestTimedOut.code()),
                },
            };
            let mut p = PartitionProduceResponse::default();
            p.index = index;
            match result {
                Ok(offset) => p.base_offset = offset as i64,
                Err(code) => {
                    p.error_code = code;
                    p.base_offset = -1;
                }
            }
            p.log_append_time_ms = -1;
            if version >= 5 {
                p.log_start_offset = 0;
            }
            t.partition_responses.push(p);
        }
        r.responses.push(t);
    }
    shared.changed.notify_waiters();
    Some(r)
}

/// The partition's records as exactly one checked batch.
fn one_batch(records: Option<bytes::Bytes>) -> Result<Batch, i16> {
    let Some(bytes) = records else {
        return Err(ErrorCode::InvalidRecord.code());
    };
    let mut batches = Batch::parse_all(&bytes).map_err(|e| e.error_code().code())?;
    if batches.len() != 1 {
        return Err(ErrorCode::InvalidRecord.code());
    }
    Ok(batches.pop().expect("one batch"))
}
