//! ElectLeaders (v0–2): preferred-leader elections on demand, as
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
    let mut r = ElectLeadersResponse::default();
    // v0 has no election type: it is always PREFERRED.
    let election = match (version, req.election_type) {
        (0, _) | (_, 0) => ElectionType::Preferred,
        (_, 1) => ElectionType::Unclean,
        // Kafka's controller throws InvalidRequestException for an unknown
        // type, which reaches the client as the top-level error.
        _ => {
            r.error_code = ErrorCode::InvalidRequest.code();
            return r;
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
    let answer = shared
        .elect_leaders(election, partitions.clone(), wait)
        .await;
    let Some(topics) = answer else {
        // v0 has no top-level error: each partition asked for carries it.
        if version >= 1 {
            r.error_code = ErrorCode::RequestTimedOut.code();
        } else {
            for (topic, ids) in partitions.unwrap_or_default() {
                r.replica_election_results.push(topic_result(
                    topic,
                    ids.into_iter()
                        .map(|p| (p, Some(ErrorCode::RequestTimedOut), None)),
                ));
            }
        }
        return r;
    };
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

    fn ask(version: i16, election_type: i8) -> ElectLeadersResponse {
        let mut req = ElectLeadersRequest::default();
        req.election_type = election_type;
        let mut t = TopicPartitions::default();
        t.topic = TopicName(StrBytes::from_static_str("t"));
        t.partitions = vec![0, 1];
        req.topic_partitions = Some(vec![t]);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(elect_leaders(&req, version, &Shared::detached()))
    }

    #[test]
    fn bad_or_unanswered_requests_get_kafkas_errors() {
        let r = ask(1, 5);
        assert_eq!(
            r.error_code,
            ErrorCode::InvalidRequest.code(),
            "no such type"
        );
        assert!(r.replica_election_results.is_empty());
        // No controller behind this broker: v1 says so once, at the top.
        let r = ask(1, 0);
        assert_eq!(r.error_code, ErrorCode::RequestTimedOut.code());
        // v0 has no top-level error: each partition asked for carries it.
        let r = ask(0, 5);
        assert_eq!(r.error_code, 0);
        let codes: Vec<i16> = r.replica_election_results[0]
            .partition_result
            .iter()
            .map(|p| p.error_code)
            .collect();
        let timed_out = ErrorCode::RequestTimedOut.code();
        assert_eq!(codes, vec![timed_out, timed_out], "v0 ignores the type");
    }
}
