//! Clients first: a persistent set (Godefroid 1996, ch. 4) the search may
//! take instead of every step. Where it applies, the search follows only
//! the clients' steps (the producer's and the consumer's deliveries) and
//! postpones the brokers' and the controller's, which visits fewer
//! classes, not only fewer transitions as sleep sets do.
//!
//! **When.** Some message is on its way to a client, and no broker or
//! controller can put a message on a channel to a client that is empty
//! now, whatever they do before a client moves ([`may_send`]):
//! - the controller sends clients Metadata only when it elects a leader
//!   (`Controller::install_leader`): with the partition leaderless, or by
//!   a preferred-leader election. A leader is lost only to its own
//!   fencing (its session timeout after a crash or a network partition,
//!   its controlled shutdown) or to its unclean restart, each a message
//!   of its own to the controller that follows a fault of its own. So
//!   unless the controller's channel to each client is already busy, it
//!   must be that no fault is left in the scenario's bounds, the leader is
//!   up, connected and not stopping, and nothing but AlterPartition is on
//!   its way from the leader to the controller ([`controller_may_elect`]);
//! - a broker sends a client only what answers one of that client's
//!   requests: one on its way to the broker, or one the broker holds
//!   (`Replica::clients_owed`: an acks=all produce awaiting the HW, a
//!   produce or read parked for an epoch). Every other answer goes out in
//!   the step that receives the request, and a broker that is down
//!   answers a request it receives with a reset;
//! - a client sends only to brokers.
//!
//! `tests/reductions.rs` checks these facts on every transition of
//! several scenarios: no step sends to a client where [`may_send`] said
//! it could not, and no broker's or controller's step turns a "could not"
//! into a "could".
//!
//! **Why the set is persistent.** Call T the clients' enabled steps. A
//! step of a broker or of the controller runs on that actor's state alone
//! and appends to channels it sends on; it neither records in the history
//! (only clients do) nor counts toward a fault bound differently for a
//! client having moved. So it commutes with every step in T and leaves
//! each of them enabled (a busy channel keeps its head). The only steps
//! that depend on T are further client steps, and by the condition above
//! none can become enabled until a step of T is taken.
//!
//! **Why verdicts stay.** A persistent set postpones steps, so the
//! reduced graph need not hold every state; it holds every state in
//! which no step of T is left (quiet states among them), and for any
//! other state w it holds w after some client steps. Each property keeps
//! its verdict because client steps never undo a violation or a
//! `sometimes` witness:
//! - `acked_never_lost`: a client step can only add an acknowledged
//!   record; it changes no log, and an acks=0 record counted as sent is
//!   never sent again;
//! - `linearizable`: a client step appends to the history, and a history
//!   that no order explains stays so when extended;
//! - `writes_available`: a state with a message in flight is not quiet,
//!   and a producer that is done ignores everything;
//! - `visible_never_lost`, `replicas_agree`, `no_duplicates`,
//!   `leader_in_isr`, `sometimes_crash` and `sometimes_leader_change` read
//!   nothing a client step changes; `sometimes_write_acknowledged` and
//!   `sometimes_consumer_read` only grow.
//!
//! **No step is postponed forever** (the cycle proviso): clients never
//! send to clients, so each step of T leaves one message fewer on the
//! way to a client, and a chain of reduced states ends in a fully
//! expanded one.
//!
//! **What it costs.** The state at the end of a counterexample may be one
//! where the clients have moved on, so a counterexample can be a few
//! client deliveries longer than the shortest one in the full graph.
//! `--no-client-first` (or `--no-por`) turns the reduction off.

use super::actor::{KMsg, NodeState};
use super::config::ModelConfig;
use super::state::{Snapshot, View};
use crate::core::messages::{Msg, Node};

/// What the rule reads of a global state: its actors and the messages on
/// their way, by channel.
pub trait Channels: Snapshot {
    fn actors(&self) -> usize;
    fn node(&self, actor: usize) -> &NodeState;
    /// The messages on their way from `src` to `dst`.
    fn channel(&self, src: usize, dst: usize) -> impl Iterator<Item = &KMsg>;
    fn busy(&self, src: usize, dst: usize) -> bool {
        self.channel(src, dst).next().is_some()
    }
}

/// Whether the search may take only the clients' steps from `s`.
pub fn applies(s: &impl Channels, cfg: &ModelConfig) -> bool {
    let clients = client_slots(s, cfg);
    let others = 0..clients.start;
    let any_to_a_client = clients
        .clone()
        .any(|x| (0..s.actors()).any(|y| s.busy(y, x)));
    any_to_a_client
        && clients.clone().all(|x| {
            others
                .clone()
                .all(|y| s.busy(y, x) || !may_send(s, cfg, y, x))
        })
}

/// Whether actor `y` (a broker or the controller) could send to client
/// `x` before `x` takes a step: conservative, so `true` when unsure.
pub fn may_send(s: &impl Channels, cfg: &ModelConfig, y: usize, x: usize) -> bool {
    let client = cfg.layout().node(x.into());
    match s.node(y) {
        NodeState::Broker(b) => s.busy(x, y) || b.replica.clients_owed().any(|c| c == client),
        NodeState::Controller(_) => controller_may_elect(s, cfg),
        NodeState::Producer(_) | NodeState::Consumer(_) => false,
    }
}

/// Whether the controller could elect a leader before a client moves.
pub fn controller_may_elect(s: &impl Channels, cfg: &ModelConfig) -> bool {
    let controller = usize::from(cfg.layout().id(Node::Controller));
    let NodeState::Controller(c) = s.node(controller) else {
        return true;
    };
    let Some(leader) = c.core.state.leader else {
        return true;
    };
    // The faults that can cost the partition its leader (a lag removal
    // cannot): any one left could come before a client moves.
    let v = View::of(s);
    let fault_left = v.crashes() < u32::from(cfg.crashes)
        || v.shutdowns() < u32::from(cfg.controlled_shutdowns)
        || v.partitions() < u32::from(cfg.network_partitions)
        || c.preferred_elections < cfg.preferred_elections
        || cfg.rolling_restart;
    let l = usize::from(cfg.layout().id(Node::Broker(leader)));
    let NodeState::Broker(lb) = s.node(l) else {
        return true;
    };
    let leaving = lb.down || lb.isolated || lb.stopping;
    let telling = s
        .channel(l, controller)
        .any(|m| !matches!(m, Msg::AlterPartition { .. }));
    fault_left || leaving || telling
}

/// The clients' actor slots: after the brokers and the controller.
pub fn client_slots(s: &impl Channels, cfg: &ModelConfig) -> std::ops::Range<usize> {
    let first = usize::from(cfg.layout().id(Node::Controller)) + 1;
    first..s.actors()
}
