//! The broker's TCP side with raw sockets: well-formed requests get
//! answers, and a connection that sends garbage, an oversized frame or a
//! truncated one is closed without disturbing the others.

mod common;

use bytes::Bytes;
use bytes::BytesMut;
use insync::core::error::ErrorCode;
use insync::server::runtime::{BrokerOptions, InProcess, start_cluster};
use insync::server::topic_settings::TopicSettings;
use insync::wire::batch::encode_batch;
use insync::wire::frame::framed;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    FetchRequest, FetchResponse, InitProducerIdRequest, InitProducerIdResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{
    Decodable, Encodable, HeaderVersion, StrBytes, encode_request_header_into_buffer,
};
use kafka_protocol::records::RecordBatchDecoder;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn start(max_request_bytes: usize) -> SocketAddr {
    start_cluster_of(1, max_request_bytes).brokers[0]
}

/// A controller and `n` brokers in this process, on free loopback ports.
fn start_cluster_of(n: usize, max_request_bytes: usize) -> InProcess {
    start_traced(n, max_request_bytes, None)
}

fn start_traced(
    n: usize,
    max_request_bytes: usize,
    trace: Option<std::path::PathBuf>,
) -> InProcess {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
            let template = BrokerOptions {
                id: 0,
                listen: any,
                advertise: None,
                controller: any,
                peer_routes: Vec::new(),
                defaults: {
                    let mut d = TopicSettings::default();
                    d.kafka.replication_factor = n as u8;
                    d
                },
                max_request_bytes,
                replica_lag: Duration::from_secs(2),
                heartbeat: Duration::from_millis(100),
                session_timeout: Duration::from_millis(500),
                fetch_wait: Duration::from_millis(200),
                trace: None,
                data_dir: None,
                group_initial_delay: Duration::from_millis(100),
            };
            let c = start_cluster(
                any,
                &vec![any; n],
                Duration::from_millis(500),
                None,
                &template,
                trace.as_deref(),
            )
            .await
            .expect("the cluster starts");
            tx.send(c).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let c = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the cluster starts");
    // Brokers register with the controller right after starting.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c.shared[0].lock().view.brokers.len() < n {
        assert!(std::time::Instant::now() < deadline, "brokers register");
        std::thread::sleep(Duration::from_millis(20));
    }
    c
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn api_versions(correlation_id: i32) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let mut h = RequestHeader::default();
    h.request_api_key = ApiKey::ApiVersions as i16;
    h.request_api_version = 3;
    h.correlation_id = correlation_id;
    h.client_id = Some(StrBytes::from_static_str("raw-test"));
    encode_request_header_into_buffer(&mut buf, &h).unwrap();
    let mut r = ApiVersionsRequest::default();
    r.client_software_name = StrBytes::from_static_str("raw-test");
    r.client_software_version = StrBytes::from_static_str("1");
    r.encode(&mut buf, 3).unwrap();
    framed(&buf)
}

/// Sends ApiVersions and returns the correlation id and error code answered.
fn ask_versions(s: &mut TcpStream, correlation_id: i32) -> (i32, i16) {
    s.write_all(&api_versions(correlation_id)).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    let mut b = bytes::Bytes::from(body);
    let h = ResponseHeader::decode(&mut b, 0).unwrap();
    let r = ApiVersionsResponse::decode(&mut b, 3).unwrap();
    (h.correlation_id, r.error_code)
}

/// Whether the broker closed `s`: a read sees the end of the stream (or a reset).
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn answers_api_versions_on_one_connection_in_order() {
    let addr = start(1 << 20);
    let mut s = connect(addr);
    for id in [1, 2, 3] {
        assert_eq!(ask_versions(&mut s, id), (id, 0));
    }
}

#[test]
fn bad_frames_close_only_their_own_connection() {
    let addr = start(1024);
    let mut good = connect(addr);
    assert_eq!(ask_versions(&mut good, 10), (10, 0));

    let mut garbage = connect(addr);
    garbage
        .write_all(&framed(b"\xde\xad\xbe\xef garbage bytes"))
        .unwrap();
    assert!(closed(&mut garbage), "garbage closes the connection");

    let mut oversized = connect(addr);
    oversized.write_all(&4096i32.to_be_bytes()).unwrap();
    assert!(
        closed(&mut oversized),
        "a frame over socket.request.max.bytes closes it"
    );

    let mut truncated = connect(addr);
    truncated.write_all(&api_versions(11)[..9]).unwrap();
    drop(truncated);

    assert_eq!(
        ask_versions(&mut good, 12),
        (12, 0),
        "the good connection is still served"
    );
    let mut fresh = connect(addr);
    assert_eq!(ask_versions(&mut fresh, 13), (13, 0), "and so are new ones");
}

/// Sends one request and reads its response.
fn call<Q: Encodable, A: Decodable + HeaderVersion>(
    s: &mut TcpStream,
    key: ApiKey,
    version: i16,
    request: &Q,
) -> A {
    send(s, key, version, request);
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    let mut b = bytes::Bytes::from(body);
    let h = ResponseHeader::decode(&mut b, A::header_version(version)).unwrap();
    assert_eq!(h.correlation_id, 77);
    A::decode(&mut b, version).unwrap()
}

fn send<Q: Encodable>(s: &mut TcpStream, key: ApiKey, version: i16, request: &Q) {
    let mut buf = BytesMut::new();
    let mut h = RequestHeader::default();
    h.request_api_key = key as i16;
    h.request_api_version = version;
    h.correlation_id = 77;
    encode_request_header_into_buffer(&mut buf, &h).unwrap();
    request.encode(&mut buf, version).unwrap();
    s.write_all(&framed(&buf)).unwrap();
}

fn ask_metadata(s: &mut TcpStream, topics: Option<&[&str]>, auto_create: bool) -> MetadataResponse {
    let mut r = MetadataRequest::default();
    r.allow_auto_topic_creation = auto_create;
    r.topics = topics.map(|ts| {
        ts.iter()
            .map(|t| {
                let mut mt = MetadataRequestTopic::default();
                mt.name = Some(TopicName(StrBytes::from_string(t.to_string())));
                mt
            })
            .collect()
    });
    call(s, ApiKey::Metadata, 12, &r)
}

#[test]
fn metadata_reports_the_cluster_and_auto_creates_topics() {
    let addr = start(1 << 20);
    let mut s = connect(addr);
    let all = ask_metadata(&mut s, None, true);
    assert_eq!(all.brokers.len(), 1);
    assert_eq!(all.brokers[0].port, i32::from(addr.port()));
    assert_eq!(all.brokers[0].node_id.0, 0);
    assert!(all.cluster_id.as_deref().unwrap().starts_with("insync-"));
    assert!(all.topics.is_empty());
    let unknown = ask_metadata(&mut s, Some(&["nope"]), false);
    assert_eq!(
        unknown.topics[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    let invalid = ask_metadata(&mut s, Some(&["no/slashes"]), true);
    assert_eq!(
        invalid.topics[0].error_code,
        ErrorCode::InvalidTopicException.code()
    );
    let created = ask_metadata(&mut s, Some(&["orders"]), true);
    let t = &created.topics[0];
    assert_eq!(t.error_code, 0);
    assert_eq!(t.partitions.len(), 1);
    assert_eq!(t.partitions[0].leader_id.0, 0, "the lone broker leads");
    assert_eq!(ask_metadata(&mut s, None, false).topics.len(), 1);
}

/// A record batch of `values` as a client library encodes it.
fn batch(values: &[&str], producer_id: i64, sequence: i32) -> Bytes {
    let values: Vec<Bytes> = values.iter().map(|v| Bytes::from(v.to_string())).collect();
    encode_batch(&values, producer_id, sequence, 1_700_000_000_000).unwrap()
}

fn produce_request(topic: &str, acks: i16, records: Bytes) -> ProduceRequest {
    let mut p = PartitionProduceData::default();
    p.index = 0;
    p.records = Some(records);
    let mut t = TopicProduceData::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partition_data = vec![p];
    let mut r = ProduceRequest::default();
    r.acks = acks;
    r.timeout_ms = 5_000;
    r.topic_data = vec![t];
    r
}

/// Produces and returns (error code, base offset).
fn produce(s: &mut TcpStream, topic: &str, acks: i16, records: Bytes) -> (i16, i64) {
    let r: ProduceResponse = call(
        s,
        ApiKey::Produce,
        9,
        &produce_request(topic, acks, records),
    );
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// Fetches from `offset` without waiting; returns (error, HW, values).
fn fetch(s: &mut TcpStream, topic: &str, offset: i64) -> (i16, i64, Vec<String>) {
    let mut p = FetchPartition::default();
    p.partition = 0;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut r = FetchRequest::default();
    r.replica_id = kafka_protocol::messages::BrokerId(-1);
    r.max_wait_ms = 0;
    r.min_bytes = 1;
    r.max_bytes = 1 << 20;
    r.topics = vec![t];
    let r: FetchResponse = call(s, ApiKey::Fetch, 12, &r);
    let p = &r.responses[0].partitions[0];
    let mut values = Vec::new();
    let mut bytes = p.records.clone().unwrap_or_default();
    while !bytes.is_empty() {
        let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
        for rec in set.records {
            if rec.offset >= offset {
                values.push(String::from_utf8(rec.value.unwrap().to_vec()).unwrap());
            }
        }
    }
    (p.error_code, p.high_watermark, values)
}

#[test]
fn produced_batches_are_fetched_back_at_their_offsets() {
    let addr = start(1 << 20);
    let mut s = connect(addr);
    ask_metadata(&mut s, Some(&["t"]), true);
    assert_eq!(produce(&mut s, "t", 1, batch(&["a", "b"], -1, -1)), (0, 0));
    assert_eq!(produce(&mut s, "t", -1, batch(&["c"], -1, -1)), (0, 2));
    // acks=0 gets no answer: the next response on the connection is the fetch's.
    send(
        &mut s,
        ApiKey::Produce,
        9,
        &produce_request("t", 0, batch(&["d"], -1, -1)),
    );
    assert_eq!(
        fetch(&mut s, "t", 0),
        (0, 4, vec!["a".into(), "b".into(), "c".into(), "d".into()])
    );
    assert_eq!(
        fetch(&mut s, "t", 1).2,
        vec!["b", "c", "d"],
        "from inside a batch"
    );
    assert_eq!(fetch(&mut s, "t", 4), (0, 4, vec![]));
    assert_eq!(
        fetch(&mut s, "t", 5).0,
        1,
        "past the end: OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(
        fetch(&mut s, "nope", 0).0,
        ErrorCode::UnknownTopicOrPartition.code()
    );
}

/// Fetch v13 and later name topics by id (KIP-516): a consumer's fetch by
/// the id Metadata reports reads the same records, answered under that
/// id, and an id the broker does not know gets UNKNOWN_TOPIC_ID.
#[test]
fn a_fetch_names_its_topic_by_id_from_v13() {
    let addr = start(1 << 20);
    let mut s = connect(addr);
    let id = ask_metadata(&mut s, Some(&["by-id"]), true).topics[0].topic_id;
    assert!(!id.is_nil(), "Metadata v12 reports the topic's id");
    assert_eq!(
        produce(&mut s, "by-id", 1, batch(&["a", "b"], -1, -1)),
        (0, 0)
    );
    let fetch_by_id = |s: &mut TcpStream, topic_id, version| {
        let mut p = FetchPartition::default();
        p.partition = 0;
        p.partition_max_bytes = 1 << 20;
        let mut t = FetchTopic::default();
        t.topic_id = topic_id;
        t.partitions = vec![p];
        let mut r = FetchRequest::default();
        r.replica_id = kafka_protocol::messages::BrokerId(-1);
        r.max_bytes = 1 << 20;
        r.topics = vec![t];
        let answer: FetchResponse = call(s, ApiKey::Fetch, version, &r);
        assert_eq!(answer.responses[0].topic_id, topic_id);
        answer.responses[0].partitions[0].clone()
    };
    for version in [13, 15] {
        let p = fetch_by_id(&mut s, id, version);
        assert_eq!((p.error_code, p.high_watermark), (0, 2), "v{version}");
        let mut bytes = p.records.unwrap_or_default();
        let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
        let values: Vec<_> = set
            .records
            .iter()
            .map(|r| r.value.clone().unwrap())
            .collect();
        assert_eq!(values, ["a", "b"], "v{version}");
        let unknown = fetch_by_id(&mut s, uuid::Uuid::from_u128(7), version);
        assert_eq!(unknown.error_code, ErrorCode::UnknownTopicId.code());
    }
}

#[test]
fn bad_batches_and_settings_get_kafkas_error_codes_and_change_nothing() {
    let addr = start(1 << 20);
    let mut s = connect(addr);
    ask_metadata(&mut s, Some(&["t"]), true);
    let mut corrupt = BytesMut::from(&batch(&["x"], -1, -1)[..]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert_eq!(
        produce(&mut s, "t", 1, corrupt.freeze()),
        (2, -1),
        "CORRUPT_MESSAGE"
    );
    let whole = batch(&["x"], -1, -1);
    assert_eq!(
        produce(&mut s, "t", 1, whole.slice(..whole.len() - 3)).0,
        2,
        "truncated"
    );
    let mut two = BytesMut::from(&batch(&["x"], -1, -1)[..]);
    two.extend_from_slice(&batch(&["y"], -1, -1));
    assert_eq!(
        produce(&mut s, "t", 1, two.freeze()).0,
        87,
        "INVALID_RECORD"
    );
    assert_eq!(
        produce(&mut s, "t", 2, batch(&["x"], -1, -1)).0,
        21,
        "INVALID_REQUIRED_ACKS"
    );
    assert_eq!(
        produce(&mut s, "nope", 1, batch(&["x"], -1, -1)).0,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    assert_eq!(
        fetch(&mut s, "t", 0),
        (0, 0, vec![]),
        "nothing was appended"
    );
    assert_eq!(
        produce(&mut s, "t", 1, batch(&["ok"], -1, -1)),
        (0, 0),
        "and the broker still serves"
    );
}

#[test]
fn an_idempotent_retry_is_answered_with_the_first_offset() {
    let addr = start(1 << 20);
    let mut s = connect(addr);
    ask_metadata(&mut s, Some(&["t"]), true);
    let mut init = InitProducerIdRequest::default();
    init.transactional_id = None;
    init.producer_id = kafka_protocol::messages::ProducerId(-1);
    init.producer_epoch = -1;
    let id: InitProducerIdResponse = call(&mut s, ApiKey::InitProducerId, 4, &init);
    assert_eq!(id.error_code, 0);
    let pid = id.producer_id.0;
    assert!(pid >= 0);
    assert_eq!(produce(&mut s, "t", -1, batch(&["a", "b"], pid, 0)), (0, 0));
    assert_eq!(
        produce(&mut s, "t", -1, batch(&["a", "b"], pid, 0)),
        (0, 0),
        "the retry"
    );
    assert_eq!(produce(&mut s, "t", -1, batch(&["c"], pid, 2)), (0, 2));
    assert_eq!(
        produce(&mut s, "t", -1, batch(&["e"], pid, 4)).0,
        45,
        "a gap: OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    assert_eq!(fetch(&mut s, "t", 0).2, vec!["a", "b", "c"]);
}

#[test]
fn list_offsets_and_create_topics_answer_what_the_log_holds() {
    let addr = start(1 << 20);
    let mut s = connect(addr);
    let mut ct = CreatableTopic::default();
    ct.name = TopicName(StrBytes::from_static_str("made"));
    ct.num_partitions = 2;
    ct.replication_factor = 1;
    let mut cfg = CreatableTopicConfig::default();
    cfg.name = StrBytes::from_static_str("min.insync.replicas");
    cfg.value = Some(StrBytes::from_static_str("0"));
    ct.configs = vec![cfg];
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![ct.clone()];
    let r: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 7, &req);
    assert_eq!(
        r.topics[0].error_code, 40,
        "min.insync.replicas 0: INVALID_CONFIG"
    );
    // Above the replica count Kafka accepts it (the replica count caps it
    // from 3.7), and so does the broker.
    let mut above = ct.clone();
    above.name = TopicName(StrBytes::from_static_str("above"));
    above.configs[0].value = Some(StrBytes::from_static_str("2"));
    req.topics = vec![above];
    let r: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 7, &req);
    assert_eq!(r.topics[0].error_code, 0, "min.insync.replicas 2 > RF 1");
    ct.configs.clear();
    req.topics = vec![ct];
    let r: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 7, &req);
    assert_eq!((r.topics[0].error_code, r.topics[0].num_partitions), (0, 2));
    let r: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 7, &req);
    assert_eq!(r.topics[0].error_code, 36, "TOPIC_ALREADY_EXISTS");
    assert_eq!(
        ask_metadata(&mut s, Some(&["made"]), false).topics[0]
            .partitions
            .len(),
        2
    );

    produce(&mut s, "made", 1, batch(&["a", "b", "c"], -1, -1));
    let offsets = |s: &mut TcpStream, ts: i64| {
        let mut p = ListOffsetsPartition::default();
        p.partition_index = 0;
        p.timestamp = ts;
        let mut t = ListOffsetsTopic::default();
        t.name = TopicName(StrBytes::from_static_str("made"));
        t.partitions = vec![p];
        let mut r = ListOffsetsRequest::default();
        r.replica_id = kafka_protocol::messages::BrokerId(-1);
        r.topics = vec![t];
        let r: ListOffsetsResponse = call(s, ApiKey::ListOffsets, 7, &r);
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.offset)
    };
    assert_eq!(offsets(&mut s, -1), (0, 3), "latest: the HW");
    assert_eq!(offsets(&mut s, -2), (0, 0), "earliest");
    assert_eq!(
        offsets(&mut s, 1_700_000_000_001),
        (0, 0),
        "the batch holding that time"
    );
    assert_eq!(
        offsets(&mut s, 1_800_000_000_000),
        (0, -1),
        "nothing that late"
    );
}

#[test]
fn followers_replicate_and_acks_all_waits_for_the_whole_isr() {
    let c = start_cluster_of(3, 1 << 20);
    let mut s = connect(c.brokers[0]);
    let meta = ask_metadata(&mut s, Some(&["r"]), true);
    let p = &meta.topics[0].partitions[0];
    assert_eq!(p.replica_nodes.len(), 3);
    assert_eq!(p.isr_nodes.len(), 3);
    let leader = p.leader_id.0 as usize;
    assert_eq!(p.leader_epoch, 1, "the first election");
    let mut l = connect(c.brokers[leader]);
    for i in 0..5 {
        assert_eq!(
            produce(&mut l, "r", -1, batch(&["x", "y"], -1, -1)),
            (0, 2 * i)
        );
    }
    // acks=all answered: every ISR member holds all ten records.
    for (b, shared) in c.shared.iter().enumerate() {
        let end = shared
            .lock()
            .partition("r", 0)
            .unwrap()
            .replica
            .log
            .end_offset();
        assert_eq!(end, 10, "broker {b}");
    }
    let follower = (leader + 1) % 3;
    let mut f = connect(c.brokers[follower]);
    assert_eq!(
        produce(&mut f, "r", 1, batch(&["z"], -1, -1)).0,
        6,
        "a follower refuses produce: NOT_LEADER_OR_FOLLOWER"
    );
    assert_eq!(fetch(&mut l, "r", 0).2.len(), 10);
}

#[test]
fn every_node_traces_its_decisions_as_json_lines() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("trace-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let c = start_traced(3, 1 << 20, Some(dir.clone()));
    let mut s = connect(c.brokers[0]);
    let leader = ask_metadata(&mut s, Some(&["traced"]), true).topics[0].partitions[0]
        .leader_id
        .0;
    let mut l = connect(c.brokers[leader as usize]);
    assert_eq!(
        produce(&mut l, "traced", -1, batch(&["a", "b"], -1, -1)),
        (0, 0)
    );
    let lines = |file: &str| common::written_jsonl(&dir.join(file));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let appended = loop {
        let found = lines(&format!("broker-{leader}.jsonl"))
            .into_iter()
            .find(|l| l["event"]["type"] == "LeaderAppend");
        if let Some(f) = found {
            break f;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the leader traces its append"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(appended["topic"], "traced");
    assert_eq!(appended["event"]["offset"], 0);
    assert_eq!(appended["event"]["record"]["records"], 2);
    let elected = lines("controller.jsonl");
    assert!(
        elected
            .iter()
            .any(|l| l["event"]["type"] == "LeaderElected" && l["event"]["broker"] == leader),
        "{elected:?}"
    );
}

#[test]
fn acks_all_times_out_with_request_timed_out_while_followers_do_not_fetch() {
    let c = start_cluster_of(3, 1 << 20);
    let mut s = connect(c.brokers[0]);
    let p = ask_metadata(&mut s, Some(&["slow"]), true).topics[0].partitions[0].clone();
    let leader = p.leader_id.0 as usize;
    let mut l = connect(c.brokers[leader]);
    assert_eq!(produce(&mut l, "slow", -1, batch(&["a"], -1, -1)), (0, 0));
    for (b, shared) in c.shared.iter().enumerate() {
        if b != leader {
            shared
                .fetching_paused
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let mut req = produce_request("slow", -1, batch(&["b"], -1, -1));
    req.timeout_ms = 300;
    let r: ProduceResponse = call(&mut l, ApiKey::Produce, 9, &req);
    let answer = &r.responses[0].partition_responses[0];
    assert_eq!(answer.error_code, 7, "REQUEST_TIMED_OUT");
    assert_eq!(
        fetch(&mut l, "slow", 0).2,
        vec!["a"],
        "b is appended but not visible"
    );
    for shared in &c.shared {
        shared
            .fetching_paused
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while fetch(&mut l, "slow", 0).2.len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "b becomes visible once replicated"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(produce(&mut l, "slow", -1, batch(&["c"], -1, -1)), (0, 2));
}
