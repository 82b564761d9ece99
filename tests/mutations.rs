//! Each deliberate protocol bug must turn a verdict red: if one does not,
//! the checker (or the property) is not looking where it claims to.

use insync::check::{self, CheckOptions};
use insync::core::config::Mutation;
use insync::core::settings::KafkaSettings;
use insync::core::types::Acks;
use insync::model::properties::{
    ACKED_NEVER_LOST, LEADER_IN_ISR, REPLICAS_AGREE, WRITES_AVAILABLE,
};
use insync::model::{CrashMode, ModelConfig};
use insync::scenario::{Expect, Verdict};

fn small(acks: Acks, min_isr: u8, lag_removals: u8) -> ModelConfig {
    ModelConfig {
        kafka: KafkaSettings {
            acks,
            min_insync_replicas: min_isr,
            retries: 0,
            ..KafkaSettings::default()
        },
        records: 1,
        crashes: 1,
        crash_mode: CrashMode::Process,
        lag_removals,
        ..ModelConfig::default()
    }
}

fn verdict(cfg: &ModelConfig, property: &str) -> Verdict {
    let r = check::run(cfg, &Expect::default(), &CheckOptions::default());
    r.property(property).expect("checked").verdict
}

/// The property holds for `cfg` and is violated once `mutation` is in.
fn assert_caught(cfg: ModelConfig, mutation: Mutation, property: &str) {
    assert_eq!(
        verdict(&cfg, property),
        Verdict::Holds,
        "{property} holds without {mutation:?}"
    );
    let mutated = ModelConfig {
        mutation: Some(mutation),
        ..cfg
    };
    assert_eq!(
        verdict(&mutated, property),
        Verdict::Violated,
        "{mutation:?} breaks {property}"
    );
}

#[test]
fn acking_before_the_isr_has_the_record_loses_it() {
    assert_caught(
        small(Acks::All, 2, 0),
        Mutation::AckBeforeIsrHasRecord,
        ACKED_NEVER_LOST,
    );
}

#[test]
fn advancing_the_hw_past_a_lagging_isr_member_loses_acked_records() {
    assert_caught(
        small(Acks::All, 2, 0),
        Mutation::HighWatermarkPastLaggingIsr,
        ACKED_NEVER_LOST,
    );
}

#[test]
fn electing_outside_the_isr_without_unclean_is_caught() {
    assert_caught(
        small(Acks::All, 1, 1),
        Mutation::ElectOutsideIsr,
        LEADER_IN_ISR,
    );
    let cfg = ModelConfig {
        mutation: Some(Mutation::ElectOutsideIsr),
        ..small(Acks::All, 1, 1)
    };
    assert_eq!(verdict(&cfg, ACKED_NEVER_LOST), Verdict::Violated);
}

/// Issue 16: two process crashes at RF=2 are enough for a restarted
/// follower to send a fetch that reaches the re-elected leader before its
/// LeaderAndIsr does; answering it unchecked puts a record of epoch 2 after
/// the follower's own record of epoch 1.
#[test]
fn answering_a_fetch_before_checking_it_makes_replicas_disagree() {
    let cfg = ModelConfig {
        kafka: KafkaSettings {
            acks: Acks::All,
            replication_factor: 2,
            min_insync_replicas: 1,
            retries: 1,
            ..KafkaSettings::default()
        },
        records: 2,
        crashes: 2,
        crash_mode: CrashMode::Process,
        lag_removals: 0,
        ..ModelConfig::default()
    };
    assert_caught(cfg, Mutation::AnswerFetchBeforeCheckingIt, REPLICAS_AGREE);
}

/// Issue 13: after an unclean election the new leader has no state for
/// the idempotent producer, whose next record carries sequence 1. Kafka
/// (KIP-360, `ProducerAppendInfo.checkSequence`) appends it; refusing it
/// fails the write for good.
#[test]
fn refusing_an_unknown_producers_sequence_fails_writes_kafka_accepts() {
    let cfg = ModelConfig {
        kafka: KafkaSettings {
            acks: Acks::All,
            replication_factor: 2,
            min_insync_replicas: 1,
            unclean_leader_election_enable: true,
            enable_idempotence: true,
            retries: 1,
            ..KafkaSettings::default()
        },
        records: 2,
        crashes: 1,
        crash_mode: CrashMode::Process,
        lag_removals: 1,
        ..ModelConfig::default()
    };
    assert_caught(
        cfg,
        Mutation::RejectUnknownProducerSequence,
        WRITES_AVAILABLE,
    );
}

#[test]
fn skipping_the_min_isr_check_appends_what_kafka_rejects() {
    use insync::core::config::ProtocolConfig;
    use insync::core::effects::{Effect, Effects};
    use insync::core::error::ErrorCode;
    use insync::core::messages::{Msg, Node, PartitionState, ProduceRequest};
    use insync::core::replica::{Input, Replica};
    use insync::core::types::BrokerSet;
    use insync::model::record::Rec;
    // The leader of an ISR of 2 with min.insync.replicas=3 takes an acks=all write.
    let run = |mutation| {
        let state = PartitionState {
            leader: Some(1),
            leader_epoch: 1,
            isr: BrokerSet::of([1, 2]),
            elr: BrokerSet::EMPTY,
            partition_epoch: 1,
        };
        let mut r = Replica::new(1, BrokerSet::of([1, 2, 3]), state);
        let cfg = ProtocolConfig {
            min_insync_replicas: 3,
            mutation,
            ..ProtocolConfig::default()
        };
        let mut fx = Effects::new();
        let rec = Rec::new(0, false);
        let req = ProduceRequest {
            request: 0,
            acks: Acks::All,
            record: rec,
            leader_epoch: 1,
        };
        r.step(
            Input::Message(Node::Client(0), Msg::Produce(req)),
            &cfg,
            &mut fx,
        );
        let rejected = fx.into_iter().any(|e| {
            matches!(
                e,
                Effect::Send(
                    _,
                    Msg::ProduceResponse {
                        result: Err(ErrorCode::NotEnoughReplicas),
                        ..
                    }
                )
            )
        });
        (rejected, r.log.end_offset())
    };
    assert_eq!(run(None), (true, 0), "NOT_ENOUGH_REPLICAS before append");
    assert_ne!(
        run(Some(Mutation::SkipMinIsrCheck)),
        (true, 0),
        "the mutation is visible"
    );
}

#[test]
fn moving_the_preferred_leader_outside_the_isr_loses_acked_records() {
    // No crash at all: one preferred-leader election is the only fault.
    let cfg = ModelConfig {
        crashes: 0,
        lag_removals: 1,
        preferred_elections: 1,
        ..small(Acks::All, 2, 1)
    };
    assert_caught(cfg, Mutation::PreferredLeaderOutsideIsr, ACKED_NEVER_LOST);
}

/// A cut-off follower's fetch answer is lost in the partition; after the
/// heal it must fetch again, or an acks=all record waits forever for it.
/// The run then goes quiet with the record unanswered, which is what
/// `writes_available` calls a delivery timeout.
#[test]
fn a_follower_that_never_fetches_again_after_a_partition_leaves_writes_hanging() {
    let cfg = ModelConfig {
        crashes: 0,
        network_partitions: 1,
        ..small(Acks::All, 2, 0)
    };
    let cfg = ModelConfig {
        kafka: KafkaSettings {
            retries: 1,
            ..cfg.kafka.clone()
        },
        ..cfg
    };
    assert_caught(
        cfg.clone(),
        Mutation::FetcherWaitsForLostFetch,
        WRITES_AVAILABLE,
    );
    let mutated = ModelConfig {
        mutation: Some(Mutation::FetcherWaitsForLostFetch),
        ..cfg
    };
    let r = check::run(&mutated, &Expect::default(), &CheckOptions::default());
    let story = &r.property(WRITES_AVAILABLE).unwrap().counterexample;
    let end = story.as_ref().and_then(|c| c.ending.as_ref()).unwrap();
    assert!(
        end.contains("delivery.timeout.ms") && end.contains("r0"),
        "the story ends with the record's timeout: {end}"
    );
}
