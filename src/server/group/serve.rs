//! The group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, OffsetCommit and OffsetFetch, in the fields each version
//! has. The coordinator of every group is the leader of
//! `__consumer_offsets` partition 0 (one partition: Kafka hashes groups
//! over 50, which changes where, not how).

use super::coordinator::{Answer, Join, JoinAnswer, SyncAnswer, join_error, sync_error};
use super::offsets::{Committed, OFFSETS_TOPIC};
use super::plane::GroupPlane;
use crate::core::error::ErrorCode;
use crate::core::types::Acks;
use crate::server::shared::{Produced, Shared};
use crate::server::topic_settings::TopicSettings;
use crate::wire::batch::Batch;
use bytes::Bytes;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, HeartbeatRequest, HeartbeatResponse,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use std::time::{Duration, Instant};

fn code(e: Option<ErrorCode>) -> i16 {
    e.map_or(0, ErrorCode::code)
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Where the coordinator is: `__consumer_offsets` (created on first use,
/// with the broker's defaults and one partition) and its leader.
async fn locate(shared: &Shared) -> Result<(i32, String, i32), ErrorCode> {
    let (exists, defaults) = {
        let b = shared.lock();
        (b.has_topic(OFFSETS_TOPIC), b.defaults.clone())
    };
    if !exists {
        let settings = TopicSettings {
            partitions: 1,
            ..defaults
        };
        if let Err(e) = shared.create_topic(OFFSETS_TOPIC, settings).await
            && e.code != ErrorCode::TopicAlreadyExists
        {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
    }
    let b = shared.lock();
    let leader = b
        .view
        .topics
        .get(OFFSETS_TOPIC)
        .and_then(|t| t.partitions.first())
        .and_then(|p| p.state.leader)
        .ok_or(ErrorCode::CoordinatorNotAvailable)?;
    let addr = b
        .view
        .brokers
        .iter()
        .find(|a| a.id == leader)
        .ok_or(ErrorCode::CoordinatorNotAvailable)?;
    Ok((i32::from(leader), addr.host.clone(), i32::from(addr.port)))
}

pub async fn find_coordinator(
    req: &FindCoordinatorRequest,
    version: i16,
    shared: &Shared,
) -> FindCoordinatorResponse {
    // key_type 1 asks for a transaction coordinator: none lives here.
    let found = if version >= 1 && req.key_type != 0 {
        Err(ErrorCode::CoordinatorNotAvailable)
    } else {
        locate(shared).await
    };
    let mut r = FindCoordinatorResponse::default();
    let (node, host, port, error) = match &found {
        Ok((n, h, p)) => (*n, h.clone(), *p, 0),
        Err(e) => (-1, String::new(), -1, e.code()),
    };
    if version >= 4 {
        r.coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                let mut c = Coordinator::default();
                c.key = k.clone();
                c.node_id = BrokerId(node);
                c.host = text(&host);
                c.port = port;
                c.error_code = error;
                c
            })
            .collect();
    } else {
        r.error_code = error;
        r.node_id = BrokerId(node);
        r.host = text(&host);
        r.port = port;
    }
    r
}

/// Whether this broker coordinates now: it leads `__consumer_offsets`-0.
/// The first request after it began to lead loads the committed offsets
/// from that partition (COORDINATOR_LOAD_IN_PROGRESS until its HW has
/// reached its log end, so no commit of an earlier leader is missed).
fn coordinating(shared: &Shared, plane: &GroupPlane) -> Result<(), ErrorCode> {
    let b = shared.lock();
    let leading = b
        .partition(OFFSETS_TOPIC, 0)
        .filter(|p| p.replica.is_leader());
    let Some(p) = leading else {
        plane.lock().resign();
        return Err(ErrorCode::NotCoordinator);
    };
    let epoch = p.replica.partition.leader_epoch;
    let mut g = plane.lock();
    if g.cache.loaded_in == Some(epoch) {
        return Ok(());
    }
    if p.replica.high_watermark < p.replica.log.end_offset() {
        return Err(ErrorCode::CoordinatorLoadInProgress);
    }
    let batches = p
        .replica
        .log
        .entries()
        .iter()
        .map(|e| e.record.read())
        .collect::<Result<Vec<Bytes>, _>>()
        .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
    g.begin(epoch, batches);
    Ok(())
}

fn join_response(a: JoinAnswer, version: i16) -> JoinGroupResponse {
    let mut r = JoinGroupResponse::default();
    r.error_code = code(a.error);
    r.generation_id = a.generation;
    r.member_id = text(&a.member_id);
    r.leader = text(&a.leader);
    if version >= 7 {
        r.protocol_type = a.protocol_type.as_deref().map(text);
        r.protocol_name = a.protocol.as_deref().map(text);
    } else {
        r.protocol_name = Some(text(a.protocol.as_deref().unwrap_or("")));
    }
    r.members = a
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            let mut m = JoinGroupResponseMember::default();
            m.member_id = text(&id);
            m.group_instance_id = instance.as_deref().map(text);
            m.metadata = metadata;
            m
        })
        .collect();
    r
}

fn ms(v: i32) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

pub async fn join_group(
    req: JoinGroupRequest,
    version: i16,
    client_id: &str,
    shared: &Shared,
    plane: &GroupPlane,
) -> JoinGroupResponse {
    let member_id = req.member_id.to_string();
    if let Err(e) = coordinating(shared, plane) {
        return join_response(join_error(&member_id, e), version);
    }
    let rebalance_timeout = if version >= 1 {
        ms(req.rebalance_timeout_ms)
    } else {
        ms(req.session_timeout_ms)
    };
    let join = Join {
        group: req.group_id.0.to_string(),
        member_id: member_id.clone(),
        instance_id: req.group_instance_id.as_ref().map(ToString::to_string),
        client_id: client_id.to_string(),
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
        session_timeout: ms(req.session_timeout_ms),
        rebalance_timeout,
        require_known_member_id: version >= 4,
    };
    let limit = rebalance_timeout + Duration::from_secs(5);
    let now = Instant::now();
    let answer = match plane
        .ask(limit, |g, ticket| {
            g.join(ticket, join, now).map(Answer::Join)
        })
        .await
    {
        Some(Answer::Join(a)) => a,
        _ => join_error(&member_id, ErrorCode::NotCoordinator),
    };
    join_response(answer, version)
}

fn sync_response(a: SyncAnswer, version: i16) -> SyncGroupResponse {
    let mut r = SyncGroupResponse::default();
    r.error_code = code(a.error);
    r.assignment = a.assignment;
    if version >= 5 {
        r.protocol_type = a.protocol_type.as_deref().map(text);
        r.protocol_name = a.protocol.as_deref().map(text);
    }
    r
}

pub async fn sync_group(
    req: SyncGroupRequest,
    version: i16,
    shared: &Shared,
    plane: &GroupPlane,
) -> SyncGroupResponse {
    if let Err(e) = coordinating(shared, plane) {
        return sync_response(sync_error(e), version);
    }
    let assignments = req
        .assignments
        .iter()
        .map(|a| (a.member_id.to_string(), a.assignment.clone()))
        .collect();
    let now = Instant::now();
    let (group, member) = (req.group_id.0.to_string(), req.member_id.to_string());
    let answer = match plane
        .ask(Duration::from_secs(300), |g, ticket| {
            g.sync(ticket, &group, &member, req.generation_id, assignments, now)
                .map(Answer::Sync)
        })
        .await
    {
        Some(Answer::Sync(a)) => a,
        _ => sync_error(ErrorCode::NotCoordinator),
    };
    sync_response(answer, version)
}

pub fn heartbeat(req: &HeartbeatRequest, shared: &Shared, plane: &GroupPlane) -> HeartbeatResponse {
    let mut r = HeartbeatResponse::default();
    r.error_code = match coordinating(shared, plane) {
        Err(e) => e.code(),
        Ok(()) => {
            let mut g = plane.lock();
            let e = g.groups.heartbeat(
                &req.group_id.0,
                &req.member_id,
                req.generation_id,
                Instant::now(),
            );
            g.route();
            code(e)
        }
    };
    r
}

pub fn leave_group(
    req: &LeaveGroupRequest,
    version: i16,
    shared: &Shared,
    plane: &GroupPlane,
) -> LeaveGroupResponse {
    let mut r = LeaveGroupResponse::default();
    let members: Vec<(String, Option<StrBytes>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| (m.member_id.to_string(), m.group_instance_id.clone()))
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    if let Err(e) = coordinating(shared, plane) {
        r.error_code = e.code();
        return r;
    }
    let ids: Vec<String> = members.iter().map(|(id, _)| id.clone()).collect();
    let errors = {
        let mut g = plane.lock();
        let e = g.groups.leave(&req.group_id.0, &ids, Instant::now());
        g.route();
        e
    };
    if version >= 3 {
        r.members = members
            .into_iter()
            .zip(&errors)
            .map(|((id, instance), e)| {
                let mut m = MemberResponse::default();
                m.member_id = text(&id);
                m.group_instance_id = instance;
                m.error_code = code(*e);
                m
            })
            .collect();
    } else {
        r.error_code = code(errors.first().copied().flatten());
    }
    r
}

/// How a failed append of commits reads to the committer
/// (`GroupMetadataManager.storeOffsets`).
fn commit_error(e: ErrorCode) -> ErrorCode {
    match e {
        ErrorCode::UnknownTopicOrPartition
        | ErrorCode::NotEnoughReplicas
        | ErrorCode::NotEnoughReplicasAfterAppend => ErrorCode::CoordinatorNotAvailable,
        ErrorCode::NotLeaderOrFollower | ErrorCode::KafkaStorageError => ErrorCode::NotCoordinator,
        ErrorCode::RequestTimedOut => ErrorCode::RequestTimedOut,
        _ => ErrorCode::CoordinatorNotAvailable,
    }
}

/// Appends the commits acks=all and waits for the ISR.
async fn store(shared: &Shared, commits: &[Committed]) -> Result<(), ErrorCode> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let bytes = super::offsets::encode(commits, now_ms).map_err(|_| ErrorCode::InvalidRequest)?;
    let batch = Batch::parse_all(&bytes)
        .ok()
        .and_then(|mut b| b.pop())
        .ok_or(ErrorCode::InvalidRequest)?;
    let produced = shared
        .lock()
        .produce(OFFSETS_TOPIC, 0, batch, Acks::All, Instant::now())
        .ok_or(ErrorCode::NotCoordinator)?;
    shared.changed.notify_waiters();
    let result = match produced {
        Produced::Unanswered => Ok(0),
        Produced::Now(r) => r,
        Produced::Later(rx) => match tokio::time::timeout(Duration::from_secs(5), rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ErrorCode::NotLeaderOrFollower),
            Err(_) => Err(ErrorCode::RequestTimedOut),
        },
    };
    result.map(|_| ()).map_err(commit_error)
}

pub async fn offset_commit(
    req: OffsetCommitRequest,
    shared: &Shared,
    plane: &GroupPlane,
) -> OffsetCommitResponse {
    let group = req.group_id.0.to_string();
    let checked = coordinating(shared, plane).err().or_else(|| {
        plane
            .lock()
            .groups
            .may_commit(&group, &req.member_id, req.generation_id_or_member_epoch)
    });
    let commits: Vec<Committed> = req
        .topics
        .iter()
        .flat_map(|t| {
            let group = group.clone();
            t.partitions.iter().map(move |p| Committed {
                group: group.clone(),
                topic: t.name.0.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                metadata: p.committed_metadata.as_ref().map(ToString::to_string),
            })
        })
        .collect();
    let result = match checked {
        Some(e) => Err(e),
        None if commits.is_empty() => Ok(()),
        None => store(shared, &commits).await,
    };
    if result.is_ok() {
        let mut g = plane.lock();
        for c in commits {
            g.cache.apply(c);
        }
    }
    let mut r = OffsetCommitResponse::default();
    r.topics = req
        .topics
        .iter()
        .map(|t| {
            let mut rt = OffsetCommitResponseTopic::default();
            rt.name = t.name.clone();
            rt.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut rp = OffsetCommitResponsePartition::default();
                    rp.partition_index = p.partition_index;
                    rp.error_code = code(result.err());
                    rp
                })
                .collect();
            rt
        })
        .collect();
    r
}

pub fn offset_fetch(
    req: &OffsetFetchRequest,
    version: i16,
    shared: &Shared,
    plane: &GroupPlane,
) -> OffsetFetchResponse {
    let group = req.group_id.0.to_string();
    let mut r = OffsetFetchResponse::default();
    let failed = coordinating(shared, plane).err();
    let g = plane.lock();
    let asked: Vec<(kafka_protocol::messages::TopicName, Vec<i32>)> = match &req.topics {
        Some(ts) => ts
            .iter()
            .map(|t| (t.name.clone(), t.partition_indexes.clone()))
            .collect(),
        None => {
            let mut by_topic: Vec<(kafka_protocol::messages::TopicName, Vec<i32>)> = Vec::new();
            for (t, p) in g.cache.of_group(&group) {
                match by_topic.iter_mut().find(|(n, _)| n.0.as_str() == t) {
                    Some((_, ps)) => ps.push(p),
                    None => by_topic.push((kafka_protocol::messages::TopicName(text(&t)), vec![p])),
                }
            }
            by_topic
        }
    };
    r.topics = asked
        .into_iter()
        .map(|(name, parts)| {
            let mut rt = OffsetFetchResponseTopic::default();
            rt.partitions = parts
                .into_iter()
                .map(|index| {
                    let mut rp = OffsetFetchResponsePartition::default();
                    rp.partition_index = index;
                    rp.committed_leader_epoch = -1;
                    let found = failed
                        .is_none()
                        .then(|| g.cache.get(&group, &name.0, index))
                        .flatten();
                    rp.committed_offset = found.map_or(-1, |(o, _)| *o);
                    rp.metadata = Some(text(found.and_then(|(_, m)| m.as_deref()).unwrap_or("")));
                    // Before v2 the error can only be told per partition.
                    rp.error_code = if version < 2 { code(failed) } else { 0 };
                    rp
                })
                .collect();
            rt.name = name;
            rt
        })
        .collect();
    if version >= 2 {
        r.error_code = code(failed);
    }
    r
}
