//! One request frame in, one response frame (or a reason to close) out:
//! header parsing, version negotiation and dispatch, with no I/O.
//!
//! Consumer groups (the classic protocol) are answered by `group::serve`.
//!
//! What a client may send is decided here once: the versions in
//! `SUPPORTED` are the ones this broker answers, and `ApiVersions` reports
//! exactly that table.

use super::elections::elect_leaders;
use super::fetch::{fetch, follower_fetch};
use super::group::plane::GroupPlane;
use super::group::serve as group;
use super::late_records::LateRecords;
use super::metadata::metadata_response;
use super::offsets::list_offsets;
use super::produce::produce;
use super::replication::fetcher;
use super::shared::Shared;
use super::topics::create_topics;
use crate::core::error::ErrorCode;
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, InitProducerIdResponse, ProducerId, RequestHeader, RequestKind,
    ResponseHeader, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, Encodable};

/// The APIs answered, with their version ranges; a client is never
/// offered an API that is not answered.
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 10),
    (ApiKey::Fetch, 4, 15),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::OffsetCommit, 0, 8),
    (ApiKey::OffsetFetch, 0, 7),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::ElectLeaders, 0, 2),
];

fn supported(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, min, max)| (*min, *max))
}

/// What to do with a request frame.
#[derive(Debug)]
pub enum Reply {
    /// Send this response.
    Respond(Box<Response>),
    /// Send nothing: an acks=0 produce.
    Nothing,
    /// Close the connection, as Kafka does for a request it cannot parse.
    Close(String),
}

/// Handles one request frame's body on this broker.
pub async fn handle(mut body: Bytes, shared: &Shared, groups: &GroupPlane) -> Reply {
    if body.len() < 8 {
        return Reply::Close(format!(
            "a request of {} bytes has no room for its header",
            body.len()
        ));
    }
    let raw_key = i16::from_be_bytes([body[0], body[1]]);
    let version = i16::from_be_bytes([body[2], body[3]]);
    let correlation_id = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    let Ok(key) = ApiKey::try_from(raw_key) else {
        return Reply::Close(format!("unknown API key {raw_key}"));
    };
    let Some((min, max)) = supported(key) else {
        return Reply::Close(format!("{key:?} is not served by this broker"));
    };
    if version < min || version > max {
        if key == ApiKey::ApiVersions {
            // KIP-511: a client newer than the broker gets the table at v0
            // and retries with a version both know.
            return respond(
                key,
                correlation_id,
                0,
                versions_response(ErrorCode::UnsupportedVersion.code()),
            );
        }
        return Reply::Close(format!(
            "{key:?} v{version} is outside the supported {min}..={max}"
        ));
    }
    let header = match RequestHeader::decode(&mut body, key.request_header_version(version)) {
        Ok(h) => h,
        Err(e) => return Reply::Close(format!("malformed {key:?} v{version} header: {e}")),
    };
    let request = match RequestKind::decode(key, &mut body, version) {
        Ok(r) => r,
        Err(e) => return Reply::Close(format!("malformed {key:?} v{version} request: {e}")),
    };
    match request {
        RequestKind::ApiVersions(_) => {
            respond(key, header.correlation_id, version, versions_response(0))
        }
        RequestKind::Metadata(req) => {
            // Topics named by id only (v10+) are not looked up yet: they
            // get UNKNOWN_TOPIC_OR_PARTITION under an empty name.
            // v0 cannot send null: there an empty list means every topic.
            let topics = req.topics.filter(|ts| version > 0 || !ts.is_empty());
            let names: Option<Vec<String>> = topics.map(|ts| {
                ts.into_iter()
                    .map(|t| t.name.map(|n| n.0.to_string()).unwrap_or_default())
                    .collect()
            });
            // Before v4 a client cannot opt out: brokers auto-create.
            let auto_create = version < 4 || req.allow_auto_topic_creation;
            let mut failed = Vec::new();
            if auto_create {
                for name in names.iter().flatten() {
                    let (exists, defaults) = {
                        let b = shared.lock();
                        (b.has_topic(name), b.defaults.clone())
                    };
                    if !exists && let Err(e) = shared.create_topic(name, defaults).await {
                        // Another client may have created it meanwhile.
                        if e.code != ErrorCode::TopicAlreadyExists {
                            failed.push((name.clone(), e.code.code()));
                        }
                    }
                }
            }
            let mut response = metadata_response(&shared.lock().view, names.as_deref(), version);
            for t in &mut response.topics {
                let name = t.name.as_ref().map(|n| n.0.as_str()).unwrap_or("");
                if let Some((_, code)) = failed.iter().find(|(n, _)| n == name) {
                    t.error_code = *code;
                }
            }
            respond(key, header.correlation_id, version, response)
        }
        RequestKind::Produce(req) => match produce(req, version, shared).await {
            Some(r) => respond(key, header.correlation_id, version, r),
            None => Reply::Nothing,
        },
        RequestKind::Fetch(req) => {
            if let Some(replica) = fetcher(&req, version) {
                let (r, late) = follower_fetch(&req, version, replica, shared).await;
                return Reply::Respond(Box::new(Response {
                    key,
                    version,
                    correlation_id: header.correlation_id,
                    body: r.into(),
                    late,
                }));
            }
            respond(
                key,
                header.correlation_id,
                version,
                fetch(&req, version, shared).await,
            )
        }
        RequestKind::ListOffsets(req) => respond(
            key,
            header.correlation_id,
            version,
            list_offsets(&req, version, shared),
        ),
        RequestKind::InitProducerId(req) => {
            let mut r = InitProducerIdResponse::default();
            if req.transactional_id.is_some() {
                // No transaction coordinator lives here.
                r.error_code = ErrorCode::CoordinatorNotAvailable.code();
                r.producer_id = ProducerId(-1);
                r.producer_epoch = -1;
            } else {
                r.producer_id = ProducerId(shared.lock().init_producer_id());
            }
            respond(key, header.correlation_id, version, r)
        }
        RequestKind::ElectLeaders(req) => respond(
            key,
            header.correlation_id,
            version,
            elect_leaders(&req, version, shared).await,
        ),
        RequestKind::CreateTopics(req) => respond(
            key,
            header.correlation_id,
            version,
            create_topics(&req, version, shared).await,
        ),
        RequestKind::FindCoordinator(req) => respond(
            key,
            header.correlation_id,
            version,
            group::find_coordinator(&req, version, shared).await,
        ),
        RequestKind::JoinGroup(req) => {
            let client = header.client_id.as_deref().unwrap_or("").to_string();
            let r = group::join_group(req, version, &client, shared, groups).await;
            respond(key, header.correlation_id, version, r)
        }
        RequestKind::SyncGroup(req) => {
            let r = group::sync_group(req, version, shared, groups).await;
            respond(key, header.correlation_id, version, r)
        }
        RequestKind::Heartbeat(req) => respond(
            key,
            header.correlation_id,
            version,
            group::heartbeat(&req, shared, groups),
        ),
        RequestKind::LeaveGroup(req) => respond(
            key,
            header.correlation_id,
            version,
            group::leave_group(&req, version, shared, groups),
        ),
        RequestKind::OffsetCommit(req) => {
            let r = group::offset_commit(req, shared, groups).await;
            respond(key, header.correlation_id, version, r)
        }
        RequestKind::OffsetFetch(req) => respond(
            key,
            header.correlation_id,
            version,
            group::offset_fetch(&req, version, shared, groups),
        ),
        other => Reply::Close(format!("{other:?} is not served by this broker")),
    }
}

fn versions_response(error_code: i16) -> ApiVersionsResponse {
    let mut r = ApiVersionsResponse::default();
    r.error_code = error_code;
    r.api_keys = SUPPORTED
        .iter()
        .map(|(k, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = *k as i16;
            v.min_version = *min;
            v.max_version = *max;
            v
        })
        .collect();
    r
}

fn respond(key: ApiKey, correlation_id: i32, version: i16, body: impl Into<ResponseKind>) -> Reply {
    Reply::Respond(Box::new(Response {
        key,
        version,
        correlation_id,
        body: body.into(),
        late: LateRecords::default(),
    }))
}

/// A response, encoded by the connection into a buffer it reuses: a fetch
/// answer can be megabytes, and a fresh buffer each time costs more in
/// page faults than the copy itself.
#[derive(Debug)]
pub struct Response {
    pub key: ApiKey,
    pub version: i16,
    pub correlation_id: i32,
    pub body: ResponseKind,
    /// Record bytes written into `body`'s placeholders as it is encoded.
    pub late: LateRecords,
}

impl Response {
    /// Appends the length prefix, header and body to `out`. Only a field
    /// too large for its version fails to encode; the connection cannot
    /// then be answered correctly.
    pub fn encode_into(&self, out: &mut BytesMut) -> Result<(), String> {
        let start = out.len();
        self.encode_plain(&self.body, out)?;
        if self.late.is_empty() {
            return Ok(());
        }
        // Fetch v12 is the first flexible version: COMPACT_RECORDS.
        if self.late.splice(out, start, self.version >= 12).is_ok() {
            return Ok(());
        }
        let ResponseKind::Fetch(fetch) = &self.body else {
            return Err(format!("{:?} holds no records to write", self.key));
        };
        let mut fetch = fetch.clone();
        let filled = self.late.materialize();
        for p in fetch
            .responses
            .iter_mut()
            .flat_map(|t| t.partitions.iter_mut())
        {
            if let Some((_, records)) = filled.iter().find(|(m, _)| p.records.as_ref() == Some(m)) {
                p.records = Some(records.clone());
            }
        }
        self.encode_plain(&ResponseKind::Fetch(fetch), out)
    }

    fn encode_plain(&self, body: &ResponseKind, out: &mut BytesMut) -> Result<(), String> {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        let mut header = ResponseHeader::default();
        header.correlation_id = self.correlation_id;
        // ApiVersions answers its header at v0 whatever the version.
        header
            .encode(out, self.key.response_header_version(self.version))
            .and_then(|()| body.encode(out, self.version))
            .map_err(|e| format!("cannot encode the {:?} response: {e}", self.key))?;
        let len = u32::try_from(out.len() - start - 4).map_err(|_| "a response over 4 GiB")?;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// The response without its length prefix.
    pub fn to_bytes(&self) -> Result<Bytes, String> {
        let mut out = BytesMut::new();
        self.encode_into(&mut out)?;
        Ok(out.freeze().slice(4..))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::FindCoordinatorResponse;
    use kafka_protocol::protocol::HeaderVersion;

    /// Handles one frame on a fresh lone broker.
    fn run(body: Bytes) -> Reply {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(handle(
                body,
                &Shared::detached(),
                &GroupPlane::new(std::time::Duration::ZERO),
            ))
    }
    use kafka_protocol::messages::ApiVersionsRequest;
    use kafka_protocol::protocol::{StrBytes, encode_request_header_into_buffer};

    fn request(key: ApiKey, version: i16, correlation_id: i32) -> Bytes {
        let mut buf = BytesMut::new();
        let mut h = RequestHeader::default();
        h.request_api_key = key as i16;
        h.request_api_version = version;
        h.correlation_id = correlation_id;
        h.client_id = Some(StrBytes::from_static_str("test"));
        encode_request_header_into_buffer(&mut buf, &h).unwrap();
        let mut r = ApiVersionsRequest::default();
        if version >= 3 {
            r.client_software_name = StrBytes::from_static_str("insync-test");
            r.client_software_version = StrBytes::from_static_str("1");
        }
        r.encode(&mut buf, version.min(3)).unwrap();
        buf.freeze()
    }

    fn versions_reply(reply: Reply, version: i16) -> (i32, ApiVersionsResponse) {
        let Reply::Respond(r) = reply else {
            panic!("expected a response, got {reply:?}")
        };
        let mut b = r.to_bytes().unwrap();
        let h = ResponseHeader::decode(&mut b, 0).unwrap();
        let r = ApiVersionsResponse::decode(&mut b, version).unwrap();
        assert!(b.is_empty(), "the response has no trailing bytes");
        (h.correlation_id, r)
    }

    #[test]
    fn api_versions_reports_the_supported_table_at_every_version() {
        for v in 0..=3 {
            let (id, r) = versions_reply(run(request(ApiKey::ApiVersions, v, 40 + v as i32)), v);
            assert_eq!(id, 40 + v as i32);
            assert_eq!(r.error_code, 0);
            let table: Vec<(i16, i16, i16)> = r
                .api_keys
                .iter()
                .map(|a| (a.api_key, a.min_version, a.max_version))
                .collect();
            let want: Vec<(i16, i16, i16)> = SUPPORTED
                .iter()
                .map(|(k, min, max)| (*k as i16, *min, *max))
                .collect();
            assert_eq!(table, want);
            assert!(table.contains(&(ApiKey::ApiVersions as i16, 0, 3)));
        }
    }

    #[test]
    fn find_coordinator_without_a_controller_says_not_available_at_every_version() {
        // No controller: `__consumer_offsets` cannot be created, so there
        // is no coordinator to name.
        use kafka_protocol::messages::FindCoordinatorRequest;
        for v in 0..=4 {
            let mut buf = BytesMut::new();
            let mut h = RequestHeader::default();
            h.request_api_key = ApiKey::FindCoordinator as i16;
            h.request_api_version = v;
            h.correlation_id = 9;
            encode_request_header_into_buffer(&mut buf, &h).unwrap();
            let mut r = FindCoordinatorRequest::default();
            if v >= 4 {
                r.coordinator_keys = vec![
                    StrBytes::from_static_str("g1"),
                    StrBytes::from_static_str("g2"),
                ];
            } else {
                r.key = StrBytes::from_static_str("g1");
            }
            r.encode(&mut buf, v).unwrap();
            let mut b = match run(buf.freeze()) {
                Reply::Respond(r) => r.to_bytes().unwrap(),
                other => panic!("FindCoordinator v{v} gets an answer, not {other:?}"),
            };
            let rh =
                ResponseHeader::decode(&mut b, FindCoordinatorResponse::header_version(v)).unwrap();
            assert_eq!(rh.correlation_id, 9);
            let resp = FindCoordinatorResponse::decode(&mut b, v).unwrap();
            if v >= 4 {
                let errors: Vec<(String, i16)> = resp
                    .coordinators
                    .iter()
                    .map(|c| (c.key.to_string(), c.error_code))
                    .collect();
                assert_eq!(
                    errors,
                    vec![
                        ("g1".to_string(), ErrorCode::CoordinatorNotAvailable.code()),
                        ("g2".to_string(), ErrorCode::CoordinatorNotAvailable.code())
                    ]
                );
            } else {
                assert_eq!(
                    resp.error_code,
                    ErrorCode::CoordinatorNotAvailable.code(),
                    "v{v}"
                );
            }
        }
    }

    #[test]
    fn a_newer_client_gets_unsupported_version_at_v0() {
        // Header as a v4 client would send it; the body is never read.
        let mut body = request(ApiKey::ApiVersions, 3, 7).to_vec();
        body[2..4].copy_from_slice(&4i16.to_be_bytes());
        let (id, r) = versions_reply(run(Bytes::from(body)), 0);
        assert_eq!(id, 7);
        assert_eq!(r.error_code, ErrorCode::UnsupportedVersion.code());
        assert_eq!(r.api_keys.len(), SUPPORTED.len());
    }

    #[test]
    fn unparseable_requests_close_the_connection() {
        let closes = |b: &[u8]| matches!(run(Bytes::copy_from_slice(b)), Reply::Close(_));
        assert!(closes(b""), "empty");
        assert!(closes(b"\x00\x12\x00"), "a truncated header");
        assert!(
            closes(b"\x7f\x7f\x00\x00\x00\x00\x00\x01"),
            "an unknown API key"
        );
        let full = request(ApiKey::ApiVersions, 3, 1);
        assert!(closes(&full[..full.len() - 3]), "a truncated body");
        let mut garbage = full.to_vec();
        for b in &mut garbage[8..] {
            *b = 0xff;
        }
        assert!(closes(&garbage), "garbage after the key, version and id");
        // Produce is known to Kafka but not served yet.
        let mut produce = full.to_vec();
        produce[0..2].copy_from_slice(&(ApiKey::Produce as i16).to_be_bytes());
        assert!(closes(&produce));
    }

    #[test]
    fn random_bytes_never_panic() {
        // A fixed-seed xorshift stream: every run tries the same frames.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let valid = request(ApiKey::ApiVersions, 3, 1).to_vec();
        for i in 0..20_000 {
            let mut b = if i % 2 == 0 {
                valid.clone()
            } else {
                (0..next() % 64).map(|_| next() as u8).collect()
            };
            // Flip a few bytes of the valid request, keeping key and version
            // half of the time so the decoders see the damage.
            for _ in 0..=next() % 4 {
                if !b.is_empty() {
                    let at = next() as usize % b.len();
                    if i % 4 != 0 || at >= 4 {
                        b[at] = next() as u8;
                    }
                }
            }
            let _ = run(Bytes::from(b));
        }
    }
}
