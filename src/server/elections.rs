//! ElectLeaders (v0–2): preferred and unclean leader elections on demand, as
//! `kafka-leader-election.sh` and AdminClient's `electLeaders` ask for
//! them. A KRaft broker forwards the request to the controller, which
//! decides (`ReplicationControlManager.electLeaders`); so does this one.

use super::control::wire::ElectionType;
use super::shared::Shared;
use crate::core::error::ErrorCode;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use std::time::Duration;

pub async fn elect_leaders(
    req: &ElectLeadersRequest,
    version: i16,
    shared: &Shared,
) -> ElectLeadersResponse {
    // v0 has no election type: it is always PREFERRED.
    let election = match (version, req.election_type) {
        (0, _) | (_, 0) => ElectionType::Preferred,
        (_, 1) => ElectionType::Unclean,
        // Kafka's controller throws InvalidRequestException for an unknown
        // type (`ReplicationControlManager.electionType`).
        (_, other) => {
            let why = format!("Unknown election type {other}");
            return error_response(req, version, ErrorCode::InvalidRequest, Some(why));
        }
    };
    let partitions: Option<Vec<(String, Vec<i32>)>> = req.topic_partitions.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.topic.0.to_string(), t.partitions.clone()))
            .collect()
    });
    // The client's own deadline, as Kafka's controller takes it
    // (`ControllerApis.handleElectLeaders`: `timeoutMs`); the election is
    // decided, and durable, when the controller answers.
    let wait = Duration::from_millis(u64::try_from(req.timeout_ms).unwrap_or(0));
    let Some(topics) = shared.elect_leaders(election, partitions, wait).await else {
        // Kafka's TimeoutException, whether the controller's deadline
        // passed or the forwarding did (`ForwardingManager`'s `onTimeout`),
        // carries no message of its own (`ApiError.fromThrowable`).
        return error_response(req, version, ErrorCode::RequestTimedOut, None);
    };
    let mut r = ElectLeadersResponse::default();
    for t in topics {
        let results = t
            .results
            .into_iter()
            .map(|p| (p.partition, p.error, p.message));
        r.replica_election_results
            .push(topic_result(t.topic, results));
    }
    r
}

/// The whole request failed: as `ElectLeadersRequest.getErrorResponse`,
/// every partition asked for carries the error, and so does the top level
/// from v1 on (`ElectLeadersResponse`'s constructor drops it for v0, which
/// has no such field). With no partitions named, only the top level can.
fn error_response(
    req: &ElectLeadersRequest,
    version: i16,
    error: ErrorCode,
    message: Option<String>,
) -> ElectLeadersResponse {
    let mut r = ElectLeadersResponse::default();
    if version >= 1 {
        r.error_code = error.code();
    }
    for t in req.topic_partitions.iter().flatten() {
        let mut topic = ReplicaElectionResult::default();
        topic.topic = t.topic.clone();
        for &partition in &t.partitions {
            let mut p = PartitionResult::default();
            p.partition_id = partition;
            p.error_code = error.code();
            p.error_message = message.clone().map(StrBytes::from_string);
            topic.partition_result.push(p);
        }
        r.replica_election_results.push(topic);
    }
    r
}

fn topic_result(
    topic: String,
    partitions: impl Iterator<Item = (i32, Option<ErrorCode>, Option<String>)>,
) -> ReplicaElectionResult {
    let mut t = ReplicaElectionResult::default();
    t.topic = TopicName(StrBytes::from_string(topic));
    for (partition, error, message) in partitions {
        let mut p = PartitionResult::default();
        p.partition_id = partition;
        p.error_code = error.map_or(0, ErrorCode::code);
        p.error_message = message
            .or_else(|| error.map(|e| e.name().to_string()))
            .map(StrBytes::from_string);
        t.partition_result.push(p);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::elect_leaders_request::TopicPartitions;

    fn ask(version: i16, election_type: i8, named: bool) -> ElectLeadersResponse {
        let mut req = ElectLeadersRequest::default();
        req.election_type = election_type;
        if named {
            let topic = |name: &'static str, partitions: Vec<i32>| {
                let mut t = TopicPartitions::default();
                t.topic = TopicName(StrBytes::from_static_str(name));
                t.partitions = partitions;
                t
            };
            req.topic_partitions = Some(vec![topic("t", vec![0, 1]), topic("u", vec![4])]);
        }
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(elect_leaders(&req, version, &Shared::detached()))
    }

    /// Each partition of the response: topic, partition, error code and
    /// message.
    fn partitions(r: &ElectLeadersResponse) -> Vec<(String, i32, i16, Option<String>)> {
        r.replica_election_results
            .iter()
            .flat_map(|t| {
                t.partition_result.iter().map(|p| {
                    (
                        t.topic.0.to_string(),
                        p.partition_id,
                        p.error_code,
                        p.error_message.as_ref().map(ToString::to_string),
                    )
                })
            })
            .collect()
    }

    fn everywhere(
        code: ErrorCode,
        message: Option<&str>,
    ) -> Vec<(String, i32, i16, Option<String>)> {
        [("t", 0), ("t", 1), ("u", 4)]
            .into_iter()
            .map(|(t, p)| (t.to_string(), p, code.code(), message.map(String::from)))
            .collect()
    }

    #[test]
    fn an_unknown_election_type_fails_every_partition_asked_for() {
        let r = ask(1, 5, true);
        let invalid = ErrorCode::InvalidRequest;
        assert_eq!(r.error_code, invalid.code());
        assert_eq!(
            partitions(&r),
            everywhere(invalid, Some("Unknown election type 5"))
        );
        let r = ask(2, -1, false);
        assert_eq!(r.error_code, invalid.code());
        assert!(r.replica_election_results.is_empty(), "none named");
    }

    /// No controller behind this broker, so no answer within the deadline.
    #[test]
    fn a_timeout_fails_every_partition_asked_for() {
        let timed_out = ErrorCode::RequestTimedOut;
        for version in [1, 2] {
            let r = ask(version, 0, true);
            assert_eq!(r.error_code, timed_out.code(), "v{version}");
            assert_eq!(partitions(&r), everywhere(timed_out, None), "v{version}");
        }
        let r = ask(1, 1, false);
        assert_eq!(r.error_code, timed_out.code());
        assert!(r.replica_election_results.is_empty(), "none named");
    }

    /// v0 has neither a top-level error nor an election type: the
    /// partitions carry the error alone, and any type byte is PREFERRED.
    #[test]
    fn v0_fails_only_the_partitions() {
        let r = ask(0, 5, true);
        assert_eq!(r.error_code, 0);
        let timed_out = ErrorCode::RequestTimedOut;
        assert_eq!(partitions(&r), everywhere(timed_out, None));
    }
}
