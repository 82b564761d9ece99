//! What each key insync reads means for the check, and Kafka's default
//! where no file names it.

use super::{Left, Read, Reading, Role, suggestion};
use crate::core::release::KafkaVersion;
use crate::core::types::Acks;
use crate::model::ModelConfig;
use crate::model::config::Named;

/// Every key some role reads.
pub const READ_KEYS: &[&str] = &[
    "acks",
    "enable.idempotence",
    "retries",
    "delivery.timeout.ms",
    "max.in.flight.requests.per.connection",
    "transactional.id",
    "min.insync.replicas",
    "default.replication.factor",
    "replication.factor",
    "unclean.leader.election.enable",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.flush.scheduler.interval.ms",
    "flush.messages",
    "flush.ms",
    "eligible.leader.replicas.enable",
    "eligible.leader.replicas.version",
    "auto.leader.rebalance.enable",
    "replica.lag.time.max.ms",
];

/// The keys each role reads.
fn reads(role: Role, key: &str) -> bool {
    match role {
        Role::Broker => matches!(
            key,
            "min.insync.replicas"
                | "default.replication.factor"
                | "unclean.leader.election.enable"
                | "log.flush.interval.messages"
                | "log.flush.interval.ms"
                | "log.flush.scheduler.interval.ms"
                | "eligible.leader.replicas.enable"
                | "eligible.leader.replicas.version"
                | "auto.leader.rebalance.enable"
                | "replica.lag.time.max.ms"
        ),
        Role::Topic => matches!(
            key,
            "min.insync.replicas"
                | "replication.factor"
                | "unclean.leader.election.enable"
                | "flush.messages"
                | "flush.ms"
        ),
        Role::Producer => matches!(
            key,
            "acks"
                | "enable.idempotence"
                | "retries"
                | "delivery.timeout.ms"
                | "max.in.flight.requests.per.connection"
                | "transactional.id"
        ),
    }
}

/// Kafka's `Long.MAX_VALUE`, the flush interval that means "never".
const NEVER: i64 = i64::MAX;

/// The settings read, by where Kafka takes them from: a topic's own
/// setting overrides the broker's default for it.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    acks: Option<Acks>,
    idempotence: Option<bool>,
    retries: Option<u8>,
    max_in_flight: Option<i64>,
    broker_min_isr: Option<u8>,
    topic_min_isr: Option<u8>,
    broker_rf: Option<u8>,
    topic_rf: Option<u8>,
    broker_unclean: Option<bool>,
    topic_unclean: Option<bool>,
    broker_flush: Option<Option<u64>>,
    topic_flush: Option<Option<u64>>,
    elr: Option<bool>,
    /// Read and explained; not a fault unless asked for.
    rebalance: Option<bool>,
}

fn boolean(e: &super::Entry) -> Result<bool, String> {
    // Kafka's ConfigDef parses booleans ignoring case.
    match e.value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "{}: {}: expected true or false, not {:?}",
            e.origin, e.key, e.value
        )),
    }
}

fn number(e: &super::Entry, min: i64) -> Result<i64, String> {
    let v: i64 = e.value.trim().parse().map_err(|_| {
        format!(
            "{}: {}: expected a whole number, not {:?}",
            e.origin, e.key, e.value
        )
    })?;
    if v < min {
        return Err(format!(
            "{}: {}: must be at least {min}, not {v}",
            e.origin, e.key
        ));
    }
    Ok(v)
}

fn small(e: &super::Entry, min: i64) -> Result<u8, String> {
    let v = number(e, min)?;
    u8::try_from(v).map_err(|_| {
        format!(
            "{}: {}: {v} is more than insync models (at most {})",
            e.origin,
            e.key,
            u8::MAX
        )
    })
}

fn flush(e: &super::Entry) -> Result<Option<u64>, String> {
    let v = number(e, 1)?;
    Ok((v != NEVER).then_some(v as u64))
}

/// Reads one setting into `r`: its meaning, or why it is left out.
pub(super) fn take(role: Role, e: super::Entry, r: &mut Reading) -> Result<(), String> {
    let key = e.key.as_str();
    if !reads(role, key) {
        let at = e.origin.to_string();
        let elsewhere = Role::ALL
            .into_iter()
            .find(|&o| o != role && (reads(o, key) || o.ignores(key)));
        if role.ignores(key) {
            r.ignored.push(Left {
                key: e.key,
                at,
                why: String::new(),
            });
        } else if let Some(o) = elsewhere {
            let why = if reads(o, key) {
                format!(
                    "a setting of the {o:?} configuration; give it with {}",
                    o.flag()
                )
            } else {
                format!("a setting of the {o:?} configuration")
            };
            r.ignored.push(Left {
                key: e.key,
                at,
                why: why.to_lowercase(),
            });
        } else {
            let why = match suggestion(key) {
                Some(s) => format!(": did you mean {s}?"),
                None => ": not a key insync knows of; it is not part of the check".into(),
            };
            r.not_understood.push(Left {
                key: e.key,
                at,
                why,
            });
        }
        return Ok(());
    }
    let s = &mut r.settings;
    let meaning = match (role, key) {
        (Role::Producer, "acks") => {
            let acks: Acks = e
                .value
                .trim()
                .parse()
                .map_err(|err| format!("{}: acks: {err}", e.origin))?;
            s.acks = Some(acks);
            format!("acks={acks}")
        }
        (Role::Producer, "enable.idempotence") => {
            let v = boolean(&e)?;
            s.idempotence = Some(v);
            format!("the idempotent producer {}", if v { "on" } else { "off" })
        }
        (Role::Producer, "retries") => {
            let v = number(&e, 0)?;
            s.retries = Some(u8::from(v > 0));
            if v > 1 {
                "checked as 1 retry per record: the model bounds retries \
                 (--retries N checks more, at a cost)"
                    .into()
            } else {
                format!("{v} retries per record")
            }
        }
        (Role::Producer, "delivery.timeout.ms") => {
            number(&e, 0)?;
            "any value reads the same: a record still unanswered when nothing more can \
             happen has timed out, and writes_available counts it failed"
                .into()
        }
        (Role::Producer, "max.in.flight.requests.per.connection") => {
            let v = number(&e, 1)?;
            s.max_in_flight = Some(v);
            "the model's producer has one request in flight at a time; above 5, Kafka \
             turns the default idempotence off (and refuses an explicit one)"
                .into()
        }
        (Role::Producer, "transactional.id") => {
            "transactions are not modelled; the check covers the idempotent producer \
             under them"
                .into()
        }
        (Role::Broker, "min.insync.replicas") => {
            s.broker_min_isr = Some(small(&e, 1)?);
            "min.insync.replicas for topics that do not set their own".into()
        }
        (Role::Topic, "min.insync.replicas") => {
            s.topic_min_isr = Some(small(&e, 1)?);
            "the topic's min.insync.replicas".into()
        }
        (Role::Broker, "default.replication.factor") => {
            s.broker_rf = Some(small(&e, 1)?);
            "the replication factor of topics created without one".into()
        }
        (Role::Topic, "replication.factor") => {
            s.topic_rf = Some(small(&e, 1)?);
            "the topic's replica count".into()
        }
        (Role::Broker, "unclean.leader.election.enable") => {
            s.broker_unclean = Some(boolean(&e)?);
            "unclean election for topics that do not set their own".into()
        }
        (Role::Topic, "unclean.leader.election.enable") => {
            s.topic_unclean = Some(boolean(&e)?);
            "the topic's unclean election".into()
        }
        (Role::Broker, "log.flush.interval.messages") => {
            let v = flush(&e)?;
            s.broker_flush = Some(v);
            flush_meaning(v)
        }
        (Role::Topic, "flush.messages") => {
            let v = flush(&e)?;
            s.topic_flush = Some(v);
            flush_meaning(v)
        }
        (_, "log.flush.interval.ms" | "log.flush.scheduler.interval.ms" | "flush.ms") => {
            number(&e, 0)?;
            "a flush on a timer: the untimed model cannot count on it having run \
             before a power loss, so the check is as if it were absent"
                .into()
        }
        (Role::Broker, "eligible.leader.replicas.enable") => {
            let v = boolean(&e)?;
            s.elr = Some(v);
            format!("Eligible Leader Replicas (KIP-966) {}", on_off(v))
        }
        (Role::Broker, "eligible.leader.replicas.version") => {
            let v = number(&e, 0)?;
            if v > 1 {
                return Err(format!(
                    "{}: eligible.leader.replicas.version: the feature has levels 0 and 1, not {v}",
                    e.origin
                ));
            }
            s.elr = Some(v == 1);
            format!("Eligible Leader Replicas (KIP-966) {}", on_off(v == 1))
        }
        (Role::Broker, "auto.leader.rebalance.enable") => {
            let v = boolean(&e)?;
            s.rebalance = Some(v);
            rebalance_meaning(v)
        }
        (Role::Broker, "replica.lag.time.max.ms") => {
            number(&e, 1)?;
            "a follower that falls behind for this long leaves the ISR: the model's \
             lag removals (--lag-removals) stand for it"
                .into()
        }
        _ => unreachable!("`reads` and this match name the same keys"),
    };
    r.read.push(Read {
        key: e.key,
        value: e.value,
        at: e.origin.to_string(),
        meaning,
        file: e.origin.source.clone(),
        role,
    });
    Ok(())
}

fn on_off(v: bool) -> &'static str {
    if v { "on" } else { "off" }
}

fn flush_meaning(v: Option<u64>) -> String {
    match v {
        None => "never flushed by count: fsync is left to the OS".into(),
        Some(1) => "every message is flushed before it is acknowledged".into(),
        Some(n) => format!("flushed every {n} messages"),
    }
}

/// A preferred-leader election is a fault like a crash: it is in the
/// check only when asked for, so that reading a file does not change what
/// a check costs.
fn rebalance_meaning(v: bool) -> String {
    if v {
        "the controller moves leadership back to preferred replicas with no \
         failure; --preferred-elections 1 adds one such move to the faults checked \
         (acks=1 loses records there)"
            .into()
    } else {
        "leadership moves only when a leader fails; the check adds no \
         preferred-leader election"
            .into()
    }
}

impl Settings {
    /// Fills what no file named with Kafka's default at `release` (the
    /// release-dependent producer and ELR defaults are left to
    /// `ModelConfig::apply_release`), and says what it filled.
    pub(super) fn fill_defaults(&mut self, release: KafkaVersion) -> Vec<String> {
        let mut said = Vec::new();
        if self.broker_min_isr.is_none() && self.topic_min_isr.is_none() {
            self.broker_min_isr = Some(1);
            said.push("min.insync.replicas=1".into());
        }
        if self.broker_rf.is_none() && self.topic_rf.is_none() {
            self.broker_rf = Some(1);
            said.push(
                "default.replication.factor=1 (give the topic's replica count with \
                 --topic-config replication.factor=N)"
                    .into(),
            );
        }
        if self.broker_unclean.is_none() && self.topic_unclean.is_none() {
            self.broker_unclean = Some(false);
            said.push("unclean.leader.election.enable=false".into());
        }
        if self.rebalance.is_none() {
            self.rebalance = Some(true);
            said.push(format!(
                "auto.leader.rebalance.enable=true: {}",
                rebalance_meaning(true)
            ));
        }
        if self.retries.is_none() {
            self.retries = Some(1);
            said.push(
                "retries=2147483647, checked as 1 retry per record: the model bounds \
                 retries (--retries N checks more, at a cost)"
                    .into(),
            );
        }
        if self.acks.is_none() {
            said.push(format!("acks: Kafka {release}'s default"));
        }
        if self.idempotence.is_none() {
            said.push(format!("enable.idempotence: Kafka {release}'s default"));
        }
        if self.elr.is_none() {
            said.push(format!(
                "Eligible Leader Replicas: on for a cluster formatted at Kafka {release} \
                 if the release has it by default (an upgraded cluster: \
                 eligible.leader.replicas.version=0)"
            ));
        }
        said
    }

    pub(super) fn apply(&self, c: &mut ModelConfig, named: &mut Named) {
        let k = &mut c.kafka;
        if let Some(a) = self.acks {
            k.acks = a;
            named.acks = true;
        }
        if let Some(r) = self.retries {
            k.retries = r;
        }
        if let Some(v) = self.topic_min_isr.or(self.broker_min_isr) {
            k.min_insync_replicas = v;
        }
        if let Some(v) = self.topic_rf.or(self.broker_rf) {
            k.replication_factor = v;
        }
        if let Some(v) = self.topic_unclean.or(self.broker_unclean) {
            k.unclean_leader_election_enable = v;
        }
        if let Some(v) = self.topic_flush.or(self.broker_flush) {
            k.log_flush_interval_messages = v;
        }
        if let Some(v) = self.elr {
            k.eligible_leader_replicas_enable = v;
            named.eligible_leader_replicas = true;
        }
        match (self.idempotence, self.max_in_flight) {
            (Some(v), _) => {
                k.enable_idempotence = v;
                named.enable_idempotence = true;
            }
            // ProducerConfig.postProcessAndValidateIdempotenceConfigs
            // (apache/kafka, October 2024): more than 5 in flight turns the
            // default idempotence off, with a warning that 4.0 would make it
            // an error.
            (None, Some(n)) if n > 5 => {
                k.enable_idempotence = false;
                named.enable_idempotence = true;
            }
            (None, _) => {}
        }
    }

    /// Kafka's producer refuses an explicit idempotence with more than 5
    /// requests in flight.
    pub fn validate(&self) -> Result<(), String> {
        if self.idempotence == Some(true) && self.max_in_flight.is_some_and(|n| n > 5) {
            return Err(
                "max.in.flight.requests.per.connection: must be at most 5 to use \
                 the idempotent producer (Kafka's ProducerConfig refuses it)"
                    .into(),
            );
        }
        Ok(())
    }
}
