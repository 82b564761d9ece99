//! The leader's produce decisions, one Kafka rule per test.

use super::config::ProtocolConfig;
use super::effects::{Effect, Effects, LogWrite, Timer};
use super::error::ErrorCode;
use super::messages::{
    FetchRequest, FetchResponse, FetchResult, Msg, Node, PartitionState, ProduceRequest,
};
use super::replica::{Input, Replica};
use super::types::{Acks, BrokerSet, ProducerSeq, Record};

/// A record: its sequence, whether an idempotent producer sent it, and
/// that producer's epoch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct R(u32, bool, u16);
impl Record for R {
    fn producer_seq(&self) -> Option<ProducerSeq> {
        self.1.then_some(ProducerSeq {
            producer_id: 7,
            producer_epoch: self.2,
            sequence: self.0,
        })
    }
}

const CLIENT: Node = Node::Client(0);

/// Broker 1 leads epoch 1 with this ISR.
fn led_by_1(isr: &[u8]) -> PartitionState {
    PartitionState {
        leader: Some(1),
        leader_epoch: 1,
        isr: BrokerSet::of(isr.iter().copied()),
        elr: BrokerSet::EMPTY,
        partition_epoch: 1,
    }
}

fn leader(isr: &[u8], min_isr: u8) -> (Replica<R>, ProtocolConfig) {
    let r = Replica::new(1, BrokerSet::of([1, 2, 3]), led_by_1(isr));
    let cfg = ProtocolConfig {
        min_insync_replicas: min_isr,
        ..ProtocolConfig::default()
    };
    (r, cfg)
}

fn produce(r: &mut Replica<R>, cfg: &ProtocolConfig, acks: Acks, rec: R) -> Vec<(Node, Msg<R>)> {
    let req = ProduceRequest {
        request: 0,
        acks,
        record: rec,
        leader_epoch: 1,
    };
    step(r, cfg, Input::Message(CLIENT, Msg::Produce(req)))
}

/// One step, and the messages it sent.
fn step(r: &mut Replica<R>, cfg: &ProtocolConfig, input: Input<R>) -> Vec<(Node, Msg<R>)> {
    let mut fx = Effects::new();
    r.step(input, cfg, &mut fx);
    fx.into_iter()
        .filter_map(|e| match e {
            Effect::Send(to, msg) => Some((to, msg)),
            _ => None,
        })
        .collect()
}

fn fetch(r: &mut Replica<R>, cfg: &ProtocolConfig, from: u8, offset: u64) -> Vec<(Node, Msg<R>)> {
    let req = FetchRequest {
        leader_epoch: 1,
        fetch_offset: offset,
        last_fetched_epoch: (offset > 0).then_some(1),
        incarnation: 0,
    };
    step(r, cfg, Input::Message(Node::Broker(from), Msg::Fetch(req)))
}

fn produce_result(sends: &[(Node, Msg<R>)]) -> Option<Result<u64, ErrorCode>> {
    sends.iter().find_map(|(to, m)| match m {
        Msg::ProduceResponse { result, .. } if *to == CLIENT => Some(*result),
        _ => None,
    })
}

#[test]
fn acks_all_below_min_isr_is_rejected_before_append() {
    let (mut r, cfg) = leader(&[1, 2], 3);
    let sends = produce(&mut r, &cfg, Acks::All, R(0, false, 0));
    assert_eq!(
        produce_result(&sends),
        Some(Err(ErrorCode::NotEnoughReplicas))
    );
    assert_eq!(r.log.end_offset(), 0, "nothing was appended");
    // acks=1 ignores min.insync.replicas.
    let sends = produce(&mut r, &cfg, Acks::One, R(1, false, 0));
    assert_eq!(produce_result(&sends), Some(Ok(0)));
}

#[test]
fn acks_all_waits_for_every_isr_member_not_just_min_isr() {
    let (mut r, cfg) = leader(&[1, 2, 3], 2);
    fetch(&mut r, &cfg, 2, 0);
    fetch(&mut r, &cfg, 3, 0);
    assert_eq!(
        produce_result(&produce(&mut r, &cfg, Acks::All, R(0, false, 0))),
        None
    );
    fetch(&mut r, &cfg, 2, 1);
    assert_eq!(
        r.high_watermark, 0,
        "broker 3 is in the ISR and lacks the record"
    );
    let sends = fetch(&mut r, &cfg, 3, 1);
    assert_eq!(r.high_watermark, 1);
    assert_eq!(produce_result(&sends), Some(Ok(0)));
}

#[test]
fn acks_zero_gets_no_response_even_on_error() {
    let (mut r, cfg) = leader(&[1], 3);
    assert!(produce(&mut r, &cfg, Acks::Zero, R(0, false, 0)).is_empty());
}

#[test]
fn an_idempotent_retry_is_dropped_and_answered_with_the_first_offset() {
    let (mut r, cfg) = leader(&[1], 1);
    assert_eq!(
        produce_result(&produce(&mut r, &cfg, Acks::One, R(0, true, 0))),
        Some(Ok(0))
    );
    assert_eq!(
        produce_result(&produce(&mut r, &cfg, Acks::One, R(0, true, 0))),
        Some(Ok(0))
    );
    assert_eq!(r.log.end_offset(), 1);
    let sends = produce(&mut r, &cfg, Acks::One, R(5, true, 0));
    assert_eq!(
        produce_result(&sends),
        Some(Err(ErrorCode::OutOfOrderSequenceNumber))
    );
}

#[test]
fn a_producer_the_log_does_not_know_may_start_at_any_sequence() {
    // KIP-360 (ProducerAppendInfo.checkSequence): its earlier batches may
    // be gone with a truncated log, so a first sequence of 3 is appended.
    let (mut r, cfg) = leader(&[1], 1);
    assert_eq!(
        produce_result(&produce(&mut r, &cfg, Acks::One, R(3, true, 0))),
        Some(Ok(0))
    );
    assert_eq!(
        produce_result(&produce(&mut r, &cfg, Acks::One, R(4, true, 0))),
        Some(Ok(1))
    );
}

#[test]
fn a_bumped_epoch_starts_at_sequence_zero_and_fences_the_old_one() {
    let (mut r, cfg) = leader(&[1], 1);
    let mut send = |rec| produce_result(&produce(&mut r, &cfg, Acks::One, rec));
    assert_eq!(send(R(0, true, 0)), Some(Ok(0)));
    // After a failed batch the producer bumps its epoch: only sequence 0
    // opens the new epoch.
    assert_eq!(
        send(R(1, true, 1)),
        Some(Err(ErrorCode::OutOfOrderSequenceNumber))
    );
    assert_eq!(send(R(0, true, 1)), Some(Ok(1)));
    // A retry from the old epoch is fenced, even one the log holds: the
    // duplicate check looks only at the latest epoch's batches.
    assert_eq!(
        send(R(0, true, 0)),
        Some(Err(ErrorCode::InvalidProducerEpoch))
    );
    assert_eq!(
        send(R(1, true, 0)),
        Some(Err(ErrorCode::InvalidProducerEpoch))
    );
    assert_eq!(send(R(0, true, 1)), Some(Ok(1)), "a retry in the new epoch");
}

#[test]
fn a_non_leader_answers_not_leader_or_follower() {
    let state = PartitionState {
        leader: Some(2),
        leader_epoch: 1,
        isr: BrokerSet::of([1, 2, 3]),
        elr: BrokerSet::EMPTY,
        partition_epoch: 1,
    };
    let mut r: Replica<R> = Replica::new(1, BrokerSet::of([1, 2, 3]), state);
    let cfg = ProtocolConfig::default();
    let sends = produce(&mut r, &cfg, Acks::One, R(0, false, 0));
    assert_eq!(
        produce_result(&sends),
        Some(Err(ErrorCode::NotLeaderOrFollower))
    );
}

/// The timers a step armed and cancelled, in order.
fn timers(r: &mut Replica<R>, cfg: &ProtocolConfig, input: Input<R>) -> Vec<(Timer, bool)> {
    let mut fx = Effects::new();
    r.step(input, cfg, &mut fx);
    fx.into_iter()
        .filter_map(|e| match e {
            Effect::ArmTimer(t) => Some((t, true)),
            Effect::CancelTimer(t) => Some((t, false)),
            _ => None,
        })
        .collect()
}

fn fetch_input(from: u8, offset: u64) -> Input<R> {
    let req = FetchRequest {
        leader_epoch: 1,
        fetch_offset: offset,
        last_fetched_epoch: (offset > 0).then_some(1),
        incarnation: 0,
    };
    Input::Message(Node::Broker(from), Msg::Fetch(req))
}

#[test]
fn lag_timers_run_while_a_follower_is_behind_and_survive_an_isr_change_in_flight() {
    let (mut r, cfg) = leader(&[1, 2, 3], 1);
    let mut fx = Effects::new();
    r.start(&cfg, &mut fx);
    let lag = Timer::ReplicaLagTimeMax;
    let armed: Vec<_> = fx
        .into_iter()
        .filter_map(|e| match e {
            Effect::ArmTimer(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(
        armed,
        [lag(2), lag(3)],
        "a new leader starts both followers' clocks"
    );
    // Broker 2 fetches at the LEO: caught up, its clock stops.
    assert_eq!(
        timers(&mut r, &cfg, fetch_input(2, 0)),
        vec![(lag(2), false)]
    );
    // An append leaves it behind again.
    let req = ProduceRequest {
        request: 0,
        acks: Acks::One,
        record: R(0, false, 0),
        leader_epoch: 1,
    };
    let t = timers(&mut r, &cfg, Input::Message(CLIENT, Msg::Produce(req)));
    assert_eq!(t, vec![(lag(2), true)]);
    // Broker 3's timer runs out: the leader proposes dropping it, and its
    // clock goes on (it is still in the ISR, still behind).
    assert!(r.accepts_timeout(lag(3)));
    let sends = step(&mut r, &cfg, Input::Timeout(lag(3)));
    assert!(
        sends
            .iter()
            .any(|(to, m)| *to == Node::Controller && matches!(m, Msg::AlterPartition { .. }))
    );
    // While the change is in flight no timer may fire, and broker 2's keeps running.
    assert!(!r.accepts_timeout(lag(2)));
    assert!(!r.accepts_timeout(lag(3)));
    assert_eq!(r.timers().collect::<Vec<_>>(), vec![lag(2), lag(3)]);
}

#[test]
fn a_step_gives_its_events_then_its_log_writes_then_its_messages() {
    let (mut r, cfg) = leader(&[1], 1);
    let mut fx = Effects::traced().with_writes();
    let req = ProduceRequest {
        request: 0,
        acks: Acks::One,
        record: R(0, false, 0),
        leader_epoch: 1,
    };
    let cfg = ProtocolConfig {
        flush_interval_messages: Some(1),
        ..cfg
    };
    r.step(Input::Message(CLIENT, Msg::Produce(req)), &cfg, &mut fx);
    let kinds: Vec<&str> = fx
        .into_iter()
        .map(|e| match e {
            Effect::Event(_) => "event",
            Effect::Write(LogWrite::Append(_)) => "append",
            Effect::Write(LogWrite::Flush { .. }) => "flush",
            Effect::Write(LogWrite::Truncate { .. }) => "truncate",
            Effect::Send(..) => "send",
            Effect::ArmTimer(_) | Effect::CancelTimer(_) => "timer",
            Effect::FollowerFetched { .. } => "fetch time",
        })
        .collect();
    assert_eq!(kinds, ["event", "append", "flush", "send"]);
}

#[test]
fn a_follower_reports_its_truncation_as_a_log_write() {
    let state = PartitionState {
        leader: Some(2),
        leader_epoch: 2,
        isr: BrokerSet::of([1, 2, 3]),
        elr: BrokerSet::EMPTY,
        partition_epoch: 1,
    };
    let mut r: Replica<R> = Replica::new(1, BrokerSet::of([1, 2, 3]), state);
    r.log.append(1, R(0, false, 0));
    r.log.append(1, R(1, false, 0));
    let cfg = ProtocolConfig::default();
    let resp = FetchResponse {
        leader_epoch: 2,
        fetch_offset: 2,
        incarnation: 0,
        result: FetchResult::Diverging {
            epoch: 1,
            end_offset: 1,
        },
    };
    r.fetch_in_flight = true;
    let mut fx = Effects::new().with_writes();
    r.step(
        Input::Message(Node::Broker(2), Msg::FetchResponse(resp)),
        &cfg,
        &mut fx,
    );
    let writes: Vec<_> = fx
        .into_iter()
        .filter_map(|e| match e {
            Effect::Write(w) => Some(w),
            _ => None,
        })
        .collect();
    assert_eq!(writes, vec![LogWrite::Truncate { to: 1 }]);
    assert_eq!(r.log.end_offset(), 1);
}

#[test]
#[should_panic(expected = "past LEO")]
fn a_step_that_leaves_the_hw_past_the_log_stops() {
    let (mut r, cfg) = leader(&[1], 1);
    r.high_watermark = 5;
    step(&mut r, &cfg, fetch_input(2, 0));
}

/// Issue 16: a fetch that arrives before the LeaderAndIsr it names is
/// validated like any other once that LeaderAndIsr comes. Here broker 1's
/// log ends in epoch 1, which broker 2's log (both entries in epoch 2) has
/// never held, so the answer is a diverging epoch ending at offset 0
/// (`Partition.fetchRecords` → `validateFetchOffsetAndMaybeGetDivergingEpoch`),
/// never records from offset 1 that would sit after broker 1's own offset 0.
#[test]
fn a_fetch_waiting_for_its_epoch_is_checked_for_divergence_when_the_epoch_comes() {
    let epoch_2 = PartitionState {
        leader: Some(3),
        leader_epoch: 2,
        isr: BrokerSet::of([2, 3]),
        elr: BrokerSet::EMPTY,
        partition_epoch: 2,
    };
    let mut r: Replica<R> = Replica::new(2, BrokerSet::of([1, 2, 3]), epoch_2);
    r.log.append(2, R(0, false, 0));
    r.log.append(2, R(1, false, 0));
    let cfg = ProtocolConfig {
        min_insync_replicas: 2,
        ..ProtocolConfig::default()
    };
    let early = FetchRequest {
        leader_epoch: 3,
        fetch_offset: 1,
        last_fetched_epoch: Some(1),
        incarnation: 1,
    };
    let sends = step(
        &mut r,
        &cfg,
        Input::Message(Node::Broker(1), Msg::Fetch(early)),
    );
    assert!(sends.is_empty(), "epoch 3 is not known yet: {sends:?}");
    let epoch_3 = PartitionState {
        leader: Some(2),
        leader_epoch: 3,
        isr: BrokerSet::of([2]),
        elr: BrokerSet::EMPTY,
        partition_epoch: 3,
    };
    let msg = Msg::LeaderAndIsr {
        state: epoch_3,
        broker_epoch: 0,
    };
    let sends = step(&mut r, &cfg, Input::Message(Node::Controller, msg));
    let answers: Vec<_> = sends
        .iter()
        .filter_map(|(to, m)| match m {
            Msg::FetchResponse(resp) if *to == Node::Broker(1) => Some(&resp.result),
            _ => None,
        })
        .collect();
    assert_eq!(
        answers,
        [&FetchResult::Diverging {
            epoch: 1,
            end_offset: 0
        }]
    );
    assert_eq!(r.partition.isr, BrokerSet::of([2]), "no ISR expansion");
}

/// A controlled shutdown: SIGTERM only asks; the controller's leave makes
/// the broker flush its log (a log write the runtime must make), close its
/// connections and stop; its next start registers as a clean shutdown.
#[test]
fn a_controlled_shutdown_flushes_stops_and_restarts_clean() {
    let (mut r, cfg) = leader(&[1, 2], 2);
    produce(&mut r, &cfg, Acks::All, R(0, false, 0));
    let asked = step(&mut r, &cfg, Input::ControlledShutdown);
    assert_eq!(
        asked,
        vec![(
            Node::Controller,
            Msg::ControlledShutdown { broker_epoch: 0 }
        )]
    );
    assert!(
        !r.stopped && r.is_leader(),
        "it serves until allowed to stop"
    );

    let allowed = Input::Message(Node::Controller, Msg::ShutdownAllowed { broker_epoch: 0 });
    let mut fx = Effects::new().with_writes();
    r.step(allowed, &cfg, &mut fx);
    let effects: Vec<_> = fx.into_iter().collect();
    assert!(
        matches!(
            effects.first(),
            Some(Effect::Write(LogWrite::Flush { to: 1 }))
        ),
        "the log is flushed first: {effects:?}"
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Send(CLIENT, Msg::ConnectionReset))),
        "the pending acks=all produce sees its connection close"
    );
    assert!(r.stopped && !r.is_leader());
    assert_eq!(r.log.flushed_offset(), 1);

    let again = step(&mut r, &cfg, Input::Restart);
    assert_eq!(
        again,
        vec![(
            Node::Controller,
            Msg::BrokerRegistration {
                clean_shutdown: true,
                broker_epoch: 1
            }
        )]
    );
    assert!(!r.stopped);
}

/// Leader 1 alone in the ISR (under min.insync.replicas=2), with two
/// records no follower has: the strict rule holds the HW at 0. Broker 2
/// then fetches at offset 0, the HW but not the leader's end.
fn rejoin_at_the_stalled_hw(cfg: &ProtocolConfig) -> Vec<(Node, Msg<R>)> {
    let (mut r, _) = leader(&[1], 2);
    produce(&mut r, cfg, Acks::One, R(0, false, 0));
    produce(&mut r, cfg, Acks::One, R(1, false, 0));
    assert_eq!((r.high_watermark, r.log.end_offset()), (0, 2));
    fetch(&mut r, cfg, 2, 0)
}

#[test]
fn under_min_isr_a_follower_at_the_stalled_hw_rejoins_unless_kafka_19996() {
    let proposes = |sends: &[(Node, Msg<R>)]| {
        sends
            .iter()
            .any(|(to, m)| *to == Node::Controller && matches!(m, Msg::AlterPartition { .. }))
    };
    let today = ProtocolConfig {
        min_insync_replicas: 2,
        strict_min_isr: true,
        ..ProtocolConfig::default()
    };
    // Partition.isFollowerInSync: reaching the HW is enough today.
    assert!(proposes(&rejoin_at_the_stalled_hw(&today)));
    let proposal = ProtocolConfig {
        caught_up_isr_expansion_under_min_isr: true,
        ..today
    };
    assert!(!proposes(&rejoin_at_the_stalled_hw(&proposal)));
}

/// The fetch-time effects of one step: `(follower, caught up as of its
/// previous fetch)`.
fn fetch_times(r: &mut Replica<R>, cfg: &ProtocolConfig, input: Input<R>) -> Vec<(u8, bool)> {
    let mut fx = Effects::new();
    r.step(input, cfg, &mut fx);
    fx.into_iter()
        .filter_map(|e| match e {
            Effect::FollowerFetched {
                follower,
                caught_up_as_of_previous,
            } => Some((follower, caught_up_as_of_previous)),
            _ => None,
        })
        .collect()
}

/// Kafka's `Replica.updateFetchStateOrThrow`: a fetch that reaches the
/// leader's LEO as of the follower's previous fetch makes the follower
/// caught up as of that previous fetch, even when the leader has appended
/// since, so a follower one fetch behind under steady writes keeps its
/// lag clock fresh. A fetch short of that LEO does not.
#[test]
fn a_fetch_reaching_the_leo_of_the_previous_fetch_is_caught_up_as_of_that_fetch() {
    let (mut r, cfg) = leader(&[1, 2], 1);
    r.start(&cfg, &mut Effects::new());
    produce(&mut r, &cfg, Acks::One, R(0, false, 0));
    assert_eq!(
        fetch_times(&mut r, &cfg, fetch_input(2, 0)),
        vec![(2, false)],
        "a first fetch has no previous one"
    );
    produce(&mut r, &cfg, Acks::One, R(1, false, 0));
    // The LEO was 1 at the previous fetch; this one reaches it, not 2.
    assert_eq!(
        fetch_times(&mut r, &cfg, fetch_input(2, 1)),
        vec![(2, true)]
    );
    produce(&mut r, &cfg, Acks::One, R(2, false, 0));
    assert_eq!(
        fetch_times(&mut r, &cfg, fetch_input(2, 1)),
        vec![(2, false)],
        "short of the LEO of its previous fetch (2)"
    );
    assert_eq!(
        r.timers().collect::<Vec<_>>(),
        vec![Timer::ReplicaLagTimeMax(2)],
        "its clock still runs"
    );
    // Reaching the current LEO stops the clock instead.
    let mut fx = Effects::new();
    r.step(fetch_input(2, 3), &cfg, &mut fx);
    let effects: Vec<_> = fx
        .into_iter()
        .filter_map(|e| match e {
            Effect::CancelTimer(t) => Some(format!("cancel {t:?}")),
            Effect::FollowerFetched {
                follower,
                caught_up_as_of_previous,
            } => Some(format!("fetched {follower} {caught_up_as_of_previous}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        effects,
        ["cancel ReplicaLagTimeMax(2)", "fetched 2 false"],
        "timers first, then the fetch time"
    );
}

/// The leader's LEO at each follower's last fetch only feeds the runtime's
/// clock, so it is no part of the state the checker tells apart: broker 2
/// fetching offset 0 before or after an append leaves the same state.
#[test]
fn the_leo_at_a_followers_last_fetch_is_no_part_of_the_states_identity() {
    use std::hash::BuildHasher;
    let (mut a, cfg) = leader(&[1, 2], 1);
    a.start(&cfg, &mut Effects::new());
    let mut b = a.clone();
    produce(&mut a, &cfg, Acks::One, R(0, false, 0));
    fetch(&mut a, &cfg, 2, 0);
    fetch(&mut b, &cfg, 2, 0);
    produce(&mut b, &cfg, Acks::One, R(0, false, 0));
    let end = |r: &Replica<R>| r.leader.as_ref().unwrap().last_fetch_leader_end.get(2);
    assert_eq!((end(&a), end(&b)), (Some(1), Some(0)));
    assert_eq!(a, b);
    let h = std::collections::hash_map::RandomState::new();
    assert_eq!(h.hash_one(&a), h.hash_one(&b));
}

/// `Partition.submitAlterPartition` ignores an answer to a proposal the
/// leader no longer waits for, and `handleAlterPartitionError` drops the
/// current proposal only for INELIGIBLE_REPLICA. Taking a stale refusal
/// for the current expansion would drop the joiner from the maximal ISR,
/// and the HW could pass a record the joiner lacks.
#[test]
fn a_refused_alter_partition_counts_only_for_the_proposal_it_answers() {
    let (mut r, cfg) = leader(&[1, 2], 1);
    let mut fx = Effects::new();
    r.start(&cfg, &mut fx);
    // Broker 3 fetches at the LEO: the leader proposes {1, 2, 3}.
    let sends = fetch(&mut r, &cfg, 3, 0);
    let proposed = BrokerSet::of([1, 2, 3]);
    assert!(sends.iter().any(|(_, m)| matches!(
        m,
        Msg::AlterPartition { new_isr, partition_epoch: 1, .. } if *new_isr == proposed
    )));
    let refusal = |new_isr, partition_epoch, ineligible| {
        Input::Message(
            Node::Controller,
            Msg::AlterPartitionRejected {
                new_isr,
                partition_epoch,
                ineligible,
            },
        )
    };
    // A refusal of an older proposal, or one that waits for metadata,
    // leaves the expansion pending.
    for stale in [
        refusal(BrokerSet::of([1, 2]), 0, true),
        refusal(BrokerSet::of([1]), 1, true),
        refusal(proposed, 1, false),
    ] {
        step(&mut r, &cfg, stale);
        assert_eq!(r.maximal_isr(), proposed);
    }
    // The HW waits for broker 3, which is in the maximal ISR.
    produce(&mut r, &cfg, Acks::All, R(0, false, 0));
    fetch(&mut r, &cfg, 2, 1);
    assert_eq!(r.high_watermark, 0);
    // INELIGIBLE_REPLICA for this very proposal: back to the committed ISR,
    // and the HW no longer waits for broker 3.
    let sends = step(&mut r, &cfg, refusal(proposed, 1, true));
    assert_eq!(r.maximal_isr(), BrokerSet::of([1, 2]));
    assert_eq!(r.high_watermark, 1);
    assert_eq!(produce_result(&sends), Some(Ok(0)));
}

/// What a replica ignores for good: an answer to its previous life's
/// fetch, and a LeaderAndIsr or a shutdown leave for its previous life,
/// change nothing when they arrive, however late; the answer its fetcher
/// waits for, and the controller's word to its current life, are not
/// ignored.
#[test]
fn what_an_earlier_life_was_sent_is_ignored_for_good() {
    let cfg = ProtocolConfig::default();
    let state = led_by_1(&[1, 2]);
    let mut r: Replica<R> = Replica::new(2, BrokerSet::of([1, 2]), state);
    let mut fx = Effects::new();
    r.start(&cfg, &mut fx);
    let answer = |incarnation| {
        Msg::FetchResponse(FetchResponse {
            leader_epoch: 1,
            fetch_offset: 0,
            incarnation,
            result: FetchResult::Records {
                entries: Vec::new(),
                high_watermark: 0,
            },
        })
    };
    // News of a newer epoch (the same leader and epoch again would be an
    // ISR change, which a follower ignores, below).
    let newer = PartitionState {
        leader_epoch: state.leader_epoch + 1,
        partition_epoch: state.partition_epoch + 1,
        ..state
    };
    let assign = |broker_epoch| Msg::LeaderAndIsr {
        state: newer,
        broker_epoch,
    };
    assert!(!r.ignores_for_good(&answer(0)), "the answer it waits for");
    assert!(!r.ignores_for_good(&assign(0)));
    assert!(!r.ignores_for_good(&Msg::ShutdownAllowed { broker_epoch: 0 }));

    step(&mut r, &cfg, Input::Crash { power_loss: false });
    step(&mut r, &cfg, Input::Restart);
    let earlier = [
        (Node::Broker(1), answer(0)),
        (Node::Controller, assign(0)),
        (Node::Controller, Msg::ShutdownAllowed { broker_epoch: 0 }),
    ];
    for (from, msg) in earlier {
        assert!(r.ignores_for_good(&msg), "{msg:?}");
        let before = r.clone();
        let sent = step(&mut r, &cfg, Input::Message(from, msg.clone()));
        assert!(sent.is_empty() && r == before, "{msg:?} changed something");
    }
    // The controller's word to this life is heard.
    assert!(!r.ignores_for_good(&assign(1)));
    let sent = step(&mut r, &cfg, Input::Message(Node::Controller, assign(1)));
    assert!(matches!(
        sent.as_slice(),
        [(Node::Broker(1), Msg::Fetch(_))]
    ));
    // Once it follows, an ISR change (the same leader and epoch) changes
    // nothing here.
    let isr_change = Msg::LeaderAndIsr {
        state: PartitionState {
            isr: BrokerSet::of([1]),
            partition_epoch: newer.partition_epoch + 1,
            ..newer
        },
        broker_epoch: 1,
    };
    assert!(r.ignores_for_good(&isr_change));
    let before = r.clone();
    let sent = step(&mut r, &cfg, Input::Message(Node::Controller, isr_change));
    assert!(
        sent.is_empty() && r == before,
        "an ISR change moved a follower"
    );
}

/// A leader refuses a fetch of an older epoch for good, answering
/// NOT_LEADER and nothing else, unless the follower has a fetch parked
/// here, which the old one would replace.
#[test]
fn a_fetch_of_an_older_epoch_is_refused_for_good_unless_it_replaces_one() {
    let cfg = ProtocolConfig::default();
    let state = PartitionState {
        leader_epoch: 2,
        ..led_by_1(&[1, 2])
    };
    let mut r: Replica<R> = Replica::new(1, BrokerSet::of([1, 2]), state);
    let old = FetchRequest {
        leader_epoch: 1,
        fetch_offset: 0,
        last_fetched_epoch: None,
        incarnation: 0,
    };
    assert!(r.refuses_for_good(2, &old));
    let before = r.clone();
    let sent = step(
        &mut r,
        &cfg,
        Input::Message(Node::Broker(2), Msg::Fetch(old)),
    );
    assert!(
        matches!(
            sent.as_slice(),
            [(
                Node::Broker(2),
                Msg::FetchResponse(FetchResponse {
                    result: FetchResult::NotLeader,
                    ..
                })
            )]
        ),
        "{sent:?}"
    );
    assert!(r == before, "the refusal changed the leader");

    // Broker 2's current fetch waits here for records.
    let current = FetchRequest {
        leader_epoch: 2,
        ..old
    };
    step(
        &mut r,
        &cfg,
        Input::Message(Node::Broker(2), Msg::Fetch(current)),
    );
    assert!(!r.parked.is_empty());
    assert!(
        !r.refuses_for_good(2, &old),
        "it would replace the parked fetch"
    );
    assert!(
        r.refuses_for_good(3, &old),
        "another follower's is still refused"
    );
}
