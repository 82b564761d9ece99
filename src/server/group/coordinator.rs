//! The classic consumer-group protocol's state machine, sans I/O: Kafka's
//! `GroupCoordinator` and `GroupMetadata` for JoinGroup, SyncGroup,
//! Heartbeat and LeaveGroup. A group goes Empty → PreparingRebalance →
//! CompletingRebalance → Stable; JoinGroup and SyncGroup wait (by ticket)
//! until the rebalance gets that far, and `tick(now)` expires sessions and
//! rebalance deadlines. The runtime hands in `now` and maps tickets to the
//! waiting requests.

use crate::core::error::ErrorCode;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Identifies one waiting JoinGroup or SyncGroup request.
pub type Ticket = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

#[derive(Clone, Debug)]
struct Member {
    id: String,
    instance_id: Option<String>,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    /// (protocol name, the member's metadata for it), in its preference order.
    protocols: Vec<(String, Bytes)>,
    last_seen: Instant,
    join: Option<Ticket>,
    sync: Option<Ticket>,
    assignment: Bytes,
}

#[derive(Clone, Debug)]
struct Group {
    state: State,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    /// In join order: the first becomes leader when there is none.
    members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED (KIP-394), not yet joined.
    pending: BTreeMap<String, Instant>,
    /// A rebalance completes once every member rejoined and `not_before`
    /// passed (`group.initial.rebalance.delay.ms` for an empty group), or
    /// at `deadline` without those that did not.
    not_before: Instant,
    deadline: Instant,
}

/// A JoinGroup as the coordinator needs it.
#[derive(Clone, Debug)]
pub struct Join {
    pub group: String,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// JoinGroup v4+: an unknown member first gets its id (KIP-394).
    pub require_known_member_id: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinAnswer {
    pub error: Option<ErrorCode>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// For the leader only: every member and its metadata for the protocol.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncAnswer {
    pub error: Option<ErrorCode>,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub assignment: Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Join(JoinAnswer),
    Sync(SyncAnswer),
}

/// Every group this broker coordinates.
#[derive(Debug)]
pub struct Groups {
    groups: BTreeMap<String, Group>,
    /// `group.initial.rebalance.delay.ms`.
    initial_delay: Duration,
    answers: Vec<(Ticket, Answer)>,
    next_member: u64,
}

/// A JoinGroup refused with `error`.
pub fn join_error(member_id: &str, error: ErrorCode) -> JoinAnswer {
    JoinAnswer {
        error: Some(error),
        generation: -1,
        protocol_type: None,
        protocol: None,
        leader: String::new(),
        member_id: member_id.to_string(),
        members: Vec::new(),
    }
}

/// A SyncGroup refused with `error`.
pub fn sync_error(error: ErrorCode) -> SyncAnswer {
    SyncAnswer {
        error: Some(error),
        protocol_type: None,
        protocol: None,
        assignment: Bytes::new(),
    }
}

impl Group {
    fn new(now: Instant) -> Group {
        Group {
            state: State::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: Vec::new(),
            pending: BTreeMap::new(),
            not_before: now,
            deadline: now,
        }
    }

    fn member(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    /// `GroupCoordinator.prepareRebalance`: waiting syncs learn that a
    /// rebalance began; members have until the largest rebalance timeout.
    fn prepare_rebalance(
        &mut self,
        now: Instant,
        initial_delay: Duration,
        out: &mut Vec<(Ticket, Answer)>,
    ) {
        for m in &mut self.members {
            if let Some(t) = m.sync.take() {
                out.push((t, Answer::Sync(sync_error(ErrorCode::RebalanceInProgress))));
            }
        }
        let longest = self
            .members
            .iter()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        if self.state == State::Empty {
            self.not_before = now + initial_delay;
        } else {
            self.not_before = now;
        }
        self.deadline = now + longest.max(initial_delay);
        self.state = State::PreparingRebalance;
    }

    /// Ends the join phase when it may: a new generation, a protocol every
    /// member supports, a leader, and every waiting JoinGroup answered.
    fn maybe_complete_join(&mut self, now: Instant, out: &mut Vec<(Ticket, Answer)>) {
        if self.state != State::PreparingRebalance {
            return;
        }
        let all_joined = self.members.iter().all(|m| m.join.is_some());
        if !(all_joined && now >= self.not_before) && now < self.deadline {
            return;
        }
        // Those that did not rejoin in time are out.
        self.members.retain(|m| m.join.is_some());
        self.generation += 1;
        if self.members.is_empty() {
            self.state = State::Empty;
            self.leader = None;
            self.protocol = None;
            return;
        }
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.iter().any(|m| &m.id == l))
        {
            self.leader = Some(self.members[0].id.clone());
        }
        let leader = self.leader.clone().expect("set above");
        let lead = self
            .members
            .iter()
            .find(|m| m.id == leader)
            .expect("a member");
        self.protocol = lead
            .protocols
            .iter()
            .map(|(name, _)| name)
            .find(|name| {
                self.members
                    .iter()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == *name))
            })
            .cloned();
        let protocol = self.protocol.clone().unwrap_or_default();
        let metadata: Vec<(String, Option<String>, Bytes)> = self
            .members
            .iter()
            .map(|m| {
                let md = m
                    .protocols
                    .iter()
                    .find(|(n, _)| *n == protocol)
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default();
                (m.id.clone(), m.instance_id.clone(), md)
            })
            .collect();
        self.state = State::CompletingRebalance;
        for m in &mut self.members {
            let ticket = m.join.take().expect("all joined");
            m.last_seen = now;
            out.push((
                ticket,
                Answer::Join(JoinAnswer {
                    error: None,
                    generation: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol: self.protocol.clone(),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader {
                        metadata.clone()
                    } else {
                        Vec::new()
                    },
                }),
            ));
        }
    }

    fn remove(
        &mut self,
        id: &str,
        now: Instant,
        initial_delay: Duration,
        out: &mut Vec<(Ticket, Answer)>,
    ) {
        let Some(i) = self.members.iter().position(|m| m.id == id) else {
            return;
        };
        let m = self.members.remove(i);
        if let Some(t) = m.join {
            out.push((t, Answer::Join(join_error(id, ErrorCode::UnknownMemberId))));
        }
        if let Some(t) = m.sync {
            out.push((t, Answer::Sync(sync_error(ErrorCode::UnknownMemberId))));
        }
        match self.state {
            State::Stable | State::CompletingRebalance => {
                self.prepare_rebalance(now, initial_delay, out);
                if self.members.is_empty() {
                    self.maybe_complete_join(now.max(self.deadline), out);
                }
            }
            State::PreparingRebalance => self.maybe_complete_join(now, out),
            State::Empty => {}
        }
    }
}

impl Groups {
    pub fn new(initial_delay: Duration) -> Groups {
        Groups {
            groups: BTreeMap::new(),
            initial_delay,
            answers: Vec::new(),
            next_member: 0,
        }
    }

    /// Answers to earlier JoinGroup and SyncGroup requests, now due.
    pub fn take_answers(&mut self) -> Vec<(Ticket, Answer)> {
        std::mem::take(&mut self.answers)
    }

    /// `handleJoinGroup`. Answers now, or later under `ticket`.
    pub fn join(&mut self, ticket: Ticket, j: Join, now: Instant) -> Option<JoinAnswer> {
        let delay = self.initial_delay;
        if j.group.is_empty() {
            return Some(join_error(&j.member_id, ErrorCode::InvalidGroupId));
        }
        // Kafka's `group.min.session.timeout.ms` and `.max.` defaults.
        if j.session_timeout < Duration::from_secs(6)
            || j.session_timeout > Duration::from_secs(1800)
        {
            return Some(join_error(&j.member_id, ErrorCode::InvalidSessionTimeout));
        }
        if j.protocols.is_empty() || j.protocol_type.is_empty() {
            return Some(join_error(
                &j.member_id,
                ErrorCode::InconsistentGroupProtocol,
            ));
        }
        let fresh_id = if j.member_id.is_empty() {
            self.next_member += 1;
            let client = if j.client_id.is_empty() {
                "member"
            } else {
                j.client_id.as_str()
            };
            Some(format!(
                "{client}-{}-{}",
                self.next_member,
                uuid::Uuid::new_v4().simple()
            ))
        } else {
            None
        };
        let g = self
            .groups
            .entry(j.group.clone())
            .or_insert_with(|| Group::new(now));
        if g.state != State::Empty
            && g.protocol_type
                .as_deref()
                .is_some_and(|t| t != j.protocol_type)
        {
            return Some(join_error(
                &j.member_id,
                ErrorCode::InconsistentGroupProtocol,
            ));
        }
        let mut out = Vec::new();
        let member_id = match fresh_id {
            Some(id) if j.require_known_member_id => {
                // KIP-394: the client joins again with this id.
                g.pending.insert(id.clone(), now);
                return Some(join_error(&id, ErrorCode::MemberIdRequired));
            }
            Some(id) => id,
            None => {
                let known = g.members.iter().any(|m| m.id == j.member_id);
                if !known && g.pending.remove(&j.member_id).is_none() {
                    return Some(join_error(&j.member_id, ErrorCode::UnknownMemberId));
                }
                j.member_id.clone()
            }
        };
        if g.state == State::Empty {
            g.protocol_type = Some(j.protocol_type.clone());
        }
        let unchanged = g
            .member(&member_id)
            .is_some_and(|m| m.protocols == j.protocols);
        let is_leader = g.leader.as_deref() == Some(member_id.as_str());
        match g.member(&member_id) {
            Some(m) => {
                m.protocols = j.protocols;
                m.session_timeout = j.session_timeout;
                m.rebalance_timeout = j.rebalance_timeout;
                m.last_seen = now;
            }
            None => g.members.push(Member {
                id: member_id.clone(),
                instance_id: j.instance_id,
                session_timeout: j.session_timeout,
                rebalance_timeout: j.rebalance_timeout,
                protocols: j.protocols,
                last_seen: now,
                join: None,
                sync: None,
                assignment: Bytes::new(),
            }),
        }
        // A follower rejoining a settled group with nothing new gets the
        // current generation at once (`GroupCoordinator.doCurrentMemberJoinGroup`).
        if unchanged && !is_leader && matches!(g.state, State::Stable | State::CompletingRebalance)
        {
            return Some(JoinAnswer {
                error: None,
                generation: g.generation,
                protocol_type: g.protocol_type.clone(),
                protocol: g.protocol.clone(),
                leader: g.leader.clone().unwrap_or_default(),
                member_id,
                members: Vec::new(),
            });
        }
        if g.state != State::PreparingRebalance {
            g.prepare_rebalance(now, delay, &mut out);
        }
        g.member(&member_id).expect("added").join = Some(ticket);
        g.maybe_complete_join(now, &mut out);
        let mine = out.iter().position(|(t, _)| *t == ticket);
        let answer = mine.map(|i| out.remove(i).1);
        self.answers.extend(out);
        match answer {
            Some(Answer::Join(a)) => Some(a),
            _ => None,
        }
    }

    /// `handleSyncGroup`. Answers now, or later under `ticket`.
    pub fn sync(
        &mut self,
        ticket: Ticket,
        group: &str,
        member_id: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Option<SyncAnswer> {
        let Some(g) = self.groups.get_mut(group) else {
            return Some(sync_error(ErrorCode::UnknownMemberId));
        };
        let Some(m) = g.member(member_id) else {
            return Some(sync_error(ErrorCode::UnknownMemberId));
        };
        m.last_seen = now;
        if generation != g.generation {
            return Some(sync_error(ErrorCode::IllegalGeneration));
        }
        match g.state {
            State::Empty => Some(sync_error(ErrorCode::UnknownMemberId)),
            State::PreparingRebalance => Some(sync_error(ErrorCode::RebalanceInProgress)),
            State::Stable => {
                let assignment = g.member(member_id).expect("known").assignment.clone();
                Some(SyncAnswer {
                    error: None,
                    protocol_type: g.protocol_type.clone(),
                    protocol: g.protocol.clone(),
                    assignment,
                })
            }
            State::CompletingRebalance => {
                g.member(member_id).expect("known").sync = Some(ticket);
                if g.leader.as_deref() == Some(member_id) {
                    for m in &mut g.members {
                        m.assignment = assignments
                            .iter()
                            .find(|(id, _)| *id == m.id)
                            .map(|(_, a)| a.clone())
                            .unwrap_or_default();
                    }
                    g.state = State::Stable;
                    for m in &mut g.members {
                        if let Some(t) = m.sync.take() {
                            self.answers.push((
                                t,
                                Answer::Sync(SyncAnswer {
                                    error: None,
                                    protocol_type: g.protocol_type.clone(),
                                    protocol: g.protocol.clone(),
                                    assignment: m.assignment.clone(),
                                }),
                            ));
                        }
                    }
                }
                let mine = self.answers.iter().position(|(t, _)| *t == ticket);
                match mine.map(|i| self.answers.remove(i).1) {
                    Some(Answer::Sync(a)) => Some(a),
                    _ => None,
                }
            }
        }
    }

    /// `handleHeartbeat`.
    pub fn heartbeat(
        &mut self,
        group: &str,
        member_id: &str,
        generation: i32,
        now: Instant,
    ) -> Option<ErrorCode> {
        let Some(g) = self.groups.get_mut(group) else {
            return Some(ErrorCode::UnknownMemberId);
        };
        let state = g.state;
        let current = g.generation;
        let Some(m) = g.member(member_id) else {
            return Some(ErrorCode::UnknownMemberId);
        };
        m.last_seen = now;
        match state {
            State::Empty => Some(ErrorCode::UnknownMemberId),
            _ if generation != current => Some(ErrorCode::IllegalGeneration),
            State::PreparingRebalance => Some(ErrorCode::RebalanceInProgress),
            State::CompletingRebalance | State::Stable => None,
        }
    }

    /// `handleLeaveGroup` for each member: its error, if any.
    pub fn leave(
        &mut self,
        group: &str,
        members: &[String],
        now: Instant,
    ) -> Vec<Option<ErrorCode>> {
        let delay = self.initial_delay;
        let Some(g) = self.groups.get_mut(group) else {
            return members
                .iter()
                .map(|_| Some(ErrorCode::UnknownMemberId))
                .collect();
        };
        let mut out = Vec::new();
        let result = members
            .iter()
            .map(|id| {
                if g.member(id).is_none() {
                    return Some(ErrorCode::UnknownMemberId);
                }
                g.remove(id, now, delay, &mut out);
                None
            })
            .collect();
        self.answers.extend(out);
        result
    }

    /// Whether `member_id` of `generation` may commit offsets now
    /// (`GroupCoordinator.validateOffsetCommit`); generation -1 with no
    /// member is a commit from outside any group, allowed while the
    /// group has no members.
    pub fn may_commit(&self, group: &str, member_id: &str, generation: i32) -> Option<ErrorCode> {
        let Some(g) = self.groups.get(group) else {
            return (generation >= 0).then_some(ErrorCode::IllegalGeneration);
        };
        if generation < 0 && member_id.is_empty() {
            return (g.state != State::Empty).then_some(ErrorCode::IllegalGeneration);
        }
        if !g.members.iter().any(|m| m.id == member_id) {
            return Some(ErrorCode::UnknownMemberId);
        }
        if generation != g.generation {
            return Some(ErrorCode::IllegalGeneration);
        }
        match g.state {
            State::Stable => None,
            State::Empty => Some(ErrorCode::UnknownMemberId),
            _ => Some(ErrorCode::RebalanceInProgress),
        }
    }

    /// Expires silent members (`session.timeout.ms`), handed-out ids never
    /// used, and rebalances past their deadline.
    pub fn tick(&mut self, now: Instant) {
        let delay = self.initial_delay;
        let mut out = Vec::new();
        for g in self.groups.values_mut() {
            let expired: Vec<String> = g
                .members
                .iter()
                .filter(|m| {
                    m.join.is_none()
                        && now.saturating_duration_since(m.last_seen) > m.session_timeout
                })
                .map(|m| m.id.clone())
                .collect();
            for id in expired {
                g.remove(&id, now, delay, &mut out);
            }
            g.pending
                .retain(|_, at| now.saturating_duration_since(*at) < Duration::from_secs(300));
            g.maybe_complete_join(now, &mut out);
        }
        self.answers.extend(out);
    }

    /// The state, generation and member count of `group`.
    pub fn state(&self, group: &str) -> Option<(State, i32, usize)> {
        self.groups
            .get(group)
            .map(|g| (g.state, g.generation, g.members.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(group: &str, member: &str, protocols: &[&str]) -> Join {
        Join {
            group: group.into(),
            member_id: member.into(),
            instance_id: None,
            client_id: "c".into(),
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|p| (p.to_string(), Bytes::from(p.to_string())))
                .collect(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(30),
            require_known_member_id: true,
        }
    }

    /// Joins with the id KIP-394 hands out first.
    fn member(
        g: &mut Groups,
        ticket: Ticket,
        protocols: &[&str],
        now: Instant,
    ) -> (String, Option<JoinAnswer>) {
        let first = g
            .join(ticket, join("g", "", protocols), now)
            .expect("answered at once");
        assert_eq!(first.error, Some(ErrorCode::MemberIdRequired));
        let id = first.member_id.clone();
        let a = g.join(ticket, join("g", &id, protocols), now);
        (id, a)
    }

    #[test]
    fn two_members_rebalance_into_one_generation_and_the_leader_assigns() {
        let t0 = Instant::now();
        let mut g = Groups::new(Duration::from_millis(100));
        let (a, wait_a) = member(&mut g, 1, &["range", "roundrobin"], t0);
        assert!(wait_a.is_none(), "waits for the initial delay");
        let (b, wait_b) = member(&mut g, 2, &["roundrobin", "range"], t0);
        assert!(wait_b.is_none());
        assert_eq!(g.state("g"), Some((State::PreparingRebalance, 0, 2)));
        // A heartbeat during the rebalance says so.
        assert_eq!(
            g.heartbeat("g", &a, 0, t0),
            Some(ErrorCode::RebalanceInProgress)
        );
        g.tick(t0 + Duration::from_millis(150));
        let answers = g.take_answers();
        assert_eq!(answers.len(), 2);
        let joined: Vec<&JoinAnswer> = answers
            .iter()
            .map(|(_, x)| match x {
                Answer::Join(j) => j,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(joined.iter().all(|j| j.generation == 1 && j.leader == a));
        assert!(
            joined
                .iter()
                .all(|j| j.protocol.as_deref() == Some("range")),
            "the leader's first common protocol"
        );
        let lead = joined.iter().find(|j| j.member_id == a).unwrap();
        assert_eq!(lead.members.len(), 2, "the leader learns every member");
        assert!(
            joined
                .iter()
                .find(|j| j.member_id == b)
                .unwrap()
                .members
                .is_empty()
        );
        // The follower's SyncGroup waits for the leader's assignment.
        let t1 = t0 + Duration::from_millis(200);
        assert!(g.sync(3, "g", &b, 1, Vec::new(), t1).is_none());
        let assignments = vec![
            (a.clone(), Bytes::from("pa")),
            (b.clone(), Bytes::from("pb")),
        ];
        let mine = g
            .sync(4, "g", &a, 1, assignments, t1)
            .expect("the leader's sync completes");
        assert_eq!(mine.assignment, Bytes::from("pa"));
        let theirs = g.take_answers();
        assert_eq!(theirs.len(), 1);
        assert!(matches!(&theirs[0], (3, Answer::Sync(s)) if s.assignment == "pb"));
        assert_eq!(g.state("g"), Some((State::Stable, 1, 2)));
        assert_eq!(g.heartbeat("g", &b, 1, t1), None);
        assert_eq!(
            g.heartbeat("g", &b, 0, t1),
            Some(ErrorCode::IllegalGeneration)
        );
        assert_eq!(g.may_commit("g", &b, 1), None);
        assert_eq!(
            g.may_commit("g", "nobody", 1),
            Some(ErrorCode::UnknownMemberId)
        );
        assert_eq!(
            g.may_commit("g", "", -1),
            Some(ErrorCode::IllegalGeneration)
        );
        assert_eq!(
            g.may_commit("solo", "", -1),
            None,
            "no group: a commit from outside"
        );
    }

    #[test]
    fn a_silent_member_is_removed_and_the_rest_rebalance_without_it() {
        let t0 = Instant::now();
        let mut g = Groups::new(Duration::ZERO);
        let (a, _) = member(&mut g, 1, &["range"], t0);
        g.take_answers();
        let (b, _) = member(&mut g, 2, &["range"], t0);
        // b's join started a rebalance a must rejoin; a does.
        assert_eq!(
            g.heartbeat("g", &a, 1, t0),
            Some(ErrorCode::RebalanceInProgress)
        );
        let rejoined = g
            .join(3, join("g", &a, &["range"]), t0)
            .expect("everyone is in");
        assert_eq!(rejoined.members.len(), 2, "a leads both");
        g.take_answers();
        let generation = g.state("g").unwrap().1;
        assert_eq!(generation, 2);
        let t1 = t0 + Duration::from_millis(10);
        g.sync(
            4,
            "g",
            &a,
            generation,
            vec![(a.clone(), Bytes::from("x"))],
            t1,
        );
        g.take_answers();
        assert_eq!(g.state("g"), Some((State::Stable, generation, 2)));
        // Only a heartbeats; b's session (10 s) runs out.
        let t2 = t1 + Duration::from_secs(8);
        assert_eq!(g.heartbeat("g", &a, generation, t2), None);
        g.tick(t1 + Duration::from_secs(11));
        assert_eq!(g.state("g").map(|s| s.0), Some(State::PreparingRebalance));
        assert_eq!(
            g.heartbeat("g", &b, generation, t2),
            Some(ErrorCode::UnknownMemberId)
        );
        let answer = g.join(5, join("g", &a, &["range"]), t1 + Duration::from_secs(11));
        let a_join = answer.expect("the only member rejoined: the rebalance completes");
        assert_eq!(a_join.generation, generation + 1);
        assert_eq!(a_join.members.len(), 1);
    }

    #[test]
    fn bad_joins_get_kafkas_errors() {
        let now = Instant::now();
        let mut g = Groups::new(Duration::ZERO);
        let mut j = join("g", "", &["range"]);
        j.session_timeout = Duration::from_millis(100);
        assert_eq!(
            g.join(1, j, now).unwrap().error,
            Some(ErrorCode::InvalidSessionTimeout)
        );
        assert_eq!(
            g.join(1, join("g", "made-up", &["range"]), now)
                .unwrap()
                .error,
            Some(ErrorCode::UnknownMemberId)
        );
        assert_eq!(
            g.join(1, join("", "", &["range"]), now).unwrap().error,
            Some(ErrorCode::InvalidGroupId)
        );
    }
}
