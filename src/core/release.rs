//! Kafka releases, and which of the protocol's rules each one has.
//!
//! A verdict is only worth something as a statement about a release a user
//! runs, so every rule that changed between releases is named here with
//! the KIP or JIRA that changed it and the first release that shipped it,
//! as read in Kafka's source. A release selects its bundle of rules; single
//! settings and flags still override it.

use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A Kafka release: `3.6`, `3.6.2`, `4.1`. A missing patch number means
/// the release's first (`.0`).
/// With a proposal (`4.3+KAFKA-19996`): that release with an open change
/// applied, to decide the change before it ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KafkaVersion {
    pub major: u8,
    pub minor: u8,
    pub patch: u8,
    pub proposal: Option<Proposal>,
}

/// An open change to Kafka's rules, modelled as a release of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proposal {
    /// apache/kafka PR 23024: while the partition is under
    /// min.insync.replicas, a follower joins the ISR only once it is caught
    /// up with the leader, not merely past the (stalled) HW.
    Kafka19996,
}

impl Proposal {
    pub const ALL: [Proposal; 1] = [Proposal::Kafka19996];

    pub fn name(self) -> &'static str {
        match self {
            Proposal::Kafka19996 => "KAFKA-19996",
        }
    }

    /// The rule the proposal brings.
    pub fn rule(self) -> Rule {
        match self {
            Proposal::Kafka19996 => Rule::CaughtUpIsrExpansionUnderMinIsr,
        }
    }
}

impl KafkaVersion {
    pub const fn new(major: u8, minor: u8, patch: u8) -> Self {
        KafkaVersion {
            major,
            minor,
            patch,
            proposal: None,
        }
    }

    /// Whether this release has `rule`.
    pub fn has(self, rule: Rule) -> bool {
        if let Some(p) = Proposal::ALL.into_iter().find(|p| p.rule() == rule) {
            return self.proposal == Some(p);
        }
        rule.info().since.iter().any(|&(first, last_minor)| {
            self >= first
                && last_minor
                    .is_none_or(|(major, minor)| (self.major, self.minor) <= (major, minor))
        })
    }

    /// The release without any proposal.
    pub fn released(self) -> Self {
        KafkaVersion::new(self.major, self.minor, self.patch)
    }

    /// Whether insync models this release.
    pub fn check_modelled(self) -> Result<Self, String> {
        let base = self.released();
        if base < OLDEST || base > NEWEST_MODELLED_LINE {
            return Err(format!(
                "Kafka {self} is not modelled: insync models {OLDEST} to {NEWEST} \
                 (for the pre-0.11 high-watermark truncation, use truncation = \"high-watermark\")"
            ));
        }
        Ok(self)
    }
}

/// The oldest release whose rules insync models: the idempotent producer's
/// rules are KIP-360's, from 2.5 (leader-epoch truncation is whole from 2.0).
pub const OLDEST: KafkaVersion = KafkaVersion::new(2, 5, 0);
/// The newest release modelled, and the default.
pub const NEWEST: KafkaVersion = KafkaVersion::new(4, 3, 0);
/// Patch releases of the newest line are accepted too.
const NEWEST_MODELLED_LINE: KafkaVersion = KafkaVersion::new(4, 3, u8::MAX);

/// Releases the README's table shows, one per line where a rule changed.
pub const TABLE_RELEASES: &[KafkaVersion] = &[
    KafkaVersion::new(2, 8, 0),
    KafkaVersion::new(3, 0, 0),
    KafkaVersion::new(3, 2, 0),
    KafkaVersion::new(3, 4, 0),
    KafkaVersion::new(3, 6, 0),
    KafkaVersion::new(3, 7, 0),
    KafkaVersion::new(4, 0, 0),
    KafkaVersion::new(4, 1, 0),
    NEWEST,
    KafkaVersion {
        proposal: Some(Proposal::Kafka19996),
        ..NEWEST
    },
];

/// The last minor line of each major release before the newest.
const LAST_MINOR: &[(u8, u8)] = &[(2, 8), (3, 9)];

/// The releases where some modelled rule begins or ends, from the oldest
/// modelled: every release from one of them up to the next has the same
/// modelled rules, so one check per era decides them all.
pub fn eras() -> Vec<KafkaVersion> {
    let mut starts = vec![OLDEST];
    for rule in RULES {
        let info = rule.info();
        if !info.modelled || !info.splits_seed_table {
            continue;
        }
        for &(first, last_minor) in info.since {
            starts.push(first);
            if let Some((major, minor)) = last_minor {
                starts.push(KafkaVersion::new(major, minor + 1, 0));
            }
        }
    }
    starts.retain(|v| (OLDEST..=NEWEST).contains(v));
    starts.sort();
    starts.dedup();
    starts
}

/// The era `v` falls in: the last era start at or before it.
pub fn era_of(v: KafkaVersion) -> KafkaVersion {
    eras().into_iter().rfind(|&e| e <= v).unwrap_or(OLDEST)
}

/// How a reader names the releases from `first` up to, not including,
/// `next` (`None`: every later one): "before 3.7", "3.7 to 4.0", "from 4.1".
pub fn describe_releases(first: KafkaVersion, next: Option<KafkaVersion>) -> String {
    let Some(next) = next else {
        return format!("from {first}");
    };
    if first == OLDEST {
        return format!("before {next}");
    }
    let last = if next.patch > 0 {
        KafkaVersion::new(next.major, next.minor, next.patch - 1).to_string()
    } else {
        let (major, minor) = match next.minor {
            0 => LAST_MINOR
                .iter()
                .find(|(m, _)| *m + 1 == next.major)
                .map_or((next.major, 0), |&(m, n)| (m, n)),
            n => (next.major, n - 1),
        };
        let line = KafkaVersion::new(major, minor, 0);
        if (first.major, first.minor) == (major, minor) && first.patch > 0 {
            format!("{line}.x")
        } else {
            line.to_string()
        }
    };
    if last == first.to_string() {
        last
    } else {
        format!("{first} to {last}")
    }
}

impl FromStr for KafkaVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some((base, change)) = s.split_once('+') {
            let proposal = Proposal::ALL
                .into_iter()
                .find(|p| p.name().eq_ignore_ascii_case(change.trim()))
                .ok_or_else(|| {
                    let known: Vec<&str> = Proposal::ALL.iter().map(|p| p.name()).collect();
                    format!(
                        "{change:?} is not a proposal insync models (known: {})",
                        known.join(", ")
                    )
                })?;
            let v: KafkaVersion = base.parse()?;
            return Ok(KafkaVersion {
                proposal: Some(proposal),
                ..v
            });
        }
        let bad =
            || format!("a Kafka version is written like 3.6, 3.6.2 or 4.3+KAFKA-19996, not {s:?}");
        let parts: Vec<&str> = s.trim().split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad());
        }
        let n = |p: &str| p.parse::<u8>().map_err(|_| bad());
        Ok(KafkaVersion::new(
            n(parts[0])?,
            n(parts[1])?,
            parts.get(2).map(|p| n(p)).transpose()?.unwrap_or(0),
        ))
    }
}

impl fmt::Display for KafkaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        if let Some(p) = self.proposal {
            write!(f, "+{}", p.name())?;
        }
        Ok(())
    }
}

impl Serialize for KafkaVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A protocol rule that some releases have and others do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    LeaderEpochTruncation,
    UncleanElectionOffByDefault,
    UnknownProducerAccepted,
    AcksAllByDefault,
    IdempotenceByDefault,
    DuplicateBrokerRegistration,
    FencedReplicasLeaveIsr,
    BrokerEpochInFetch,
    StrictMinIsr,
    EligibleLeaderReplicas,
    EligibleLeaderReplicasByDefault,
    LastKnownLeader,
    LastKnownLeaderOnlyIfAcceptable,
    CaughtUpIsrExpansionUnderMinIsr,
}

/// What the README and `insync releases` say about a rule.
pub struct RuleInfo {
    /// Short, stable name (JSON and tables).
    pub name: &'static str,
    /// The KIP or JIRA that brought it.
    pub source: &'static str,
    /// Where Kafka decides it.
    pub kafka: &'static str,
    /// Ranges of releases that have it: the first release, and the last
    /// minor line of the range (`None`: every later release).
    pub since: &'static [(KafkaVersion, Option<(u8, u8)>)],
    /// Whether the checker models it yet (and the server runs it).
    pub modelled: bool,
    /// Whether the seed's table is decided again where it begins. KIP-841
    /// and KIP-903 only refuse a restarted broker's way back into the ISR;
    /// with the table's one crash and no other leader move, the broker that
    /// crashed can never lead again before it has caught up (leading needs
    /// a second leader change), so they cannot change a cell, and deciding
    /// the table twice more would cost minutes. Their own scenarios
    /// (`kip903-stale-fetch-*`) decide them.
    pub splits_seed_table: bool,
    pub what: &'static str,
}

pub const RULES: &[Rule] = &[
    Rule::LeaderEpochTruncation,
    Rule::UncleanElectionOffByDefault,
    Rule::UnknownProducerAccepted,
    Rule::AcksAllByDefault,
    Rule::IdempotenceByDefault,
    Rule::DuplicateBrokerRegistration,
    Rule::FencedReplicasLeaveIsr,
    Rule::BrokerEpochInFetch,
    Rule::StrictMinIsr,
    Rule::EligibleLeaderReplicas,
    Rule::EligibleLeaderReplicasByDefault,
    Rule::LastKnownLeader,
    Rule::LastKnownLeaderOnlyIfAcceptable,
    Rule::CaughtUpIsrExpansionUnderMinIsr,
];

const fn v(major: u8, minor: u8, patch: u8) -> KafkaVersion {
    KafkaVersion::new(major, minor, patch)
}

impl Rule {
    pub fn info(self) -> RuleInfo {
        match self {
            Rule::LeaderEpochTruncation => RuleInfo {
                name: "leader-epoch-truncation",
                source: "KIP-101 (0.11), KIP-279 (2.0)",
                kafka: "AbstractFetcherThread.truncateToEpochEndOffsets",
                since: const { &[(v(2, 0, 0), None)] },
                modelled: true,
                splits_seed_table: true,
                what: "a follower truncates to the end of the last leader epoch it shares with \
                       the leader, not to its high watermark",
            },
            Rule::UncleanElectionOffByDefault => RuleInfo {
                name: "unclean-election-off-by-default",
                source: "KIP-106 (0.11)",
                kafka: "LogConfig.DEFAULT_UNCLEAN_LEADER_ELECTION_ENABLE",
                since: const { &[(v(2, 0, 0), None)] },
                modelled: true,
                splits_seed_table: true,
                what: "unclean.leader.election.enable is false unless set",
            },
            Rule::UnknownProducerAccepted => RuleInfo {
                name: "unknown-producer-accepted",
                source: "KIP-360 (2.5)",
                kafka: "ProducerAppendInfo.checkSequence, TransactionManager.handleFailedBatch",
                since: const { &[(v(2, 5, 0), None)] },
                modelled: true,
                splits_seed_table: true,
                what: "a partition with no state for an idempotent producer accepts any first \
                       sequence from it; the producer bumps its epoch after a failed batch and \
                       starts again at sequence 0",
            },
            Rule::AcksAllByDefault => RuleInfo {
                name: "acks-all-by-default",
                source: "KIP-679 (3.0)",
                kafka: "ProducerConfig (ACKS_CONFIG default \"all\")",
                since: const { &[(v(3, 0, 0), None)] },
                modelled: true,
                splits_seed_table: true,
                what: "the producer's acks is all unless set (1 before)",
            },
            Rule::IdempotenceByDefault => RuleInfo {
                name: "idempotence-by-default",
                source: "KIP-679 (3.0), in effect from KAFKA-13598",
                kafka: "ProducerConfig.postProcessAndValidateIdempotenceConfigs",
                since: const {
                    &[
                        (v(3, 0, 1), Some((3, 0))),
                        (v(3, 1, 1), Some((3, 1))),
                        (v(3, 2, 0), None),
                    ]
                },
                modelled: true,
                splits_seed_table: true,
                what: "enable.idempotence is true unless set; an acks other than all or \
                       retries=0 quietly turns the default off",
            },
            // The model keeps this rule by construction: a killed broker's
            // heartbeat timeout goes to the controller ahead of its next
            // life's registration, on the same ordered channel, and a
            // controlled shutdown fences the broker before it stops; a
            // healed partition resumes the same life. The server enforces
            // it (`control/node.rs`, `register`). Every modelled release
            // has it, so it splits no era.
            Rule::DuplicateBrokerRegistration => RuleInfo {
                name: "duplicate-broker-registration",
                source: "KRaft (2.8)",
                kafka: "ClusterControlManager.registerBroker",
                since: const { &[(v(2, 8, 0), None)] },
                modelled: true,
                splits_seed_table: false,
                what: "a registration from a broker whose previous life still holds a session is \
                       refused with DUPLICATE_BROKER_REGISTRATION",
            },
            Rule::FencedReplicasLeaveIsr => RuleInfo {
                name: "fenced-replicas-leave-isr",
                source: "KIP-841 (3.3)",
                kafka: "ReplicationControlManager.ineligibleReplicasForIsr \
                        (KafkaController.processAlterPartition in ZooKeeper mode)",
                since: const { &[(v(3, 3, 0), None)] },
                modelled: true,
                splits_seed_table: false,
                what: "fenced and shutting-down brokers are kept out of the ISR",
            },
            Rule::BrokerEpochInFetch => RuleInfo {
                name: "broker-epoch-in-fetch",
                source: "KIP-903 (3.5)",
                kafka: "ReplicationControlManager.ineligibleReplicasForIsr \
                        (AlterPartition's newIsrWithEpochs)",
                since: const { &[(v(3, 5, 0), None)] },
                modelled: true,
                splits_seed_table: false,
                what: "a fetch from a broker's previous life cannot put it back into the ISR: \
                       the controller compares the fetch's broker epoch with the registered one \
                       (KRaft only; ZooKeeper-mode clusters never got this check)",
            },
            Rule::StrictMinIsr => RuleInfo {
                name: "strict-min-isr",
                source: "KAFKA-15583 (3.7)",
                kafka: "Partition.maybeIncrementLeaderHW (returns when isUnderMinIsr)",
                since: const { &[(v(3, 7, 0), None)] },
                modelled: true,
                splits_seed_table: true,
                what: "the high watermark does not advance while |ISR| < min.insync.replicas",
            },
            Rule::EligibleLeaderReplicas => RuleInfo {
                name: "eligible-leader-replicas",
                source: "KIP-966 (4.0, opt-in)",
                kafka: "PartitionChangeBuilder",
                since: const { &[(v(4, 0, 0), None)] },
                modelled: true,
                splits_seed_table: true,
                what: "replicas that left the ISR while it was under min.insync.replicas may \
                       still be elected (eligible.leader.replicas.version=1)",
            },
            Rule::EligibleLeaderReplicasByDefault => RuleInfo {
                name: "eligible-leader-replicas-by-default",
                source: "KIP-966 (4.1)",
                kafka: "EligibleLeaderReplicasVersion (a feature level new clusters are formatted with)",
                since: const { &[(v(4, 1, 0), None)] },
                modelled: true,
                splits_seed_table: true,
                what: "clusters formatted at this release have ELR on; an upgraded cluster keeps \
                       it off until kafka-features upgrade",
            },
            Rule::LastKnownLeader => RuleInfo {
                name: "last-known-leader",
                source: "KIP-966 (4.0)",
                kafka: "PartitionChangeBuilder.canElectLastKnownLeader",
                since: const { &[(v(4, 0, 0), None)] },
                modelled: true,
                splits_seed_table: true,
                what: "with ELR, when the ISR and the ELR are both empty the controller elects the \
                       last known leader once it is unfenced",
            },
            // Why 4.0's rule is not modelled apart: the ISR and the ELR are
            // both empty only once the last known leader itself has left
            // the ELR, and it leaves it only by registering again after an
            // unclean shutdown (`handleBrokerUncleanShutdown`), fenced
            // until its first heartbeat. 4.0 elects it in that window, 4.1
            // right after; the model registers and unfences in one step, so
            // the two coincide there, and the leader and its log are the
            // same either way.
            Rule::LastKnownLeaderOnlyIfAcceptable => RuleInfo {
                name: "last-known-leader-only-if-acceptable",
                source: "KAFKA-19522 (4.1)",
                kafka: "PartitionChangeBuilder.canElectLastKnownLeader",
                since: const { &[(v(4, 1, 0), None)] },
                modelled: false,
                splits_seed_table: true,
                what: "with ELR, the last known leader is elected when ISR and ELR are empty \
                       only if it is unfenced; 4.0 elected it regardless, and 4.0 and 4.1.0 \
                       recorded it when the ISR emptied (checked here with 4.1.1's rules)",
            },
            Rule::CaughtUpIsrExpansionUnderMinIsr => RuleInfo {
                name: "caught-up-isr-expansion-under-min-isr",
                source: "KAFKA-19996 (proposal, apache/kafka PR 23024)",
                kafka: "Partition.isFollowerInSync",
                since: &[],
                modelled: true,
                splits_seed_table: true,
                what: "while the partition is under min.insync.replicas, a follower rejoins the \
                       ISR only once it has caught up with the leader's log end, not merely \
                       reached the high watermark the strict rule holds back",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ver(s: &str) -> KafkaVersion {
        s.parse().unwrap()
    }

    #[test]
    fn versions_parse_compare_and_print_as_kafka_writes_them() {
        assert_eq!(ver("3.6"), KafkaVersion::new(3, 6, 0));
        assert_eq!(ver("3.6.2").to_string(), "3.6.2");
        assert_eq!(ver("4.1.0").to_string(), "4.1");
        assert!(ver("3.10") > ver("3.9"));
        for bad in ["3", "three.6", "3.6.2.1", "", "3.-1"] {
            assert!(bad.parse::<KafkaVersion>().is_err(), "{bad:?}");
        }
        assert!(ver("1.1").check_modelled().is_err());
        assert!(ver("4.4").check_modelled().is_err());
        assert!(ver("4.3.1").check_modelled().is_ok());
        assert!(ver("2.4").check_modelled().is_err());
        assert!(ver("2.5").check_modelled().is_ok());
        let p = ver("4.3+kafka-19996");
        assert_eq!(p.to_string(), "4.3+KAFKA-19996");
        assert!(p.check_modelled().is_ok());
        assert!(p.has(Rule::CaughtUpIsrExpansionUnderMinIsr) && p.has(Rule::StrictMinIsr));
        assert!(!ver("4.3").has(Rule::CaughtUpIsrExpansionUnderMinIsr));
        assert!("4.3+KAFKA-1".parse::<KafkaVersion>().is_err());
        assert_eq!(era_of(p), ver("4.1"));
    }

    #[test]
    fn eras_split_the_releases_where_a_modelled_rule_changes() {
        let eras: Vec<String> = eras().iter().map(|v| v.to_string()).collect();
        assert_eq!(
            eras,
            [
                "2.5", "3.0", "3.0.1", "3.1", "3.1.1", "3.2", "3.7", "4.0", "4.1"
            ]
        );
        assert_eq!(era_of(ver("3.6.2")), ver("3.2"));
        assert_eq!(era_of(ver("4.3")), ver("4.1"));
        assert_eq!(describe_releases(OLDEST, Some(ver("3.7"))), "before 3.7");
        assert_eq!(
            describe_releases(ver("3.7"), Some(ver("4.1"))),
            "3.7 to 4.0"
        );
        assert_eq!(
            describe_releases(ver("3.2"), Some(ver("4.0"))),
            "3.2 to 3.9"
        );
        assert_eq!(describe_releases(ver("3.0"), Some(ver("3.0.1"))), "3.0");
        assert_eq!(
            describe_releases(ver("3.0.1"), Some(ver("3.1"))),
            "3.0.1 to 3.0.x"
        );
        assert_eq!(describe_releases(ver("4.1"), None), "from 4.1");
    }

    #[test]
    fn each_rule_starts_in_the_release_kafka_shipped_it() {
        assert!(!ver("3.6.2").has(Rule::StrictMinIsr));
        assert!(ver("3.7").has(Rule::StrictMinIsr));
        assert!(!ver("3.9").has(Rule::EligibleLeaderReplicas));
        assert!(ver("4.0").has(Rule::EligibleLeaderReplicas));
        assert!(!ver("4.0.1").has(Rule::EligibleLeaderReplicasByDefault));
        assert!(ver("4.1").has(Rule::EligibleLeaderReplicasByDefault));
        assert!(!ver("2.8").has(Rule::AcksAllByDefault));
        assert!(ver("3.0").has(Rule::AcksAllByDefault));
        // KAFKA-13598: the default only took effect in these patches.
        let idem: Vec<bool> = ["3.0", "3.0.1", "3.1", "3.1.1", "3.2", "4.1"]
            .iter()
            .map(|s| ver(s).has(Rule::IdempotenceByDefault))
            .collect();
        assert_eq!(idem, [false, true, false, true, true, true]);
    }
}
