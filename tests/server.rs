//! The broker's TCP side with raw sockets: well-formed requests get
//! answers, and a connection that sends garbage, an oversized frame or a
//! truncated one is closed without disturbing the others.

use bytes::BytesMut;
use insync::server::broker::INVALID_TOPIC_EXCEPTION;
use insync::server::conn::{ListenConfig, bind, serve};
use insync::server::frame::framed;
use insync::server::metadata::UNKNOWN_TOPIC_OR_PARTITION;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{
    Decodable, Encodable, HeaderVersion, StrBytes, encode_request_header_into_buffer,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn start(max_request_bytes: usize) -> SocketAddr {
    start_with(ListenConfig {
        max_request_bytes,
        ..ListenConfig::default()
    })
}

fn start_with(cfg: ListenConfig) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let (listener, addr) = bind("127.0.0.1:0".parse().unwrap()).await.expect("bind");
            tx.send(addr).unwrap();
            serve(listener, cfg).await.unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the listener starts")
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

fn ask_metadata(s: &mut TcpStream, topics: Option<&[&str]>, auto_create: bool) -> MetadataResponse {
    let mut buf = BytesMut::new();
    let mut h = RequestHeader::default();
    h.request_api_key = ApiKey::Metadata as i16;
    h.request_api_version = 12;
    h.correlation_id = 77;
    encode_request_header_into_buffer(&mut buf, &h).unwrap();
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
    r.encode(&mut buf, 12).unwrap();
    s.write_all(&framed(&buf)).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    let mut b = bytes::Bytes::from(body);
    let h = ResponseHeader::decode(&mut b, MetadataResponse::header_version(12)).unwrap();
    assert_eq!(h.correlation_id, 77);
    MetadataResponse::decode(&mut b, 12).unwrap()
}

#[test]
fn metadata_reports_the_cluster_and_auto_creates_topics() {
    let cfg = ListenConfig::default();
    let shared = cfg.shared.clone();
    let addr = start_with(cfg);
    shared.lock().view.brokers[0].port = addr.port();
    let mut s = connect(addr);
    let all = ask_metadata(&mut s, None, true);
    assert_eq!(all.brokers.len(), 1);
    assert_eq!(all.brokers[0].port, i32::from(addr.port()));
    assert!(all.cluster_id.as_deref().unwrap().starts_with("insync-"));
    assert!(all.topics.is_empty());
    let unknown = ask_metadata(&mut s, Some(&["nope"]), false);
    assert_eq!(unknown.topics[0].error_code, UNKNOWN_TOPIC_OR_PARTITION);
    let invalid = ask_metadata(&mut s, Some(&["no/slashes"]), true);
    assert_eq!(invalid.topics[0].error_code, INVALID_TOPIC_EXCEPTION);
    let created = ask_metadata(&mut s, Some(&["orders"]), true);
    let t = &created.topics[0];
    assert_eq!(t.error_code, 0);
    assert_eq!(t.partitions.len(), 1);
    assert_eq!(t.partitions[0].leader_id.0, 0, "the lone broker leads");
    assert_eq!(ask_metadata(&mut s, None, false).topics.len(), 1);
}
