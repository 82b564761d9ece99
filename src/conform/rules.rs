//! The ghost of one partition and the rules each traced step must pass.
//! Rule names are stable: a report names the one that failed.

use super::{Step, TracedEvent};
use crate::core::effects::{ElectionKind, Event};
use crate::core::types::BrokerSet;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The first step the specification does not allow.
#[derive(Debug, Serialize)]
pub struct Violation {
    /// Position in the merged, causally ordered trace.
    pub step: usize,
    pub file: String,
    pub line: usize,
    pub rule: &'static str,
    pub detail: String,
    pub event: String,
    /// The partition's ghost just before the step.
    pub state_before: Value,
}

#[derive(Clone, Debug, Default, Serialize)]
struct ControllerGhost {
    leader: Option<u64>,
    epoch: u64,
    isr: BTreeSet<u64>,
    elr: BTreeSet<u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
struct BrokerGhost {
    life: usize,
    /// The leader epoch of each offset the log holds.
    #[serde(skip)]
    log: Vec<u64>,
    log_end: u64,
    /// After a restart the recovered log end is unknown until a step shows
    /// it; it may only be shorter than before (a cut tail).
    end_known: bool,
    high_watermark: u64,
    leader_epoch: Option<u64>,
    isr: BTreeSet<u64>,
    /// What each follower has, as this leader recorded from its fetches.
    follower_ends: BTreeMap<u64, u64>,
    /// Every epoch this broker ever held at each offset: a follower may
    /// copy what its leader held when it answered, even if it has
    /// truncated since.
    #[serde(skip)]
    ever: BTreeMap<u64, BTreeSet<u64>>,
}

impl BrokerGhost {
    fn set_end(&mut self, end: u64) {
        self.log.truncate(end as usize);
        self.log_end = self.log.len() as u64;
        self.high_watermark = self.high_watermark.min(self.log_end);
    }

    fn push(&mut self, epoch: u64, count: u64) {
        for _ in 0..count {
            self.ever
                .entry(self.log.len() as u64)
                .or_default()
                .insert(epoch);
            self.log.push(epoch);
        }
        self.log_end = self.log.len() as u64;
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Ghost {
    controller: Option<ControllerGhost>,
    /// (broker, epoch) pairs the controller elected.
    elected: BTreeSet<(u64, u64)>,
    brokers: BTreeMap<u64, BrokerGhost>,
}

/// A set of brokers as the ghost keeps it.
fn ids(s: BrokerSet) -> BTreeSet<u64> {
    s.iter().map(u64::from).collect()
}

type Check = Result<(), (&'static str, String)>;

fn require(ok: bool, rule: &'static str, detail: impl FnOnce() -> String) -> Check {
    if ok { Ok(()) } else { Err((rule, detail())) }
}

impl Ghost {
    /// Applies one step, or names the rule it breaks.
    pub fn apply(&mut self, index: usize, s: &Step) -> Result<(), Box<Violation>> {
        let before = serde_json::to_value(&*self).unwrap_or_default();
        let result = if s.node == "controller" {
            self.controller_step(&s.event)
        } else {
            self.broker_step(s)
        };
        result.map_err(|(rule, detail)| {
            Box::new(Violation {
                step: index,
                file: s.file.display().to_string(),
                line: s.line,
                rule,
                detail,
                event: if s.text.is_empty() {
                    serde_json::to_string(&s.event).unwrap_or_default()
                } else {
                    s.text.clone()
                },
                state_before: before,
            })
        })
    }

    fn controller_step(&mut self, e: &TracedEvent) -> Check {
        let c = self.controller.get_or_insert_with(ControllerGhost::default);
        match e {
            Event::LeaderElected {
                broker,
                epoch,
                kind,
                isr,
            } => {
                let (broker, epoch) = (u64::from(*broker), u64::from(*epoch));
                require(epoch > c.epoch, "leader-epoch-increases", || {
                    format!("epoch {epoch} after epoch {}", c.epoch)
                })?;
                // The first election has no ISR before it: every replica is in.
                let first = c.epoch == 0 && c.isr.is_empty();
                match kind {
                    ElectionKind::Clean => require(
                        first || c.isr.contains(&broker),
                        "clean-election-from-isr",
                        || format!("broker {broker} elected cleanly, ISR {:?}", c.isr),
                    )?,
                    ElectionKind::Preferred => require(
                        c.isr.contains(&broker) && c.leader.is_some_and(|l| l != broker),
                        "preferred-election-moves-a-leader-within-the-isr",
                        || {
                            format!(
                                "broker {broker} elected as preferred leader, leader {:?}, ISR {:?}",
                                c.leader, c.isr
                            )
                        },
                    )?,
                    ElectionKind::Elr => {
                        require(c.elr.contains(&broker), "elr-election-from-elr", || {
                            format!("broker {broker} elected from the ELR {:?}", c.elr)
                        })?
                    }
                    // Allowed only with unclean.leader.election.enable; the
                    // trace does not carry the setting, the lincheck does
                    // see what it costs.
                    ElectionKind::Unclean => {}
                    ElectionKind::LastKnownLeader => require(
                        c.isr.is_empty() && c.elr.is_empty(),
                        "last-known-leader-only-without-isr-and-elr",
                        || {
                            format!(
                                "broker {broker} elected as last known leader, ISR {:?}, ELR {:?}",
                                c.isr, c.elr
                            )
                        },
                    )?,
                }
                c.leader = Some(broker);
                c.epoch = epoch;
                c.isr = ids(*isr);
                self.elected.insert((broker, epoch));
            }
            Event::BrokerFenced {
                isr,
                elr,
                leader_lost,
                ..
            }
            | Event::ShutdownGranted {
                isr,
                elr,
                leader_lost,
                ..
            } => {
                c.isr = ids(*isr);
                c.elr = ids(*elr);
                if *leader_lost {
                    c.leader = None;
                }
            }
            Event::BrokerRegistered { isr, elr, .. } | Event::IsrChanged { isr, elr, .. } => {
                c.isr = ids(*isr);
                c.elr = ids(*elr);
            }
            _ => {}
        }
        Ok(())
    }

    fn broker_step(&mut self, s: &Step) -> Check {
        let id = s
            .node
            .strip_prefix("broker ")
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| {
                (
                    "well-formed-event",
                    format!("node {:?} is neither controller nor broker N", s.node),
                )
            })?;
        let me = self.brokers.entry(id).or_insert_with(|| BrokerGhost {
            life: s.life,
            end_known: true,
            ..BrokerGhost::default()
        });
        if me.life != s.life {
            // A new life: what the broker recovered shows in its next steps.
            me.life = s.life;
            me.end_known = false;
            me.leader_epoch = None;
            me.follower_ends.clear();
        }
        match &s.event {
            Event::LeaderAppend {
                epoch,
                offset,
                record,
                ..
            } => {
                let (epoch, offset) = (u64::from(*epoch), *offset);
                reveal_end(me, offset)?;
                require(me.leader_epoch == Some(epoch), "append-by-leader", || {
                    format!(
                        "broker {id} appends in epoch {epoch} but leads {:?}",
                        me.leader_epoch
                    )
                })?;
                require(offset == me.log_end, "append-at-log-end", || {
                    format!("offset {offset}, log end {}", me.log_end)
                })?;
                require(
                    me.log.last().is_none_or(|l| *l <= epoch),
                    "epochs-never-decrease",
                    || format!("epoch {epoch} after {:?}", me.log.last()),
                )?;
                me.push(epoch, record.records);
            }
            Event::FollowerAppend {
                leader,
                from,
                to,
                high_watermark,
                ..
            } => {
                let (leader, from, to, hw) = (u64::from(*leader), *from, *to, *high_watermark);
                // Past this, a restarted log's epochs are the ghost's guess.
                let traced_end = me.log_end;
                reveal_end(me, from)?;
                require(from == me.log_end, "fetch-from-log-end", || {
                    format!("appends from {from}, log end {}", me.log_end)
                })?;
                let l = self.brokers.get(&leader);
                let held: Vec<Option<u64>> = (from..to)
                    .map(|o| {
                        l.and_then(|l| {
                            l.log
                                .get(o as usize)
                                .copied()
                                .or_else(|| l.ever.get(&o).and_then(|s| s.last().copied()))
                        })
                    })
                    .collect();
                // Log matching, which KIP-320's diverging-epoch check exists
                // for: a follower extends its log only where it ends in an
                // epoch its leader held at that offset.
                if let (Some(l), Some(mine)) = (l, from.checked_sub(1).filter(|o| *o < traced_end))
                {
                    let mine_epoch = self.brokers[&id].log.get(mine as usize).copied();
                    let theirs: BTreeSet<u64> = l
                        .log
                        .get(mine as usize)
                        .copied()
                        .into_iter()
                        .chain(l.ever.get(&mine).into_iter().flatten().copied())
                        .collect();
                    if let Some(e) = mine_epoch {
                        require(
                            theirs.is_empty() || theirs.contains(&e),
                            "extends-matching-log",
                            || {
                                format!(
                                    "broker {id} holds epoch {e} at offset {mine} and appends after it from broker {leader}, which held epochs {theirs:?} there"
                                )
                            },
                        )?;
                    }
                }
                let me = self.brokers.get_mut(&id).expect("entered above");
                if let Some(missing) = held.iter().position(Option::is_none) {
                    return Err((
                        "copy-of-leader",
                        format!(
                            "broker {id} appends offset {} from broker {leader}, which never held it",
                            from + missing as u64
                        ),
                    ));
                }
                for epoch in held.into_iter().flatten() {
                    require(
                        me.log.last().is_none_or(|l| *l <= epoch),
                        "epochs-never-decrease",
                        || format!("epoch {epoch} after {:?}", me.log.last()),
                    )?;
                    me.push(epoch, 1);
                }
                require(hw <= me.log_end, "hw-within-log", || {
                    format!("HW {hw}, log end {}", me.log_end)
                })?;
                me.high_watermark = hw;
            }
            Event::FollowerHighWatermark { high_watermark, .. } => {
                let hw = *high_watermark;
                require(!me.end_known || hw <= me.log_end, "hw-within-log", || {
                    format!("HW {hw}, log end {}", me.log_end)
                })?;
                me.high_watermark = hw;
            }
            Event::FetchRecorded {
                follower,
                fetch_offset,
                ..
            } => {
                me.follower_ends.insert(u64::from(*follower), *fetch_offset);
            }
            Event::HighWatermarkAdvanced { high_watermark, .. } => {
                let hw = *high_watermark;
                require(me.leader_epoch.is_some(), "hw-by-leader", || {
                    format!("broker {id} is not a leader")
                })?;
                require(hw >= me.high_watermark, "hw-never-decreases", || {
                    format!("HW {hw} after {}", me.high_watermark)
                })?;
                require(!me.end_known || hw <= me.log_end, "hw-within-log", || {
                    format!("HW {hw}, log end {}", me.log_end)
                })?;
                for m in me.isr.iter().filter(|m| **m != id) {
                    let has = me.follower_ends.get(m).copied();
                    require(has.is_some_and(|h| h >= hw), "hw-replicated-to-isr", || {
                        format!("HW {hw}, but ISR member {m} has fetched up to {has:?}")
                    })?;
                }
                me.high_watermark = hw;
            }
            Event::Truncated { to, .. } => {
                let to = *to;
                if me.end_known {
                    require(to <= me.log_end, "truncate-within-log", || {
                        format!("to {to}, log end {}", me.log_end)
                    })?;
                } else {
                    reveal_end(me, to)?;
                }
                me.set_end(to);
            }
            Event::BecameLeader {
                epoch,
                isr,
                high_watermark,
                ..
            } => {
                let epoch = u64::from(*epoch);
                require(
                    self.elected.contains(&(id, epoch)),
                    "leader-was-elected",
                    || {
                        format!(
                            "broker {id} leads epoch {epoch}, which the controller never gave it"
                        )
                    },
                )?;
                let me = self.brokers.get_mut(&id).expect("entered above");
                me.leader_epoch = Some(epoch);
                me.isr = ids(*isr);
                me.follower_ends.clear();
                me.high_watermark = *high_watermark;
            }
            Event::BecameFollower { .. } => me.leader_epoch = None,
            Event::IsrUpdated { isr, .. } => me.isr = ids(*isr),
            _ => {}
        }
        Ok(())
    }
}

/// After a restart, the first step that shows the recovered log end. The
/// recovery may only have cut a tail, but a kill can come between a traced
/// truncation and the files' own: the disk may still hold entries the
/// broker had held past its traced end.
fn reveal_end(me: &mut BrokerGhost, end: u64) -> Check {
    if me.end_known {
        return Ok(());
    }
    let held = |o: u64| me.ever.get(&o).and_then(|s| s.last().copied());
    require(
        end <= me.log_end || (me.log_end..end).all(|o| held(o).is_some()),
        "restart-keeps-a-prefix",
        || format!("the restarted log ends at {end}, past anything it held"),
    )?;
    let tail: Vec<u64> = (me.log_end..end).filter_map(held).collect();
    me.log.extend(tail);
    me.set_end(end);
    me.end_known = true;
    Ok(())
}
