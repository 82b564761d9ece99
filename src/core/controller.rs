//! The controller: one reliable actor standing for the KRaft quorum. It
//! fences brokers whose heartbeats stop, commits ISR changes
//! (`AlterPartition`), keeps the ELR (KIP-966) and elects leaders
//! (`PartitionChangeBuilder`).

use super::config::{Mutation, ProtocolConfig};
use super::effects::{Effects, ElectionKind, Event};
use super::messages::{Msg, Node, PartitionState};
use super::types::{BrokerId, BrokerSet, Epoch, PartitionEpoch, RenameBrokers};

/// Everything that can happen to the controller: one step handles one input.
#[derive(Clone, Debug)]
pub enum Input<R> {
    /// A broker's registration, AlterPartition, or its session expiring.
    Message(Node, Msg<R>),
    /// Elect this candidate (see [`Controller::election_candidates`]).
    Elect(BrokerId),
    /// Move leadership to this live ISR member, which the partition prefers
    /// (see [`Controller::preferred_candidates`]).
    ElectPreferred(BrokerId),
    /// Elect this candidate for an ElectLeaders request of type UNCLEAN
    /// (see [`Controller::unclean_candidates`]). The model never asks: its
    /// elections are the controller's own, which the topic's
    /// `unclean.leader.election.enable` governs.
    ElectUnclean(BrokerId),
}

/// The ISR change an AlterPartition asks for.
struct IsrChange {
    leader_epoch: Epoch,
    partition_epoch: PartitionEpoch,
    new_isr: BrokerSet,
    joining: Option<(BrokerId, u8)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Controller {
    pub replicas: BrokerSet,
    pub state: PartitionState,
    /// Brokers whose session expired and that have not registered again.
    pub fenced: BrokerSet,
    /// Clients told about leader changes (they would poll Metadata).
    pub clients: Vec<Node>,
    /// Each broker's epoch from its last registration, where not 0.
    pub broker_epochs: Vec<(BrokerId, u8)>,
    /// With ELR: the partition's leader when it was last left leaderless
    /// with no one to elect, kept until a leader is elected (Kafka's
    /// `lastKnownElr` holding the last known leader).
    pub last_known_leader: Option<BrokerId>,
}

impl Controller {
    /// A partition just created: every replica in the ISR and no leader
    /// yet, so the first step is the first election (epoch 1).
    pub fn new(replicas: BrokerSet, clients: Vec<Node>) -> Self {
        Controller {
            replicas,
            state: PartitionState {
                leader: None,
                leader_epoch: 0,
                isr: replicas,
                elr: BrokerSet::EMPTY,
                partition_epoch: 0,
            },
            fenced: BrokerSet::EMPTY,
            clients,
            broker_epochs: Vec::new(),
            last_known_leader: None,
        }
    }

    /// One step: the input's handler, then the invariants, which hold
    /// after every step.
    pub fn step<R>(&mut self, input: Input<R>, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        let before = self.state;
        match input {
            Input::Message(Node::Broker(b), Msg::SessionExpired) => {
                self.on_session_expired(b, cfg, fx)
            }
            Input::Message(
                Node::Broker(b),
                Msg::BrokerRegistration {
                    clean_shutdown,
                    broker_epoch,
                },
            ) => self.on_broker_registration(b, clean_shutdown, broker_epoch, cfg, fx),
            Input::Message(
                Node::Broker(b),
                Msg::AlterPartition {
                    leader_epoch,
                    partition_epoch,
                    new_isr,
                    joining,
                },
            ) => {
                let change = IsrChange {
                    leader_epoch,
                    partition_epoch,
                    new_isr,
                    joining,
                };
                self.on_alter_partition(b, change, cfg, fx)
            }
            Input::Message(Node::Broker(b), Msg::ControlledShutdown { broker_epoch }) => {
                self.on_controlled_shutdown(b, broker_epoch, cfg, fx)
            }
            Input::Message(..) => {}
            Input::Elect(b) => self.elect(b, cfg, fx),
            Input::ElectPreferred(b) => self.elect_preferred(b, cfg, fx),
            Input::ElectUnclean(b) => {
                let candidates = self.unclean_candidates(cfg);
                self.elect_from(b, candidates, fx)
            }
        }
        assert!(
            self.state.leader_epoch >= before.leader_epoch
                && self.state.partition_epoch >= before.partition_epoch,
            "the controller's epochs went back: {before:?} to {:?}",
            self.state
        );
        self.invariants(cfg);
    }

    /// What holds after every step. Deliberate protocol bugs (`mutation`)
    /// may break the rules they are about.
    pub fn invariants(&self, cfg: &ProtocolConfig) {
        let s = &self.state;
        let all = self.replicas;
        assert!(
            s.isr.union(s.elr).union(self.fenced).minus(all).is_empty(),
            "the ISR {}, ELR {} and fenced {} must be replicas {all}",
            s.isr,
            s.elr,
            self.fenced
        );
        assert!(
            s.isr.intersect(s.elr).is_empty(),
            "a broker in both the ISR {} and the ELR {}",
            s.isr,
            s.elr
        );
        assert!(
            cfg.eligible_leader_replicas || !s.isr.is_empty(),
            "without ELR the ISR never empties"
        );
        if let Some(l) = s.leader {
            assert!(!self.fenced.contains(l), "the leader {l} is fenced");
            if cfg.mutation.is_none() {
                assert!(
                    s.isr.contains(l),
                    "the leader {l} is not in the ISR {}",
                    s.isr
                );
            }
        }
    }

    pub fn broker_epoch(&self, broker: BrokerId) -> u8 {
        self.broker_epochs
            .iter()
            .find(|(b, _)| *b == broker)
            .map_or(0, |(_, e)| *e)
    }

    fn leader_and_isr<R>(&self, broker: BrokerId) -> Msg<R> {
        Msg::LeaderAndIsr {
            state: self.state,
            broker_epoch: self.broker_epoch(broker),
        }
    }

    pub fn live(&self) -> BrokerSet {
        self.replicas.minus(self.fenced)
    }

    /// Who may become leader now, and by which rule. Empty while a leader exists.
    pub fn election_candidates(&self, cfg: &ProtocolConfig) -> (BrokerSet, ElectionKind) {
        if self.state.leader.is_some() {
            return (BrokerSet::EMPTY, ElectionKind::Clean);
        }
        let live = self.live();
        let isr = if cfg.mutation == Some(Mutation::ElectOutsideIsr) {
            live
        } else {
            self.state.isr.intersect(live)
        };
        if !isr.is_empty() {
            return (isr, ElectionKind::Clean);
        }
        if cfg.eligible_leader_replicas {
            let elr = self.state.elr.intersect(live);
            if !elr.is_empty() {
                return (elr, ElectionKind::Elr);
            }
        }
        // KIP-966's last resort, before any unclean election
        // (`PartitionChangeBuilder.electAnyLeader` → `canElectLastKnownLeader`):
        // only when the ISR and the ELR are both empty, fenced members
        // included, and, as from 4.1 (KAFKA-19522), only once the last
        // leader is unfenced again.
        if cfg.eligible_leader_replicas
            && self.state.isr.is_empty()
            && self.state.elr.is_empty()
            && let Some(l) = self.last_known_leader
            && live.contains(l)
        {
            return (BrokerSet::of([l]), ElectionKind::LastKnownLeader);
        }
        if cfg.unclean_leader_election {
            return (live, ElectionKind::Unclean);
        }
        (BrokerSet::EMPTY, ElectionKind::Clean)
    }

    /// Who an ElectLeaders request of type UNCLEAN may elect: whom the
    /// controller's own election would, and, where that is no one, any live
    /// replica whatever the topic's `unclean.leader.election.enable` says.
    /// Kafka runs `PartitionChangeBuilder` with `Election.UNCLEAN` for it
    /// (`ReplicationControlManager.electLeader`), whose `electAnyLeader`
    /// tries a live ISR member (an ELR member while the ISR is empty), then
    /// the last known leader, and only then the first acceptable replica of
    /// the assignment, acceptable meaning unfenced and not shutting down
    /// (`LeaderAcceptor`). The topic's setting only decides whether the
    /// controller asks for that by itself (`ReplicationControlManager
    /// .maybeTriggerUncleanLeaderElectionForLeaderlessPartitions`). Empty
    /// while a leader exists: Kafka answers ELECTION_NOT_NEEDED before
    /// building any change.
    pub fn unclean_candidates(&self, cfg: &ProtocolConfig) -> (BrokerSet, ElectionKind) {
        let ordinary = self.election_candidates(cfg);
        if self.state.leader.is_some() || !ordinary.0.is_empty() {
            return ordinary;
        }
        (self.live(), ElectionKind::Unclean)
    }

    /// Who a preferred-leader election may move leadership to: the live ISR
    /// members other than the leader. Kafka moves it to the first replica
    /// of the assignment when it is an acceptable leader in the ISR
    /// (`PartitionChangeBuilder.electPreferredLeader`); as any order is
    /// some partition's order, and a reassignment can change it, any such
    /// member may be the preferred one.
    pub fn preferred_candidates(&self, cfg: &ProtocolConfig) -> BrokerSet {
        let Some(leader) = self.state.leader else {
            return BrokerSet::EMPTY;
        };
        let mut c = if cfg.mutation == Some(Mutation::PreferredLeaderOutsideIsr) {
            self.live()
        } else {
            self.state.isr.intersect(self.live())
        };
        c.remove(leader);
        c
    }

    /// Preferred-leader election (`ReplicationControlManager
    /// .maybeBalancePartitionLeaders`, run every
    /// `leader.imbalance.check.interval.seconds` with
    /// `auto.leader.rebalance.enable`, or on an ElectLeaders request).
    fn elect_preferred<R>(&mut self, broker: BrokerId, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        assert!(
            self.preferred_candidates(cfg).contains(broker),
            "broker {broker} cannot be the preferred leader of {:?}",
            self.state
        );
        self.install_leader(broker, ElectionKind::Preferred, fx);
    }

    /// Makes `broker` leader. Which candidate wins is Kafka's replica order;
    /// the model leaves it open, since any order is some partition's order.
    fn elect<R>(&mut self, broker: BrokerId, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        let candidates = self.election_candidates(cfg);
        self.elect_from(broker, candidates, fx);
    }

    fn elect_from<R>(
        &mut self,
        broker: BrokerId,
        (candidates, kind): (BrokerSet, ElectionKind),
        fx: &mut Effects<R>,
    ) {
        assert!(
            candidates.contains(broker),
            "broker {broker} is not electable ({candidates:?})"
        );
        self.install_leader(broker, kind, fx);
        debug_assert!(self.state.isr.contains(broker));
    }

    /// Every election's bookkeeping, whatever chose the leader: a new
    /// leader epoch, the ISR and ELR the election's kind leaves, and the
    /// news to every live replica and client.
    fn install_leader<R>(&mut self, broker: BrokerId, kind: ElectionKind, fx: &mut Effects<R>) {
        self.state.leader = Some(broker);
        self.state.leader_epoch += 1;
        match kind {
            ElectionKind::Clean | ElectionKind::Preferred => {}
            ElectionKind::Elr => {
                self.state.isr = BrokerSet::of([broker]);
                self.state.elr.remove(broker);
            }
            ElectionKind::Unclean | ElectionKind::LastKnownLeader => {
                self.state.isr = BrokerSet::of([broker]);
                self.state.elr = BrokerSet::EMPTY;
            }
        }
        self.last_known_leader = None;
        self.state.partition_epoch += 1;
        fx.event(|| Event::LeaderElected {
            broker,
            epoch: self.state.leader_epoch,
            kind,
            isr: self.state.isr,
        });
        self.publish_to_all(fx);
    }

    /// Sends the state to every live replica and the leader to every client.
    fn publish_to_all<R>(&self, fx: &mut Effects<R>) {
        for b in self.live().iter() {
            fx.send(Node::Broker(b), self.leader_and_isr(b));
        }
        for &c in &self.clients {
            fx.send(
                c,
                Msg::Metadata {
                    leader: self.state.leader,
                    leader_epoch: self.state.leader_epoch,
                },
            );
        }
    }

    fn publish_to_leader<R>(&self, fx: &mut Effects<R>) {
        if let Some(l) = self.state.leader
            && !self.fenced.contains(l)
        {
            fx.send(Node::Broker(l), self.leader_and_isr(l));
        }
    }

    /// Removes `removed` from the ISR. With ELR, members leaving while the
    /// ISR is below min.insync.replicas become eligible leaders; without it
    /// the last member always stays.
    fn shrink_isr(&mut self, removed: BrokerSet, cfg: &ProtocolConfig) -> bool {
        let removed = removed.intersect(self.state.isr);
        if removed.is_empty() {
            return false;
        }
        let isr = self.state.isr.minus(removed);
        if cfg.eligible_leader_replicas {
            self.state.isr = isr;
            if isr.len() < cfg.min_isr(self.replicas.len()) {
                self.state.elr = self.state.elr.union(removed);
            }
        } else if !isr.is_empty() {
            self.state.isr = isr;
        } else {
            return false; // last replica standing
        }
        true
    }

    /// `broker` just stopped leading (or, the partition being leaderless,
    /// stopped being electable). As from 4.1.1
    /// (`PartitionChangeBuilder.maybeUpdateLastKnownLeader`): when the
    /// partition is left without a leader and with no one to elect from
    /// the ISR or the ELR, and has no last known leader yet, the broker
    /// that led it becomes its last known leader. Kafka elects atomically
    /// with the fencing, where the model elects in a step of its own; so a
    /// candidate fenced before that step counts as the leader it would
    /// have been.
    fn note_last_known_leader(&mut self, broker: BrokerId, cfg: &ProtocolConfig) {
        if !cfg.eligible_leader_replicas
            || self.state.leader.is_some()
            || self.last_known_leader.is_some()
        {
            return;
        }
        let live = self.live();
        if self.state.isr.intersect(live).is_empty() && self.state.elr.intersect(live).is_empty() {
            self.last_known_leader = Some(broker);
        }
    }

    /// Fences `broker` (`handleBrokerFenced`): out of the ISR (into the ELR
    /// below min.insync.replicas) and of leadership. Returns whether the
    /// partition changed and whether it lost its leader.
    fn fence(&mut self, broker: BrokerId, cfg: &ProtocolConfig) -> (bool, bool) {
        let was_candidate =
            self.state.leader.is_none() && self.state.isr.union(self.state.elr).contains(broker);
        self.fenced.insert(broker);
        let mut changed = self.shrink_isr(BrokerSet::of([broker]), cfg);
        let leader_lost = self.state.leader == Some(broker);
        if leader_lost {
            self.state.leader = None;
            changed = true;
        }
        if leader_lost || was_candidate {
            self.note_last_known_leader(broker, cfg);
        }
        if changed {
            self.state.partition_epoch += 1;
        }
        (changed, leader_lost)
    }

    /// The broker's heartbeats stopped (`broker.session.timeout.ms`).
    fn on_session_expired<R>(
        &mut self,
        broker: BrokerId,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        if self.fenced.contains(broker) {
            return;
        }
        let (changed, leader_lost) = self.fence(broker, cfg);
        fx.event(|| Event::BrokerFenced {
            broker,
            isr: self.state.isr,
            elr: self.state.elr,
            leader_lost,
        });
        if changed && !leader_lost {
            self.publish_to_leader(fx);
        }
    }

    /// A controlled shutdown (SIGTERM). Kafka takes two heartbeats: the
    /// first puts the broker in controlled shutdown, out of every ISR and
    /// leadership (`ReplicationControlManager
    /// .handleBrokerInControlledShutdown`, KIP-841: it may not rejoin an
    /// ISR), the next, once it leads nothing, fences it and lets it stop
    /// (`processBrokerHeartbeat`, SHUTDOWN_NOW → `handleBrokerFenced`).
    /// Both are one step here: a broker in controlled shutdown can neither
    /// lead nor join the ISR, exactly as a fenced one, so nothing can tell
    /// the two states apart. The ISR shrinks as on fencing (into the ELR
    /// below min.insync.replicas); the new leader is elected in a step of
    /// its own, as after a crash.
    fn on_controlled_shutdown<R>(
        &mut self,
        broker: BrokerId,
        broker_epoch: u8,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        if self.fenced.contains(broker) || broker_epoch != self.broker_epoch(broker) {
            return; // from a previous life, or already stopped
        }
        let (changed, leader_lost) = self.fence(broker, cfg);
        fx.event(|| Event::ShutdownGranted {
            broker,
            isr: self.state.isr,
            elr: self.state.elr,
            leader_lost,
        });
        if leader_lost {
            // It stops leading before it stops: its delayed produces are
            // answered NOT_LEADER_OR_FOLLOWER, as in Kafka.
            fx.send(Node::Broker(broker), self.leader_and_isr(broker));
        } else if changed {
            self.publish_to_leader(fx);
        }
        fx.send(Node::Broker(broker), Msg::ShutdownAllowed { broker_epoch });
    }

    /// A broker registers after a restart. An unclean shutdown may have lost
    /// its unflushed tail, so with ELR it leaves both the ISR and the ELR.
    fn on_broker_registration<R>(
        &mut self,
        broker: BrokerId,
        clean_shutdown: bool,
        broker_epoch: u8,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        self.fenced.remove(broker);
        match self
            .broker_epochs
            .binary_search_by_key(&broker, |(b, _)| *b)
        {
            Ok(i) => self.broker_epochs[i].1 = broker_epoch,
            Err(i) => self.broker_epochs.insert(i, (broker, broker_epoch)),
        }
        let mut changed = false;
        if cfg.eligible_leader_replicas && !clean_shutdown {
            let in_either = self.state.isr.union(self.state.elr).contains(broker);
            if in_either {
                self.state.isr.remove(broker);
                self.state.elr.remove(broker);
                changed = true;
            }
            if self.state.leader == Some(broker) {
                self.state.leader = None;
                self.note_last_known_leader(broker, cfg);
            }
        }
        if changed {
            self.state.partition_epoch += 1;
        }
        fx.event(|| Event::BrokerRegistered {
            broker,
            isr: self.state.isr,
            elr: self.state.elr,
            clean_shutdown,
        });
        fx.send(Node::Broker(broker), self.leader_and_isr(broker));
        if changed && self.state.leader != Some(broker) {
            self.publish_to_leader(fx);
        }
    }

    /// AlterPartition from the leader (`ReplicationControlManager
    /// .alterPartition`): accepted only from the current leader, at the
    /// current leader and partition epochs; from 3.3 never adding a fenced
    /// broker (KIP-841), and from 3.5 never adding one whose fetch came
    /// from a previous life (KIP-903), both in `ineligibleReplicasForIsr`.
    /// Kafka's leader also leaves such a follower out of its proposal when
    /// its metadata already shows it (`Partition.isReplicaIsrEligible`); the
    /// controller's check is the one that cannot be stale, so only it is
    /// modelled, at the cost of one refused round trip.
    fn on_alter_partition<R>(
        &mut self,
        from: BrokerId,
        change: IsrChange,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        let IsrChange {
            leader_epoch,
            partition_epoch,
            new_isr,
            joining,
        } = change;
        let stale_joiner = joining.is_some_and(|(b, epoch)| {
            new_isr.contains(b) && !self.state.isr.contains(b) && epoch != self.broker_epoch(b)
        });
        let reject = if self.state.leader != Some(from) || leader_epoch != self.state.leader_epoch {
            Some("FENCED_LEADER_EPOCH: not the current leader")
        } else if partition_epoch != self.state.partition_epoch {
            Some("INVALID_UPDATE_VERSION: stale partition epoch")
        } else if cfg.fenced_replicas_leave_isr
            && !new_isr
                .minus(self.state.isr)
                .intersect(self.fenced)
                .is_empty()
        {
            Some("INELIGIBLE_REPLICA: a fenced broker cannot join the ISR")
        } else if cfg.broker_epoch_in_alter_partition && stale_joiner {
            Some("INELIGIBLE_REPLICA: the joiner's fetch came from a previous broker epoch")
        } else if !new_isr.contains(from) || self.replicas.union(new_isr) != self.replicas {
            Some("INVALID_REQUEST: the ISR must hold the leader and only replicas")
        } else {
            None
        };
        if let Some(reason) = reject {
            fx.event(|| Event::AlterPartitionRejected {
                leader: from,
                reason: reason.into(),
            });
            // An error for that request, not the state: whatever made the
            // proposal stale has reached the leader already (every change
            // is published to it, on this same ordered channel), and a
            // leader that has since proposed again must not take this
            // answer for its new proposal.
            fx.send(
                Node::Broker(from),
                Msg::AlterPartitionRejected {
                    new_isr,
                    partition_epoch,
                    ineligible: reason.starts_with("INELIGIBLE_REPLICA"),
                },
            );
            return;
        }
        let removed = self.state.isr.minus(new_isr);
        let added = new_isr.minus(self.state.isr);
        self.shrink_isr(removed, cfg);
        self.state.isr = self.state.isr.union(added);
        if cfg.eligible_leader_replicas {
            if self.state.isr.len() >= cfg.min_isr(self.replicas.len()) {
                self.state.elr = BrokerSet::EMPTY;
            }
            self.state.elr = self.state.elr.minus(self.state.isr);
        }
        self.state.partition_epoch += 1;
        debug_assert_eq!(self.state.isr, new_isr);
        fx.event(|| Event::IsrChanged {
            isr: self.state.isr,
            elr: self.state.elr,
            partition_epoch: self.state.partition_epoch,
        });
        fx.send(Node::Broker(from), self.leader_and_isr(from));
    }
}

impl RenameBrokers for Controller {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        let Controller {
            replicas,
            state,
            fenced,
            clients,
            broker_epochs,
            last_known_leader,
        } = self;
        replicas.rename_brokers(to);
        state.rename_brokers(to);
        fenced.rename_brokers(to);
        for c in clients {
            c.rename_brokers(to);
        }
        for (b, _) in broker_epochs.iter_mut() {
            *b = to(*b);
        }
        broker_epochs.sort();
        last_known_leader.rename_brokers(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::effects::Effect;

    fn alter(isr: BrokerSet, leader_epoch: Epoch, partition_epoch: PartitionEpoch) -> Input<()> {
        Input::Message(
            Node::Broker(1),
            Msg::AlterPartition {
                leader_epoch,
                partition_epoch,
                new_isr: isr,
                joining: None,
            },
        )
    }

    /// An expansion adding broker 3, whose fetch came from broker epoch
    /// `epoch`, to the ISR {1, 2}.
    fn expand(epoch: u8, partition_epoch: PartitionEpoch) -> Input<()> {
        Input::Message(
            Node::Broker(1),
            Msg::AlterPartition {
                leader_epoch: 1,
                partition_epoch,
                new_isr: BrokerSet::of([1, 2, 3]),
                joining: Some((3, epoch)),
            },
        )
    }

    /// KIP-841 and KIP-903: broker 3 crashes with a fetch on the wire; its
    /// old life's fetch reaches the leader while it is fenced, then after it
    /// came back as a new life (epoch 1), empty. Each rule refuses one of
    /// the two late proposals; a release without them takes both.
    #[test]
    fn a_fetch_from_a_previous_life_rejoins_the_isr_only_without_kip_841_and_kip_903() {
        let outcomes = |fenced_rule: bool, epoch_rule: bool| {
            let cfg = ProtocolConfig {
                min_insync_replicas: 2,
                fenced_replicas_leave_isr: fenced_rule,
                broker_epoch_in_alter_partition: epoch_rule,
                ..ProtocolConfig::default()
            };
            let mut c = Controller::new(BrokerSet::of([1, 2, 3]), Vec::new());
            let mut fx: Effects<()> = Effects::new();
            c.step(Input::Elect(1), &cfg, &mut fx);
            let expired = Input::Message(Node::Broker(3), Msg::SessionExpired);
            c.step(expired, &cfg, &mut fx);
            assert_eq!(c.state.isr, BrokerSet::of([1, 2]));
            let pe = c.state.partition_epoch;
            c.step(expand(0, pe), &cfg, &mut fx);
            let while_fenced = c.state.isr.contains(3);
            let shrink = Input::Message(
                Node::Broker(1),
                Msg::AlterPartition {
                    leader_epoch: 1,
                    partition_epoch: c.state.partition_epoch,
                    new_isr: BrokerSet::of([1, 2]),
                    joining: None,
                },
            );
            c.step(shrink, &cfg, &mut fx);
            let registration = Msg::BrokerRegistration {
                clean_shutdown: false,
                broker_epoch: 1,
            };
            c.step(Input::Message(Node::Broker(3), registration), &cfg, &mut fx);
            c.step(expand(0, c.state.partition_epoch), &cfg, &mut fx);
            let after_restart = c.state.isr.contains(3);
            // The new life's own fetch is always welcome.
            c.step(expand(1, c.state.partition_epoch), &cfg, &mut fx);
            assert!(c.state.isr.contains(3));
            (while_fenced, after_restart)
        };
        assert_eq!(outcomes(false, false), (true, true), "before 3.3");
        assert_eq!(outcomes(true, false), (false, true), "3.3 and 3.4");
        assert_eq!(outcomes(true, true), (false, false), "from 3.5");
    }

    #[test]
    fn a_step_checks_the_controllers_invariants() {
        let cfg = ProtocolConfig::default();
        let mut c = Controller::new(BrokerSet::of([1, 2, 3]), Vec::new());
        let mut fx: Effects<()> = Effects::new();
        c.step(Input::Elect(1), &cfg, &mut fx);
        c.step(alter(BrokerSet::of([1, 2]), 1, 1), &cfg, &mut fx);
        assert_eq!(c.state.isr, BrokerSet::of([1, 2]));
        assert_eq!(c.state.partition_epoch, 2);
        // A broken state is caught at the next step, whatever it is.
        c.state.elr = BrokerSet::of([2]);
        let nothing = Input::Message(Node::Controller, Msg::SessionExpired);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.step(nothing, &cfg, &mut Effects::<()>::new());
        }));
        assert!(caught.is_err(), "a broker in both the ISR and the ELR");
    }

    /// KIP-966's last resort: the sole ISR member loses power, is fenced
    /// (into the ELR: the ISR is below min.insync.replicas) and comes back
    /// after an unclean shutdown (out of the ELR). With the ISR and the ELR
    /// empty, only its return makes it electable, as the last known leader.
    #[test]
    fn with_isr_and_elr_empty_the_last_known_leader_is_elected_once_back() {
        let (mut c, cfg) = leaderless_with_isr_fenced(true);
        let mut fx: Effects<()> = Effects::new();
        assert_eq!(
            (c.state.isr, c.state.elr),
            (BrokerSet::EMPTY, BrokerSet::of([1]))
        );
        assert_eq!(c.last_known_leader, Some(1));
        assert!(
            c.election_candidates(&cfg).0.is_empty(),
            "broker 1 is fenced"
        );
        let back = Input::Message(
            Node::Broker(1),
            Msg::BrokerRegistration {
                clean_shutdown: false,
                broker_epoch: 1,
            },
        );
        c.step(back, &cfg, &mut fx);
        assert_eq!(
            c.state.elr,
            BrokerSet::EMPTY,
            "an unclean shutdown leaves the ELR"
        );
        assert_eq!(
            c.election_candidates(&cfg),
            (BrokerSet::of([1]), ElectionKind::LastKnownLeader)
        );
        c.step(Input::Elect(1), &cfg, &mut fx);
        assert_eq!((c.state.leader, c.state.isr), (Some(1), BrokerSet::of([1])));
        assert_eq!(c.last_known_leader, None, "cleared by the election");

        // Without ELR there is no last resort: the ISR keeps its last member.
        let plain = ProtocolConfig {
            min_insync_replicas: 1,
            ..ProtocolConfig::default()
        };
        let mut c = Controller::new(BrokerSet::of([1, 2, 3]), Vec::new());
        c.step(Input::Elect(1), &plain, &mut fx);
        c.step(alter(BrokerSet::of([1]), 1, 1), &plain, &mut fx);
        c.step(
            Input::Message(Node::Broker(1), Msg::SessionExpired),
            &plain,
            &mut fx,
        );
        assert_eq!(c.last_known_leader, None);
    }

    /// The leader shrinks the ISR to itself and is fenced: the partition
    /// is left with no leader and no live ISR (or ELR) member. Answers the
    /// controller and the config it ran with. min.insync.replicas is 1 so
    /// that the followers the shrink removes do not enter the ELR.
    fn leaderless_with_isr_fenced(eligible_leader_replicas: bool) -> (Controller, ProtocolConfig) {
        let cfg = ProtocolConfig {
            min_insync_replicas: 1,
            eligible_leader_replicas,
            unclean_leader_election: false,
            ..ProtocolConfig::default()
        };
        let mut c = Controller::new(BrokerSet::of([1, 2, 3]), Vec::new());
        let mut fx: Effects<()> = Effects::new();
        c.step(Input::Elect(1), &cfg, &mut fx);
        c.step(alter(BrokerSet::of([1]), 1, 1), &cfg, &mut fx);
        let expire = Input::Message(Node::Broker(1), Msg::SessionExpired);
        c.step(expire, &cfg, &mut fx);
        assert_eq!(c.state.leader, None);
        assert!(
            c.election_candidates(&cfg).0.is_empty(),
            "the topic forbids unclean elections"
        );
        (c, cfg)
    }

    /// `ReplicationControlManager.electLeader` with `ElectionType.UNCLEAN`:
    /// `PartitionChangeBuilder.electAnyLeader` falls back to any live
    /// replica even though the topic forbids unclean elections, and, as
    /// its `tryElection` and `maybeUpdateRecordElr` do, leaves the new
    /// leader alone in the ISR with the ELR and the last known leader
    /// cleared.
    #[test]
    fn an_unclean_election_on_demand_elects_any_live_replica() {
        for elr in [false, true] {
            let (mut c, cfg) = leaderless_with_isr_fenced(elr);
            if elr {
                assert_eq!(
                    (c.state.isr, c.state.elr, c.last_known_leader),
                    (BrokerSet::EMPTY, BrokerSet::of([1]), Some(1))
                );
            } else {
                assert_eq!(c.state.isr, BrokerSet::of([1]), "last replica standing");
            }
            assert_eq!(
                c.unclean_candidates(&cfg),
                (BrokerSet::of([2, 3]), ElectionKind::Unclean)
            );
            let (epoch, partition_epoch) = (c.state.leader_epoch, c.state.partition_epoch);
            let mut fx: Effects<()> = Effects::traced();
            c.step(Input::ElectUnclean(3), &cfg, &mut fx);
            assert_eq!(
                (c.state.leader, c.state.isr, c.state.elr),
                (Some(3), BrokerSet::of([3]), BrokerSet::EMPTY),
                "ELR on: {elr}"
            );
            assert_eq!(c.last_known_leader, None);
            assert_eq!(
                (c.state.leader_epoch, c.state.partition_epoch),
                (epoch + 1, partition_epoch + 1)
            );
            assert!(
                matches!(
                    fx.events(),
                    [Event::LeaderElected {
                        broker: 3,
                        kind: ElectionKind::Unclean,
                        ..
                    }]
                ),
                "{:?}",
                fx.events()
            );
            assert!(
                c.unclean_candidates(&cfg).0.is_empty(),
                "with a leader nothing is needed"
            );
        }
    }

    /// `electAnyLeader` tries a clean election, then the ELR, then the last
    /// known leader before any replica outside them: an UNCLEAN request
    /// elects as the controller would wherever the controller could.
    #[test]
    fn an_unclean_election_on_demand_prefers_whom_a_clean_one_would_elect() {
        let cfg = ProtocolConfig {
            eligible_leader_replicas: true,
            min_insync_replicas: 1,
            ..ProtocolConfig::default()
        };
        let c = Controller::new(BrokerSet::of([1, 2, 3]), Vec::new());
        assert_eq!(
            c.unclean_candidates(&cfg),
            (BrokerSet::of([1, 2, 3]), ElectionKind::Clean)
        );
        // The last known leader, back after an unclean shutdown, goes first.
        let (mut c, cfg) = leaderless_with_isr_fenced(true);
        let back = Msg::BrokerRegistration {
            clean_shutdown: false,
            broker_epoch: 1,
        };
        let mut fx: Effects<()> = Effects::new();
        c.step(Input::Message(Node::Broker(1), back), &cfg, &mut fx);
        assert_eq!(
            c.unclean_candidates(&cfg),
            (BrokerSet::of([1]), ElectionKind::LastKnownLeader)
        );
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.clone()
                .step(Input::ElectUnclean(2), &cfg, &mut Effects::<()>::new());
        }));
        assert!(refused.is_err(), "broker 2 is not electable before 1");
    }

    /// Refused: no live replica to elect, or a fenced one asked for.
    #[test]
    fn an_unclean_election_on_demand_never_elects_a_fenced_replica() {
        let (mut c, cfg) = leaderless_with_isr_fenced(false);
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.clone()
                .step(Input::ElectUnclean(1), &cfg, &mut Effects::<()>::new());
        }));
        assert!(refused.is_err(), "broker 1 is fenced");
        let mut fx: Effects<()> = Effects::new();
        for b in [2, 3] {
            c.step(
                Input::Message(Node::Broker(b), Msg::SessionExpired),
                &cfg,
                &mut fx,
            );
        }
        assert_eq!(
            c.unclean_candidates(&cfg).0,
            BrokerSet::EMPTY,
            "ELIGIBLE_LEADERS_NOT_AVAILABLE"
        );
    }

    /// A controlled shutdown takes the leader out of the ISR and of
    /// leadership in one step, fences it, tells it so, and lets it stop; a
    /// request from a previous life is ignored.
    #[test]
    fn a_controlled_shutdown_moves_leadership_and_fences_the_broker() {
        let cfg = ProtocolConfig {
            min_insync_replicas: 2,
            ..ProtocolConfig::default()
        };
        let mut c = Controller::new(BrokerSet::of([1, 2, 3]), Vec::new());
        let mut fx: Effects<()> = Effects::new();
        c.step(Input::Elect(1), &cfg, &mut fx);
        let stale = Input::Message(Node::Broker(1), Msg::ControlledShutdown { broker_epoch: 7 });
        c.step(stale, &cfg, &mut fx);
        assert!(c.fenced.is_empty(), "another life's request is ignored");

        let mut fx: Effects<()> = Effects::new();
        let sigterm = Input::Message(Node::Broker(1), Msg::ControlledShutdown { broker_epoch: 0 });
        c.step(sigterm, &cfg, &mut fx);
        assert_eq!(c.state.leader, None);
        assert_eq!(c.state.isr, BrokerSet::of([2, 3]));
        assert!(c.fenced.contains(1));
        let sent: Vec<_> = fx.into_iter().collect();
        assert!(
            matches!(
                sent.last(),
                Some(Effect::Send(
                    Node::Broker(1),
                    Msg::ShutdownAllowed { broker_epoch: 0 }
                ))
            ),
            "the broker may stop, once told it no longer leads: {sent:?}"
        );
        assert_eq!(c.election_candidates(&cfg).0, BrokerSet::of([2, 3]));

        // Preferred-leader election moves leadership within the live ISR only.
        c.step(Input::Elect(2), &cfg, &mut Effects::<()>::new());
        assert_eq!(c.preferred_candidates(&cfg), BrokerSet::of([3]));
        c.step(Input::ElectPreferred(3), &cfg, &mut Effects::<()>::new());
        assert_eq!((c.state.leader, c.state.leader_epoch), (Some(3), 3));
    }
}
