//! The leader's produce decisions, one Kafka rule per test.

use super::config::ProtocolConfig;
use super::effects::Effects;
use super::messages::{FetchRequest, Msg, Node, PartitionState};
use super::replica::Replica;
use super::types::{Acks, BrokerSet, ErrorCode, ProducerSeq, Record};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct R(u32, bool);
impl Record for R {
    fn producer_seq(&self) -> Option<ProducerSeq> {
        self.1.then_some(ProducerSeq {
            producer_id: 7,
            sequence: self.0,
        })
    }
}

const CLIENT: Node = Node::Client(0);

fn leader(isr: &[u8], min_isr: usize) -> (Replica<R>, ProtocolConfig) {
    let state = PartitionState {
        leader: Some(1),
        leader_epoch: 1,
        isr: BrokerSet::of(isr.iter().copied()),
        elr: BrokerSet::EMPTY,
        partition_epoch: 1,
    };
    let r = Replica::new(1, BrokerSet::of([1, 2, 3]), state);
    let cfg = ProtocolConfig {
        min_insync_replicas: min_isr,
        ..ProtocolConfig::default()
    };
    (r, cfg)
}

fn produce(r: &mut Replica<R>, cfg: &ProtocolConfig, acks: Acks, rec: R) -> Vec<(Node, Msg<R>)> {
    let mut fx = Effects::new();
    r.on_produce(CLIENT, 0, acks, rec, 1, cfg, &mut fx);
    fx.sends
}

fn fetch(r: &mut Replica<R>, cfg: &ProtocolConfig, from: u8, offset: u64) -> Vec<(Node, Msg<R>)> {
    let mut fx = Effects::new();
    let req = FetchRequest {
        leader_epoch: 1,
        fetch_offset: offset,
        last_fetched_epoch: (offset > 0).then_some(1),
        incarnation: 0,
    };
    r.on_fetch(from, req, cfg, &mut fx);
    fx.sends
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
    let sends = produce(&mut r, &cfg, Acks::All, R(0, false));
    assert_eq!(
        produce_result(&sends),
        Some(Err(ErrorCode::NotEnoughReplicas))
    );
    assert_eq!(r.log.end_offset(), 0, "nothing was appended");
    // acks=1 ignores min.insync.replicas.
    let sends = produce(&mut r, &cfg, Acks::One, R(1, false));
    assert_eq!(produce_result(&sends), Some(Ok(0)));
}

#[test]
fn acks_all_waits_for_every_isr_member_not_just_min_isr() {
    let (mut r, cfg) = leader(&[1, 2, 3], 2);
    fetch(&mut r, &cfg, 2, 0);
    fetch(&mut r, &cfg, 3, 0);
    assert_eq!(
        produce_result(&produce(&mut r, &cfg, Acks::All, R(0, false))),
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
    assert!(produce(&mut r, &cfg, Acks::Zero, R(0, false)).is_empty());
}

#[test]
fn an_idempotent_retry_is_dropped_and_answered_with_the_first_offset() {
    let (mut r, cfg) = leader(&[1], 1);
    assert_eq!(
        produce_result(&produce(&mut r, &cfg, Acks::One, R(0, true))),
        Some(Ok(0))
    );
    assert_eq!(
        produce_result(&produce(&mut r, &cfg, Acks::One, R(0, true))),
        Some(Ok(0))
    );
    assert_eq!(r.log.end_offset(), 1);
    let sends = produce(&mut r, &cfg, Acks::One, R(5, true));
    assert_eq!(
        produce_result(&sends),
        Some(Err(ErrorCode::OutOfOrderSequenceNumber))
    );
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
    let sends = produce(&mut r, &cfg, Acks::One, R(0, false));
    assert_eq!(
        produce_result(&sends),
        Some(Err(ErrorCode::NotLeaderOrFollower))
    );
}
