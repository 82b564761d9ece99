//! Metadata responses: what the cluster looks like to a client, in the
//! fields each Metadata version has. The partition state is the protocol
//! core's own `PartitionState`, so clients see exactly what the controller
//! decided (leader, leader epoch, ISR).

use crate::core::error::ErrorCode;
use crate::core::messages::PartitionState;
use crate::core::types::{BrokerId, BrokerSet};
use crate::server::group::offsets::OFFSETS_TOPIC;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId as WireBrokerId, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BrokerAddr {
    pub id: BrokerId,
    pub host: String,
    pub port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartitionView {
    pub replicas: BrokerSet,
    pub state: PartitionState,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopicView {
    pub id: Uuid,
    /// Indexed by partition number.
    pub partitions: Vec<PartitionView>,
}

/// Everything a Metadata response reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClusterView {
    pub cluster_id: String,
    pub controller: Option<BrokerId>,
    pub brokers: Vec<BrokerAddr>,
    pub topics: BTreeMap<String, TopicView>,
}

fn wire(b: BrokerId) -> WireBrokerId {
    WireBrokerId(i32::from(b))
}

fn wire_set(s: BrokerSet) -> Vec<WireBrokerId> {
    s.iter().map(wire).collect()
}

/// The response to a Metadata request for `requested` topics (`None`: all
/// of them) at `version`. Fields the version lacks stay at their defaults,
/// since encoding refuses a value a version cannot carry.
pub fn metadata_response(
    view: &ClusterView,
    requested: Option<&[String]>,
    version: i16,
) -> MetadataResponse {
    let mut r = MetadataResponse::default();
    r.brokers = view
        .brokers
        .iter()
        .map(|b| {
            let mut w = MetadataResponseBroker::default();
            w.node_id = wire(b.id);
            w.host = StrBytes::from_string(b.host.clone());
            w.port = i32::from(b.port);
            w
        })
        .collect();
    if version >= 1 {
        r.controller_id = view.controller.map_or(WireBrokerId(-1), wire);
    }
    if version >= 2 {
        r.cluster_id = Some(StrBytes::from_string(view.cluster_id.clone()));
    }
    let names: Vec<&String> = match requested {
        Some(names) => names.iter().collect(),
        None => view.topics.keys().collect(),
    };
    r.topics = names
        .into_iter()
        .map(|name| topic(name, view.topics.get(name), version))
        .collect();
    r
}

fn topic(name: &str, t: Option<&TopicView>, version: i16) -> MetadataResponseTopic {
    let mut w = MetadataResponseTopic::default();
    w.name = Some(TopicName(StrBytes::from_string(name.to_string())));
    let Some(t) = t else {
        w.error_code = ErrorCode::UnknownTopicOrPartition.code();
        return w;
    };
    if version >= 10 {
        w.topic_id = t.id;
    }
    // Kafka's one internal topic here: clients leave it out of pattern
    // subscriptions and listings.
    if version >= 1 {
        w.is_internal = name == OFFSETS_TOPIC;
    }
    w.partitions = t
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut w = MetadataResponsePartition::default();
            w.partition_index = i as i32;
            match p.state.leader {
                Some(l) => w.leader_id = wire(l),
                None => {
                    w.leader_id = WireBrokerId(-1);
                    w.error_code = ErrorCode::LeaderNotAvailable.code();
                }
            }
            if version >= 7 {
                w.leader_epoch = p.state.leader_epoch as i32;
            }
            w.replica_nodes = wire_set(p.replicas);
            w.isr_nodes = wire_set(p.state.isr);
            w
        })
        .collect();
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::protocol::{Decodable, Encodable};

    fn view() -> ClusterView {
        let state = |leader, leader_epoch, isr: &[BrokerId]| PartitionState {
            leader,
            leader_epoch,
            isr: BrokerSet::of(isr.iter().copied()),
            elr: BrokerSet::EMPTY,
            partition_epoch: 0,
        };
        let all = BrokerSet::of([1, 2, 3]);
        let mut topics = BTreeMap::new();
        topics.insert(
            "orders".to_string(),
            TopicView {
                id: Uuid::from_u128(0x1234),
                partitions: vec![
                    PartitionView {
                        replicas: all,
                        state: state(Some(2), 3, &[2, 3]),
                    },
                    PartitionView {
                        replicas: all,
                        state: state(None, 4, &[]),
                    },
                ],
            },
        );
        ClusterView {
            cluster_id: "insync-test".into(),
            controller: Some(1),
            brokers: (1..=3)
                .map(|id| BrokerAddr {
                    id,
                    host: "127.0.0.1".into(),
                    port: 9091 + u16::from(id),
                })
                .collect(),
            topics,
        }
    }

    fn round_trip(r: &MetadataResponse, version: i16) -> MetadataResponse {
        let mut buf = BytesMut::new();
        r.encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("v{version} encodes: {e}"));
        let mut b = buf.freeze();
        let back = MetadataResponse::decode(&mut b, version).unwrap();
        assert!(b.is_empty());
        back
    }

    #[test]
    fn every_version_encodes_and_keeps_what_it_can_carry() {
        let v = view();
        for version in 0..=12 {
            let r = round_trip(&metadata_response(&v, None, version), version);
            assert_eq!(r.brokers.len(), 3);
            assert_eq!(r.brokers[1].port, 9093);
            let t = &r.topics[0];
            assert_eq!(t.error_code, 0);
            let p0 = &t.partitions[0];
            assert_eq!(p0.leader_id, WireBrokerId(2));
            assert_eq!(p0.isr_nodes, vec![WireBrokerId(2), WireBrokerId(3)]);
            assert_eq!(p0.replica_nodes.len(), 3);
            let p1 = &t.partitions[1];
            assert_eq!(
                (p1.leader_id, p1.error_code),
                (WireBrokerId(-1), ErrorCode::LeaderNotAvailable.code())
            );
            assert_eq!(p0.leader_epoch, if version >= 7 { 3 } else { -1 });
            assert_eq!(
                t.topic_id,
                if version >= 10 {
                    Uuid::from_u128(0x1234)
                } else {
                    Uuid::nil()
                }
            );
            assert_eq!(
                r.controller_id,
                WireBrokerId(if version >= 1 { 1 } else { -1 })
            );
            assert_eq!(r.cluster_id.is_some(), version >= 2);
        }
    }

    #[test]
    fn an_unknown_topic_gets_its_error() {
        let r = metadata_response(&view(), Some(&["nope".to_string()]), 12);
        assert_eq!(r.topics.len(), 1);
        assert_eq!(
            r.topics[0].error_code,
            ErrorCode::UnknownTopicOrPartition.code()
        );
        assert!(r.topics[0].partitions.is_empty());
    }

    #[test]
    fn consumer_offsets_is_reported_internal() {
        let mut v = view();
        let t = v.topics.values().next().unwrap().clone();
        v.topics.insert(OFFSETS_TOPIC.to_string(), t);
        let r = metadata_response(&v, None, 12);
        let internal: Vec<(String, bool)> = r
            .topics
            .iter()
            .map(|t| (t.name.as_ref().unwrap().0.to_string(), t.is_internal))
            .collect();
        assert!(
            internal.contains(&(OFFSETS_TOPIC.to_string(), true)),
            "{internal:?}"
        );
        assert!(
            internal.iter().filter(|(_, i)| !*i).count() == 1,
            "{internal:?}"
        );
    }
}
