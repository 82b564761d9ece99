//! A counterexample as a message-sequence chart: one lifeline per actor,
//! each step a message from one lifeline to another or an event on one
//! (a crash, a restart, an election, a lag removal), and every broker's log
//! after the step, with the records the violation is about marked.

use super::story::Action;
use super::trace::Trace;
use crate::core::messages::{FetchResult, Msg};
use crate::model::actor::{KMsg, Timer};
use crate::model::properties::{
    ACKED_NEVER_LOST, LINEARIZABLE, NO_DUPLICATES, VISIBLE_NEVER_LOST, WRITES_AVAILABLE,
    acked_missing, visible_missing,
};
use crate::model::record::Rec;
use crate::model::state::{KafkaModel, View};
use serde::Serialize;
use stateright::actor::{Actor, ActorModelAction};

#[derive(Clone, Debug, Serialize)]
pub struct Diagram {
    /// The actors, in the model's order: brokers, controller, clients.
    pub lifelines: Vec<String>,
    pub steps: Vec<Step>,
    /// The records the violation is about ("r0"), marked wherever they go.
    pub marked: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A message delivered from `from` to `actor`.
    Message,
    Crash,
    Restart,
    /// The controller picked a leader.
    Election,
    /// A follower dropped for lagging (`replica.lag.time.max.ms`).
    Lag,
    /// Any other timer: SIGTERM, a network partition and its healing.
    Event,
}

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// The lifeline the step happens on (a message's receiver).
    pub actor: usize,
    /// A message's sender.
    pub from: Option<usize>,
    pub kind: Kind,
    /// A few words for the arrow or the mark.
    pub label: String,
    /// The step's line of the story.
    pub story: String,
    /// Whether the message carries a marked record.
    pub carries_marked: bool,
    /// After the step, per broker: its log's records, in offset order.
    pub logs: Vec<Vec<String>>,
    pub high_watermarks: Vec<u64>,
    pub down: Vec<bool>,
    /// The leader the controller has committed, as a lifeline index.
    pub leader: Option<usize>,
}

pub fn diagram(model: &KafkaModel, trace: &Trace, story: &[String], property: &str) -> Diagram {
    let lifelines: Vec<String> = model.actors.iter().map(|a| a.name()).collect();
    let marked = marked(trace, property);
    let steps = trace
        .actions
        .iter()
        .zip(&trace.states[1..])
        .zip(story)
        .map(|((action, after), story)| {
            let v = View::of(after);
            let (actor, from, kind, label, carried) = shape(action);
            Step {
                actor,
                from,
                kind,
                label,
                story: story.clone(),
                carries_marked: carried.iter().any(|r| marked.contains(r)),
                logs: v
                    .brokers
                    .iter()
                    .map(|b| {
                        b.replica
                            .log
                            .entries()
                            .iter()
                            .map(|e| e.record.to_string())
                            .collect()
                    })
                    .collect(),
                high_watermarks: v.brokers.iter().map(|b| b.replica.high_watermark).collect(),
                down: v.brokers.iter().map(|b| b.down).collect(),
                // Brokers are the first lifelines, broker b at index b - 1.
                leader: v.controller.core.state.leader.map(|b| b as usize - 1),
            }
        })
        .collect();
    Diagram {
        lifelines,
        steps,
        marked,
    }
}

/// Where a step happens, what it is, its label, and the records it carries.
fn shape(action: &Action) -> (usize, Option<usize>, Kind, String, Vec<String>) {
    match action {
        ActorModelAction::Deliver { src, dst, msg } => {
            let (label, carried) = message(msg);
            (
                usize::from(*dst),
                Some(usize::from(*src)),
                Kind::Message,
                label,
                carried,
            )
        }
        ActorModelAction::Timeout(id, t) => {
            let (kind, label) = match t {
                Timer::Crash => (Kind::Crash, "crash".to_string()),
                Timer::Restart => (Kind::Restart, "restart".into()),
                Timer::ReplicaLagTimeMax(b) => (Kind::Lag, format!("broker {b} lags")),
                Timer::ControlledShutdown | Timer::RollingRestart(_) => {
                    (Kind::Event, "SIGTERM".into())
                }
                Timer::ElectPreferred(b) => (Kind::Election, format!("prefer broker {b}")),
                Timer::Isolate => (Kind::Event, "cut off".into()),
                Timer::Heal => (Kind::Event, "healed".into()),
            };
            (usize::from(*id), None, kind, label, Vec::new())
        }
        ActorModelAction::SelectRandom { actor, random, .. } => {
            let crate::model::actor::Choice::Elect(b) = random;
            (
                usize::from(*actor),
                None,
                Kind::Election,
                format!("elect broker {b}"),
                Vec::new(),
            )
        }
        other => (0, None, Kind::Event, format!("{other:?}"), Vec::new()),
    }
}

fn names(records: impl Iterator<Item = Rec>) -> Vec<String> {
    records.map(|r| r.to_string()).collect()
}

/// A message's label and the records it carries.
fn message(msg: &KMsg) -> (String, Vec<String>) {
    match msg {
        Msg::Produce(p) => (format!("Produce {}", p.record), vec![p.record.to_string()]),
        Msg::ProduceResponse { result, .. } => (
            match result {
                Ok(o) => format!("ack @{o}"),
                Err(e) => format!("error {}", e.code()),
            },
            Vec::new(),
        ),
        Msg::Fetch(f) => (format!("Fetch @{}", f.fetch_offset), Vec::new()),
        Msg::FetchResponse(r) => match &r.result {
            FetchResult::Records {
                entries,
                high_watermark,
            } => {
                let carried = names(entries.iter().map(|e| e.record));
                let what = if carried.is_empty() {
                    "no records".to_string()
                } else {
                    carried.join(" ")
                };
                (format!("{what}, HW {high_watermark}"), carried)
            }
            FetchResult::Diverging { epoch, end_offset } => (
                format!("diverging: epoch {epoch} ends @{end_offset}"),
                Vec::new(),
            ),
            FetchResult::OffsetOutOfRange { leader_end_offset } => (
                format!("out of range (LEO {leader_end_offset})"),
                Vec::new(),
            ),
            FetchResult::NotLeader => ("not leader".into(), Vec::new()),
        },
        Msg::ConsumerFetch { offset, .. } => (format!("read @{offset}"), Vec::new()),
        Msg::ConsumerFetchResponse { result, .. } => match result {
            Ok(Some(r)) => (format!("read {r}"), vec![r.to_string()]),
            Ok(None) => ("read: nothing".into(), Vec::new()),
            Err(e) => (format!("error {}", e.code()), Vec::new()),
        },
        Msg::ConnectionReset => ("connection reset".into(), Vec::new()),
        Msg::AlterPartition { new_isr, .. } => {
            (format!("AlterPartition ISR {new_isr}"), Vec::new())
        }
        Msg::AlterPartitionRejected { new_isr, .. } => {
            (format!("refused ISR {new_isr}"), Vec::new())
        }
        Msg::LeaderAndIsr { state, .. } => (
            match state.leader {
                Some(l) => format!(
                    "leader {l}, epoch {}, ISR {}",
                    state.leader_epoch, state.isr
                ),
                None => format!("no leader, ISR {}", state.isr),
            },
            Vec::new(),
        ),
        Msg::Metadata { leader, .. } => (
            match leader {
                Some(l) => format!("metadata: leader {l}"),
                None => "metadata: no leader".into(),
            },
            Vec::new(),
        ),
        Msg::SessionExpired => ("heartbeat timeout".into(), Vec::new()),
        Msg::BrokerRegistration { .. } => ("register".into(), Vec::new()),
        Msg::ControlledShutdown { .. } => ("controlled shutdown".into(), Vec::new()),
        Msg::ShutdownAllowed { .. } => ("may shut down".into(), Vec::new()),
        Msg::Sigterm => ("SIGTERM".into(), Vec::new()),
    }
}

/// The records a violation of `property` is about, in its last state.
fn marked(trace: &Trace, property: &str) -> Vec<String> {
    let Some(last) = trace.states.last() else {
        return Vec::new();
    };
    let v = View::of(last);
    let mut out: Vec<String> = match property {
        ACKED_NEVER_LOST | LINEARIZABLE => acked_missing(last, &v)
            .map(|(_, r)| r.to_string())
            .collect(),
        VISIBLE_NEVER_LOST => visible_missing(&v).map(|(_, _, r)| r.to_string()).collect(),
        NO_DUPLICATES => v.leader_log().map_or(Vec::new(), |log| {
            let all = names(log.entries().iter().map(|e| e.record));
            all.iter()
                .filter(|r| all.iter().filter(|x| x == r).count() > 1)
                .cloned()
                .collect()
        }),
        WRITES_AVAILABLE => v
            .producer
            .current()
            .map(|r| r.to_string())
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    out.sort();
    out.dedup();
    out
}
