//! The properties of DESIGN §3, under exactly those names, plus the
//! `sometimes` sanity properties that keep every verdict from being vacuous.

use super::actor::BrokerState;
use super::config::ModelConfig;
use super::record::Rec;
use super::state::{KafkaModel, KafkaState, Snapshot, View};
use crate::core::messages::Msg;
use crate::core::producer::Outcome;
use crate::core::types::{Acks, Offset};
use stateright::Expectation;

pub const ACKED_NEVER_LOST: &str = "acked_never_lost";
pub const VISIBLE_NEVER_LOST: &str = "visible_never_lost";
pub const REPLICAS_AGREE: &str = "replicas_agree";
pub const NO_DUPLICATES: &str = "no_duplicates";
pub const LEADER_IN_ISR: &str = "leader_in_isr";
pub const WRITES_AVAILABLE: &str = "writes_available";
pub const LINEARIZABLE: &str = "linearizable";
pub const SOMETIMES_ACKED: &str = "sometimes_write_acknowledged";
pub const SOMETIMES_LEADER_CHANGE: &str = "sometimes_leader_change";
pub const SOMETIMES_CRASH: &str = "sometimes_crash";
pub const SOMETIMES_READ: &str = "sometimes_consumer_read";

/// The `always` properties, in the order reports list them.
pub const SAFETY: [&str; 7] = [
    ACKED_NEVER_LOST,
    VISIBLE_NEVER_LOST,
    REPLICAS_AGREE,
    NO_DUPLICATES,
    LEADER_IN_ISR,
    WRITES_AVAILABLE,
    LINEARIZABLE,
];

/// Whether a Produce for `value` is still on its way to a broker.
fn produce_in_flight<S: Snapshot>(state: &S, value: u8) -> bool {
    state
        .messages()
        .any(|msg| matches!(msg, Msg::Produce(req) if req.record.value == value))
}

fn acked_never_lost<S: Snapshot>(_: &ModelConfig, state: &S, v: &View) -> bool {
    acked_missing(state, v).next().is_none()
}

/// What `acked_never_lost` forbids: each record acknowledged (with acks=0,
/// sent) that the current leader's log lacks, with its outcome. Stories
/// and charts name the same records the property counts.
pub fn acked_missing<'s, 'a: 's, S: Snapshot>(
    state: &'s S,
    v: &View<'a>,
) -> impl Iterator<Item = (&'a Outcome, &'a Rec)> + 's {
    let log = v.leader_log();
    let p = v.producer;
    p.outcomes
        .iter()
        .zip(&p.records)
        .filter(move |(o, r)| match o {
            Outcome::Acked(_) => true,
            // acks=0: acknowledged means sent, once the request left the network.
            Outcome::Sent => !produce_in_flight(state, r.value),
            Outcome::Failed(_) => false,
        })
        .filter(move |(_, r)| {
            log.is_some_and(|log| !log.entries().iter().any(|e| e.record.value == r.value))
        })
}

fn visible_never_lost<S: Snapshot>(_: &ModelConfig, _: &S, v: &View) -> bool {
    visible_missing(v).next().is_none()
}

/// What `visible_never_lost` forbids: each (broker, offset, record) a
/// broker exposed below its HW that the current leader's log does not hold
/// at that offset.
pub fn visible_missing<'v, 'a: 'v>(
    v: &'v View<'a>,
) -> impl Iterator<Item = (&'a BrokerState, Offset, Rec)> + 'v {
    let log = v.leader_log();
    v.brokers.iter().flat_map(move |&b| {
        b.exposed.iter().filter_map(move |(offset, rec)| {
            let kept = log?.entry_at(*offset).is_some_and(|e| e.record == *rec);
            (!kept).then_some((b, *offset, *rec))
        })
    })
}

fn replicas_agree<S: Snapshot>(_: &ModelConfig, _: &S, v: &View) -> bool {
    for (i, a) in v.brokers.iter().enumerate() {
        for b in &v.brokers[i + 1..] {
            let (a, b) = (a.replica.log.entries(), b.replica.log.entries());
            // The last position where both hold an entry of the same epoch...
            let last_match = a
                .iter()
                .zip(b.iter())
                .rposition(|(x, y)| x.offset == y.offset && x.epoch == y.epoch);
            // ...must be preceded by identical entries.
            if let Some(n) = last_match
                && a[..=n] != b[..=n]
            {
                return false;
            }
        }
    }
    true
}

fn no_duplicates<S: Snapshot>(_: &ModelConfig, _: &S, v: &View) -> bool {
    let Some(log) = v.leader_log() else {
        return true;
    };
    let mut seen = 0u64;
    log.entries().iter().all(|e| {
        let bit = 1u64 << (e.record.value % 64);
        let fresh = seen & bit == 0;
        seen |= bit;
        fresh
    })
}

fn leader_in_isr<S: Snapshot>(_: &ModelConfig, _: &S, v: &View) -> bool {
    let s = v.controller.core.state;
    s.leader.is_none_or(|l| s.isr.contains(l))
}

/// Every record the producer has an outcome for succeeded, and once
/// nothing more can happen without a new fault, every record has one. A
/// record still waiting then is one `delivery.timeout.ms` fails (its
/// outcome unknown to the producer): Kafka's producer retries
/// NOT_LEADER_OR_FOLLOWER and lost connections until that timeout
/// (`Sender.failBatch` on `RecordAccumulator.expiredBatches` and
/// `getExpiredInflightBatches`), and with nothing left to happen no answer
/// can come. Judging it only where the run is stuck keeps a timeout from
/// firing while an answer is still on its way, which would make every
/// configuration look unavailable.
fn writes_available<S: Snapshot>(_: &ModelConfig, state: &S, v: &View) -> bool {
    let p = v.producer;
    if p.is_done() {
        p.outcomes.iter().all(|o| o.is_success())
    } else {
        !state.quiet()
    }
}

fn linearizable<S: Snapshot>(_: &ModelConfig, state: &S, _: &View) -> bool {
    state.history().is_linearizable()
}

fn sometimes_acked<S: Snapshot>(cfg: &ModelConfig, _: &S, v: &View) -> bool {
    let p = v.producer;
    match cfg.kafka.acks {
        Acks::Zero => p.outcomes.contains(&Outcome::Sent),
        _ => p.outcomes.iter().any(|o| matches!(o, Outcome::Acked(_))),
    }
}

fn sometimes_leader_change<S: Snapshot>(_: &ModelConfig, _: &S, v: &View) -> bool {
    v.controller.core.state.leader_epoch > 0
}

fn sometimes_crash<S: Snapshot>(_: &ModelConfig, _: &S, v: &View) -> bool {
    v.crashes() > 0
}

fn sometimes_read<S: Snapshot>(_: &ModelConfig, _: &S, v: &View) -> bool {
    v.consumer.is_some_and(|c| !c.reads.is_empty())
}

/// A property's condition, over either state representation. The view is
/// computed once per state and shared by every property.
pub type Check<S> = fn(&ModelConfig, &S, &View) -> bool;

/// Every `always` property with its condition, in the order reports list them.
pub fn always_properties<S: Snapshot>() -> [(&'static str, Check<S>); 7] {
    [
        (ACKED_NEVER_LOST, acked_never_lost),
        (VISIBLE_NEVER_LOST, visible_never_lost),
        (REPLICAS_AGREE, replicas_agree),
        (NO_DUPLICATES, no_duplicates),
        (LEADER_IN_ISR, leader_in_isr),
        (WRITES_AVAILABLE, writes_available),
        (LINEARIZABLE, linearizable),
    ]
}

/// Every `sometimes` property with its condition.
pub fn sometimes_all<S: Snapshot>() -> [(&'static str, Check<S>); 4] {
    [
        (SOMETIMES_ACKED, sometimes_acked),
        (SOMETIMES_CRASH, sometimes_crash),
        (SOMETIMES_LEADER_CHANGE, sometimes_leader_change),
        (SOMETIMES_READ, sometimes_read),
    ]
}

/// Whether a `sometimes` property makes sense for this configuration.
fn sometimes_applies(cfg: &ModelConfig, name: &str) -> bool {
    match name {
        SOMETIMES_CRASH => cfg.crashes > 0,
        SOMETIMES_LEADER_CHANGE => {
            cfg.crashes > 0
                || cfg.controlled_shutdowns > 0
                || cfg.preferred_elections > 0
                || cfg.rolling_restart
                || cfg.network_partitions > 0
        }
        SOMETIMES_READ => cfg.consumer,
        _ => true,
    }
}

/// The properties of this configuration, in the order the model registers
/// them: every `always` one, then the `sometimes` ones that apply.
pub fn properties<S: Snapshot>(cfg: &ModelConfig) -> Vec<(&'static str, Expectation, Check<S>)> {
    let always = always_properties::<S>()
        .into_iter()
        .map(|(n, c)| (n, Expectation::Always, c));
    let sometimes = sometimes_all::<S>()
        .into_iter()
        .filter(|(n, _)| sometimes_applies(cfg, n))
        .map(|(n, c)| (n, Expectation::Sometimes, c));
    always.chain(sometimes).collect()
}

/// stateright registers conditions as plain function pointers: one per
/// position in `properties`, each looking its condition up.
fn on_actor_state<const I: usize>(model: &KafkaModel, state: &KafkaState) -> bool {
    let (_, _, check) = properties::<KafkaState>(&model.cfg)[I];
    check(&model.cfg, state, &View::of(state))
}

pub const ACTOR_CONDITIONS: [fn(&KafkaModel, &KafkaState) -> bool; 11] = [
    on_actor_state::<0>,
    on_actor_state::<1>,
    on_actor_state::<2>,
    on_actor_state::<3>,
    on_actor_state::<4>,
    on_actor_state::<5>,
    on_actor_state::<6>,
    on_actor_state::<7>,
    on_actor_state::<8>,
    on_actor_state::<9>,
    on_actor_state::<10>,
];
