//! Turns a path of model steps into a numbered story of Kafka events, by
//! replaying each step through the protocol core with tracing on.

use super::trace::Trace;
use crate::core::effects::{Effects, Event};
use crate::core::messages::Msg;
use crate::core::producer::Outcome;
use crate::model::actor::{Input, KMsg, NodeState, Timer};
use crate::model::properties::{
    ACKED_NEVER_LOST, VISIBLE_NEVER_LOST, WRITES_AVAILABLE, acked_missing, visible_missing,
};
use crate::model::record::Rec;
use crate::model::state::{KafkaModel, KafkaState, Snapshot, View};
use stateright::actor::{Actor, ActorModelAction};
use std::borrow::Cow;

/// One line per step: what the step's actor decided, in Kafka's words.
pub fn story(model: &KafkaModel, trace: &Trace) -> Vec<String> {
    trace
        .states
        .iter()
        .zip(&trace.actions)
        .map(|(s, a)| describe(model, s, a))
        .collect()
}

/// One of the model's steps.
pub type Action = ActorModelAction<KMsg, Timer, crate::model::actor::Choice>;

/// What the last state shows that no step says: which record is gone,
/// from whose log, or a stuck run's record failing by
/// `delivery.timeout.ms`.
pub fn ending(trace: &Trace, property: &str) -> Option<String> {
    let last = trace.states.last()?;
    let v = View::of(last);
    let p = v.producer;
    let leader = v.controller.core.state.leader;
    match property {
        ACKED_NEVER_LOST => {
            let lost: Vec<String> = acked_missing(last, &v)
                .map(|(o, r)| match o {
                    Outcome::Acked(offset) => format!("{r} (acknowledged at offset {offset})"),
                    _ => format!("{r} (sent with acks=0)"),
                })
                .collect();
            (!lost.is_empty()).then(|| {
                format!(
                    "Lost: {} is not in the log of broker {}, the leader now; a consumer will never read it",
                    lost.join(" and "),
                    leader.map_or("?".into(), |b| b.to_string())
                )
            })
        }
        VISIBLE_NEVER_LOST => {
            let log = v.leader_log()?;
            let (b, offset, rec) = visible_missing(&v).next()?;
            let now = match log.entry_at(offset) {
                Some(e) => format!("holds {} there", e.record),
                None => "has nothing there".into(),
            };
            Some(format!(
                "Lost: {rec} at offset {offset} was visible to consumers on broker {} (below its HW), and broker {}, the leader now, {now}",
                b.replica.id,
                leader.map_or("?".into(), |b| b.to_string())
            ))
        }
        WRITES_AVAILABLE if !p.is_done() && last.quiet() => {
            let record = p.current().map_or("a record".into(), |r| r.to_string());
            Some(format!(
                "Nothing more can happen without a new fault, and {record} has no answer: \
                 delivery.timeout.ms fails it, its outcome unknown to the producer"
            ))
        }
        _ => None,
    }
}

/// Which actor a step runs, and on what input.
fn step_input(model: &KafkaModel, action: &Action) -> Option<(usize, Input)> {
    Some(match action {
        ActorModelAction::Deliver { src, dst, msg } => {
            let actor = &model.actors[usize::from(*dst)];
            let src_node = actor.settings.layout.node(*src);
            (usize::from(*dst), Input::Msg(src_node, msg.clone()))
        }
        ActorModelAction::Timeout(id, t) => (usize::from(*id), Input::Timer(*t)),
        ActorModelAction::SelectRandom { actor, random, .. } => {
            (usize::from(*actor), Input::Choice(random.clone()))
        }
        _ => return None,
    })
}

/// The protocol core's decisions in one step from `state`, replayed with
/// tracing on.
pub fn step_events(model: &KafkaModel, state: &KafkaState, action: &Action) -> Vec<Event<Rec>> {
    let Some((index, input)) = step_input(model, action) else {
        return Vec::new();
    };
    let before: &NodeState = &state.actor_states[index];
    let mut cow = Cow::Borrowed(before);
    let mut fx: Effects<Rec> = Effects::traced();
    model.actors[index].step(&mut cow, input, &mut fx);
    fx.events().to_vec()
}

fn describe(model: &KafkaModel, state: &KafkaState, action: &Action) -> String {
    let Some((index, input)) = step_input(model, action) else {
        return format!("{action:?}");
    };
    let actor = &model.actors[index];
    let before: &NodeState = &state.actor_states[index];
    let decided = step_events(model, state, action);
    let mut events: Vec<String> = decided.iter().map(|e| e.to_string()).collect();
    if let Some(why) = decided
        .iter()
        .find_map(|e| ack_below_min_isr(model, state, e))
    {
        events.push(why);
    }
    if let Some(ack) = decided.iter().find_map(|e| ack_at_once(model, e)) {
        events.push(ack);
    }
    if !events.is_empty() {
        return events.join("; ");
    }
    // No decision was traced: say what arrived where.
    let name = actor.name();
    match input {
        Input::Msg(src, msg) => {
            let from = model.actors[usize::from(actor.settings.layout.id(src))].name();
            let down = matches!(before, NodeState::Broker(b) if b.down);
            let cut = matches!(before, NodeState::Broker(b) if b.isolated)
                && !matches!(src, crate::core::messages::Node::Client(_));
            let what = message_name(&msg);
            if down {
                format!("{what} from {from} reaches {name}, which is down: it is lost")
            } else if cut {
                format!("{what} from {from} is lost in the network partition around {name}")
            } else {
                let sender = &state.actor_states[usize::from(actor.settings.layout.id(src))];
                let ordered = matches!(state.network, stateright::actor::Network::Ordered(_));
                let ignored = NodeState::ignored(sender, before, &msg, ordered);
                let why = match msg {
                    _ if !ignored => "",
                    Msg::Fetch(_) => {
                        ", of an older leader epoch, and answers NOT_LEADER, which the \
                         follower has moved past"
                    }
                    Msg::FetchResponse(_) => {
                        " and drops it: it answers a fetch of an earlier life or leader epoch"
                    }
                    Msg::AlterPartitionRejected { .. } => {
                        " and changes nothing: only an INELIGIBLE_REPLICA refusal resets \
                         a proposal"
                    }
                    _ => " and drops it: it was meant for an earlier life or leader epoch",
                };
                format!("{name} receives {what} from {from}{why}")
            }
        }
        Input::Timer(Timer::Isolate) => format!(
            "a network partition cuts {name} off from the controller and the other brokers \
             (clients still reach it); its heartbeats stop"
        ),
        Input::Timer(Timer::RollingRestart(b)) => format!(
            "no partition is under-replicated and no broker is away: the rolling restart \
             moves on, and the operator sends broker {b} SIGTERM"
        ),
        Input::Timer(t) => format!("{name}: {t:?}"),
        Input::Choice(c) => format!("{name}: {c:?}"),
    }
}

/// Why an acks=all acknowledgement that looks wrong is not: the
/// controller has already committed an ISR below min.insync.replicas, but
/// the leader has not heard, and it judges acks=all by the ISR it knows
/// (Kafka's `Partition.maybeIncrementLeaderHW` over `maximalIsr`, which a
/// shrink it proposed itself keeps at the larger set until the answer
/// comes: `PendingShrinkIsr`).
fn ack_below_min_isr(model: &KafkaModel, state: &KafkaState, e: &Event<Rec>) -> Option<String> {
    let Event::ProduceCompleted {
        broker,
        result: Ok(_),
        ..
    } = e
    else {
        return None;
    };
    let k = &model.cfg.kafka;
    if k.acks != crate::core::types::Acks::All {
        return None;
    }
    let v = View::of(state);
    let committed = v.controller.core.state.isr;
    let known = v.broker(*broker).replica.maximal_isr();
    // The same minimum the leader holds the ISR to (capped from 3.7).
    let min_isr = model
        .cfg
        .protocol()
        .min_isr(v.controller.core.replicas.len());
    (committed != known && committed.len() < min_isr).then(|| {
        format!(
            "although the controller has already committed ISR {committed}, below \
             min.insync.replicas={min_isr}: broker {broker} has not heard yet, and judges \
             acks=all by the ISR it knows, {known}, as Kafka's leader does"
        )
    })
}

/// With acks=1 the leader answers as soon as its own append is done
/// (`Partition.appendRecordsToLeader`, then `ReplicaManager` answers
/// without waiting): the step that appends also acknowledges, before any
/// follower has the record.
fn ack_at_once(model: &KafkaModel, e: &Event<Rec>) -> Option<String> {
    let Event::LeaderAppend { broker, offset, .. } = e else {
        return None;
    };
    (model.cfg.kafka.acks == crate::core::types::Acks::One).then(|| {
        format!(
            "broker {broker} acknowledges offset {offset} at once (acks=1: no follower has it yet)"
        )
    })
}

fn message_name(msg: &KMsg) -> String {
    match msg {
        Msg::Produce(req) => format!("the produce request for {}", req.record),
        Msg::ProduceResponse { result, .. } => match result {
            Ok(o) => format!("the produce response (offset {o})"),
            Err(e) => format!("the produce response ({e})"),
        },
        Msg::Fetch(f) => format!("a fetch at offset {}", f.fetch_offset),
        Msg::FetchResponse(_) => "a fetch response".into(),
        Msg::ConsumerFetch { offset, .. } => format!("a consumer fetch at offset {offset}"),
        Msg::ConsumerFetchResponse { .. } => "a consumer fetch response".into(),
        Msg::ConnectionReset => "a connection reset".into(),
        Msg::AlterPartition { new_isr, .. } => format!("AlterPartition (ISR {new_isr})"),
        Msg::AlterPartitionRejected { new_isr, .. } => {
            format!("the refusal of its AlterPartition (ISR {new_isr})")
        }
        Msg::LeaderAndIsr { state: p, .. } => match p.leader {
            Some(l) => format!(
                "LeaderAndIsr (leader broker {l}, epoch {}, ISR {})",
                p.leader_epoch, p.isr
            ),
            None => format!("LeaderAndIsr (no leader, ISR {})", p.isr),
        },
        Msg::Metadata {
            leader,
            leader_epoch,
        } => match leader {
            Some(l) => format!("metadata (leader broker {l}, epoch {leader_epoch})"),
            None => "metadata (no leader)".into(),
        },
        Msg::SessionExpired => "a heartbeat timeout".into(),
        Msg::BrokerRegistration { .. } => "a broker registration".into(),
        Msg::ControlledShutdown { .. } => "a controlled-shutdown request".into(),
        Msg::Sigterm => "SIGTERM, the rolling restart's next step".into(),
        Msg::ShutdownAllowed { .. } => "the controller's leave to shut down".into(),
    }
}
