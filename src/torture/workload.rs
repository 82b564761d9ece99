//! insync's own Kafka clients for torture runs: producers that append one
//! record at a time and consumers that poll forward, each operation
//! recorded with invoke and complete times from one monotonic clock and
//! the outcome a Jepsen history needs (ok, fail when it definitely took no
//! effect, info when it may have).

use crate::client::{CallError, Connection};
use crate::core::error::ErrorCode;
use crate::wire::batch::encode_batch;
use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, MetadataRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const METADATA_VERSION: i16 = 8;
const PRODUCE_VERSION: i16 = 8;
const FETCH_VERSION: i16 = 11;
/// How long a client waits for any answer before calling it unknown.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What every client shares: the clock, the history, the budget and the
/// stop flag.
pub struct Shared {
    pub start: Instant,
    pub topic: String,
    pub acks: i16,
    pub bootstrap: Vec<SocketAddr>,
    pub history: Mutex<Vec<Value>>,
    /// Appends left to invoke.
    pub budget: AtomicU64,
    pub stop: AtomicBool,
    /// Process ids handed out: a process whose operation ended unknown is
    /// replaced by a new one, as Jepsen does, so no process has two
    /// operations open at once.
    pub next_process: AtomicU64,
    /// The pause between one producer's appends: the faults need time to
    /// fall between them.
    pub pace: Duration,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn record(&self, op: Value) {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(op);
    }

    fn partition(&self) -> String {
        format!("{}-0", self.topic)
    }

    fn fresh_process(&self) -> u64 {
        self.next_process.fetch_add(1, Ordering::SeqCst)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Leader {
    pub id: i32,
    /// The ISR's size.
    pub in_sync: usize,
}

/// The partition's leader as the metadata says, if any broker answers.
pub async fn leader(s: &Shared) -> Option<Leader> {
    let route = Route::new("torture-nemesis".to_string());
    route.find_leader(s).await.ok().map(|(l, _)| l)
}

/// A client's view of where the partition's leader is.
struct Route {
    name: String,
    conn: Option<(SocketAddr, Connection)>,
}

impl Route {
    fn new(name: String) -> Route {
        Route { name, conn: None }
    }

    /// A connection to the partition's leader, asking each bootstrap
    /// address in turn for the metadata.
    async fn leader(&mut self, s: &Shared) -> Result<&mut Connection, CallError> {
        if self.conn.is_none() {
            let (_, addr) = self.find_leader(s).await?;
            let c = Connection::connect(addr, &self.name, CALL_TIMEOUT).await?;
            self.conn = Some((addr, c));
        }
        Ok(&mut self.conn.as_mut().expect("just set").1)
    }

    fn forget(&mut self) {
        self.conn = None;
    }

    /// The leader's id and address, and how many replicas are in sync.
    async fn find_leader(&self, s: &Shared) -> Result<(Leader, SocketAddr), CallError> {
        let mut req = MetadataRequest::default();
        let mut t = MetadataRequestTopic::default();
        t.name = Some(TopicName(StrBytes::from_string(s.topic.clone())));
        req.topics = Some(vec![t]);
        req.allow_auto_topic_creation = true;
        let mut why = String::from("no bootstrap address");
        for addr in &s.bootstrap {
            let answer = async {
                let mut c = Connection::connect(*addr, &self.name, CALL_TIMEOUT).await?;
                c.call(&req, METADATA_VERSION, CALL_TIMEOUT).await
            }
            .await;
            let m = match answer {
                Ok(m) => m,
                Err(e) => {
                    why = e.to_string();
                    continue;
                }
            };
            let part = m.topics.first().and_then(|t| t.partitions.first());
            let leader = part.map(|p| Leader {
                id: p.leader_id.0,
                in_sync: p.isr_nodes.len(),
            });
            let found = leader.and_then(|l| {
                m.brokers
                    .iter()
                    .find(|b| b.node_id.0 == l.id)
                    .map(|b| (l, b))
            });
            match found {
                Some((l, b)) => {
                    let addr = format!("{}:{}", b.host, b.port)
                        .parse()
                        .map_err(|e| CallError::NotSent(format!("{}: {e}", b.host)))?;
                    return Ok((l, addr));
                }
                None => why = format!("{addr} knows no leader"),
            }
        }
        Err(CallError::NotSent(why))
    }
}

/// Appends until the budget or the stop flag runs out.
pub async fn producer(s: Arc<Shared>) {
    let mut process = s.fresh_process();
    let mut route = Route::new(format!("torture-producer-{process}"));
    let mut n = 0u64;
    while !s.stop.load(Ordering::SeqCst) {
        if s.budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
            .is_err()
        {
            return;
        }
        tokio::time::sleep(s.pace).await;
        let value = format!("{process}-{n}");
        n += 1;
        let invoke = s.now_ns();
        let (outcome, offset) = append(&s, &mut route, &value).await;
        s.record(json!({
            "process": process, "f": "append", "partition": s.partition(), "value": value,
            "invoke_ns": invoke, "complete_ns": s.now_ns(), "type": outcome, "offset": offset,
        }));
        match outcome {
            "info" => {
                process = s.fresh_process();
                route.forget();
                // Each unknown append is one more the checker must place
                // or leave out: do not pile them up against a dead leader.
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            "fail" => {
                route.forget();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => {}
        }
    }
}

/// One append: its outcome and, when ok, its offset.
async fn append(s: &Shared, route: &mut Route, value: &str) -> (&'static str, Option<i64>) {
    let batch = match encode_batch(&[Bytes::from(value.to_string())], -1, -1, 0) {
        Ok(b) => b,
        Err(_) => return ("fail", None),
    };
    let mut p = PartitionProduceData::default();
    p.index = 0;
    p.records = Some(batch);
    let mut t = TopicProduceData::default();
    t.name = TopicName(StrBytes::from_string(s.topic.clone()));
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = s.acks;
    req.timeout_ms = 3000;
    req.topic_data = vec![t];
    let conn = match route.leader(s).await {
        Ok(c) => c,
        Err(_) => return ("fail", None),
    };
    if s.acks == 0 {
        // No answer ever comes: whether it landed is unknown.
        return match send_only(conn, &req).await {
            Ok(()) => ("info", None),
            Err(CallError::NotSent(_)) => ("fail", None),
            Err(CallError::Unknown(_)) => ("info", None),
        };
    }
    match conn.call(&req, PRODUCE_VERSION, CALL_TIMEOUT).await {
        Err(CallError::NotSent(_)) => ("fail", None),
        Err(CallError::Unknown(_)) => ("info", None),
        Ok(r) => {
            let part = r
                .responses
                .first()
                .and_then(|t| t.partition_responses.first());
            match part.map(|p| (ErrorCode::from_code(p.error_code), p.base_offset)) {
                Some((Ok(None), offset)) if offset >= 0 => ("ok", Some(offset)),
                // Refused before any append.
                Some((
                    Ok(Some(
                        ErrorCode::NotEnoughReplicas
                        | ErrorCode::UnknownTopicOrPartition
                        | ErrorCode::LeaderNotAvailable,
                    )),
                    _,
                )) => ("fail", None),
                // NOT_LEADER_OR_FOLLOWER is not definite: a leader that
                // loses its leadership answers it to produces it had
                // already appended and was waiting on, and those records
                // may yet be committed (the checker found one read back).
                // NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT and
                // anything else: the leader may hold it too.
                _ => ("info", None),
            }
        }
    }
}

/// acks=0: the request is written and nothing is read back.
async fn send_only(conn: &mut Connection, req: &ProduceRequest) -> Result<(), CallError> {
    conn.send(req, PRODUCE_VERSION, CALL_TIMEOUT).await
}

/// Polls forward from offset 0 until told to stop, recording every poll
/// that returned records or failed.
pub async fn consumer(s: Arc<Shared>) {
    let process = s.fresh_process();
    let mut route = Route::new(format!("torture-consumer-{process}"));
    let mut position = 0i64;
    let mut seek = true;
    while !s.stop.load(Ordering::SeqCst) {
        let got = poll(&s, &mut route, process, &mut position, &mut seek).await;
        if got.unwrap_or(0) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Reads everything the log holds, from offset 0, as a fresh process:
/// what survived the run. Answers that process and how many records it read.
pub async fn final_read(s: &Shared, within: Duration) -> Result<(u64, usize), String> {
    let process = s.fresh_process();
    let mut route = Route::new(format!("torture-reader-{process}"));
    let mut position = 0i64;
    let mut seek = true;
    let deadline = Instant::now() + within;
    let mut empty = 0;
    let mut total = 0;
    while empty < 3 {
        if Instant::now() > deadline {
            return Err(format!(
                "the final read stopped at offset {position} after {within:?}"
            ));
        }
        // Only answers that hold nothing count toward the end: a poll
        // that got no answer (leadership still moving) says nothing.
        match poll(s, &mut route, process, &mut position, &mut seek).await {
            Some(0) => {
                empty += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Some(n) => {
                empty = 0;
                total += n;
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    Ok((process, total))
}

/// One poll from `position`: records it, advances the position, and
/// answers how many records came back, or `None` when it got no answer.
async fn poll(
    s: &Shared,
    route: &mut Route,
    process: u64,
    position: &mut i64,
    seek: &mut bool,
) -> Option<usize> {
    let mut fp = FetchPartition::default();
    fp.partition = 0;
    fp.fetch_offset = *position;
    fp.partition_max_bytes = 1 << 20;
    fp.current_leader_epoch = -1;
    let mut ft = FetchTopic::default();
    ft.topic = TopicName(StrBytes::from_string(s.topic.clone()));
    ft.partitions = vec![fp];
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 100;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    req.topics = vec![ft];
    let invoke = s.now_ns();
    let conn = match route.leader(s).await {
        Ok(c) => c,
        Err(_) => return None,
    };
    let answer = conn.call(&req, FETCH_VERSION, CALL_TIMEOUT).await;
    let part = answer
        .as_ref()
        .ok()
        .and_then(|r| r.responses.first())
        .and_then(|t| t.partitions.first());
    let Some(part) = part else {
        route.forget();
        return None;
    };
    match ErrorCode::from_code(part.error_code) {
        Ok(None) => {}
        // The log no longer reaches the position (an unclean election cut
        // it); start over, marked as a seek.
        Ok(Some(ErrorCode::OffsetOutOfRange)) => {
            *position = 0;
            *seek = true;
            return None;
        }
        _ => {
            route.forget();
            return None;
        }
    }
    let mut records = Vec::new();
    let mut bytes = part.records.clone().unwrap_or_default();
    if let Ok(sets) = RecordBatchDecoder::decode_all(&mut bytes) {
        for set in sets {
            for r in set.records {
                if r.offset >= *position {
                    let v = r.value.map(|v| String::from_utf8_lossy(&v).into_owned());
                    records.push(json!([r.offset, v.unwrap_or_default()]));
                }
            }
        }
    }
    if records.is_empty() {
        return Some(0);
    }
    let last = records
        .last()
        .and_then(|r| r[0].as_i64())
        .unwrap_or(*position);
    *position = last + 1;
    let n = records.len();
    s.record(json!({
        "process": process, "f": "poll", "partition": s.partition(),
        "invoke_ns": invoke, "complete_ns": s.now_ns(), "type": "ok",
        "records": records, "seek": std::mem::take(seek),
    }));
    Some(n)
}
