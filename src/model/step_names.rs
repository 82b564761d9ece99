//! Names for the steps of a compact state that stay the same step in every
//! state where it is enabled, so that the search's sleep sets
//! (`check::sleep`) can carry a step from one state to the next: "deliver
//! the head of channel (i, j)", "actor i's timer T fires", "the controller
//! elects broker b". A name is a bit of a `u128`. Models too large for all
//! of their names to fit leave the rest unnamed, and an unnamed step never
//! sleeps, which only costs time.

use super::actor::Timer;
use crate::core::types::BrokerId;
use smallvec::SmallVec;

/// Where each actor slot goes under a renaming of brokers: `to[i]` is
/// slot `i`'s place in the renamed state.
pub type SlotMap = SmallVec<[u8; 12]>;

/// A set of step names.
pub type NameSet = u128;

/// A step, by what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Named {
    Deliver { src: u8, dst: u8 },
    Timer { actor: u8, timer: Timer },
    Elect { controller: u8, broker: BrokerId },
}

/// The numbering of one model's step names.
pub struct Names {
    actors: usize,
    all: Vec<Named>,
    /// The names of the steps other than deliveries: the
    /// search looks a name up for every transition it follows.
    others: std::collections::HashMap<Named, u8, ahash::RandomState>,
}

const PLAIN: [Timer; 5] = [
    Timer::Crash,
    Timer::Restart,
    Timer::ControlledShutdown,
    Timer::Isolate,
    Timer::Heal,
];

impl Names {
    /// Brokers occupy the first `rf` of `actors` slots, the controller the next.
    pub fn new(actors: usize, rf: usize) -> Names {
        let mut all = Vec::new();
        for src in 0..actors {
            for dst in 0..actors {
                let (src, dst) = (src as u8, dst as u8);
                all.push(Named::Deliver { src, dst });
            }
        }
        let holders = 0..=rf;
        for actor in holders.clone() {
            for timer in PLAIN {
                all.push(Named::Timer {
                    actor: actor as u8,
                    timer,
                });
            }
        }
        for broker in 1..=rf as BrokerId {
            all.push(Named::Elect {
                controller: rf as u8,
                broker,
            });
        }
        for actor in holders {
            for b in 1..=rf as BrokerId {
                for timer in [
                    Timer::ReplicaLagTimeMax(b),
                    Timer::ElectPreferred(b),
                    Timer::RollingRestart(b),
                ] {
                    all.push(Named::Timer {
                        actor: actor as u8,
                        timer,
                    });
                }
            }
        }
        all.truncate(NameSet::BITS as usize);
        let others = (0..all.len())
            .filter(|&i| !matches!(all[i], Named::Deliver { .. }))
            .map(|i| (all[i], i as u8))
            .collect();
        Names {
            actors,
            all,
            others,
        }
    }

    /// The step's name, if it has one.
    pub fn name(&self, step: Named) -> Option<u8> {
        if let Named::Deliver { src, dst } = step {
            let i = src as usize * self.actors + dst as usize;
            return (i < self.all.len()).then_some(i as u8);
        }
        self.others.get(&step).copied()
    }

    /// The actor whose state the step reads and changes.
    pub fn owner(&self, name: u8) -> usize {
        match self.all[name as usize] {
            Named::Deliver { dst, .. } => dst as usize,
            Named::Timer { actor, .. } => actor as usize,
            Named::Elect { controller, .. } => controller as usize,
        }
    }

    /// Every name whose step belongs to `actor`.
    pub fn owned_by(&self, actor: usize) -> NameSet {
        (0..self.all.len())
            .filter(|&n| self.owner(n as u8) == actor)
            .fold(0, |s, n| s | 1 << n)
    }

    /// Every delivery from `actor` to one of the brokers (slots 0..rf).
    pub fn delivered_from(&self, actor: usize, rf: usize) -> NameSet {
        (0..self.all.len())
            .filter(|&n| {
                matches!(self.all[n], Named::Deliver { src, dst }
                    if src as usize == actor && (dst as usize) < rf)
            })
            .fold(0, |s, n| s | 1 << n)
    }

    /// `set` with actors renamed by `to` (slot `i` becomes slot `to[i]`,
    /// broker `b` broker `to[b - 1] + 1`). A name whose renamed step has
    /// no name is dropped: it wakes, which is always sound.
    pub fn renamed(&self, set: NameSet, to: &SlotMap) -> NameSet {
        let b = |b: BrokerId| to[b as usize - 1] + 1;
        let mut out = 0;
        let mut rest = set;
        while rest != 0 {
            let n = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            let step = match self.all[n] {
                Named::Deliver { src, dst } => Named::Deliver {
                    src: to[src as usize],
                    dst: to[dst as usize],
                },
                Named::Timer { actor, timer } => Named::Timer {
                    actor: to[actor as usize],
                    timer: match timer {
                        Timer::ReplicaLagTimeMax(x) => Timer::ReplicaLagTimeMax(b(x)),
                        Timer::ElectPreferred(x) => Timer::ElectPreferred(b(x)),
                        Timer::RollingRestart(x) => Timer::RollingRestart(b(x)),
                        t => t,
                    },
                },
                Named::Elect { controller, broker } => Named::Elect {
                    controller: to[controller as usize],
                    broker: b(broker),
                },
            };
            if let Some(m) = self.name(step) {
                out |= 1 << m;
            }
        }
        out
    }

    /// `set` renamed by the inverse of `to`.
    pub fn unrenamed(&self, set: NameSet, to: &SlotMap) -> NameSet {
        let mut from: SlotMap = to.clone();
        for (i, &t) in to.iter().enumerate() {
            from[t as usize] = i as u8;
        }
        self.renamed(set, &from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_set_survives_a_renaming_and_back() {
        let names = Names::new(5, 3);
        let n = |s| names.name(s).unwrap();
        let set = (1u128 << n(Named::Deliver { src: 0, dst: 1 }))
            | (1 << n(Named::Timer {
                actor: 3,
                timer: Timer::RollingRestart(1),
            }))
            | (1 << n(Named::Elect {
                controller: 3,
                broker: 2,
            }));
        // Brokers 1, 2, 3 become 3, 1, 2.
        let to: SlotMap = [2u8, 0, 1, 3, 4].into_iter().collect();
        let renamed = names.renamed(set, &to);
        let want = (1u128 << n(Named::Deliver { src: 2, dst: 0 }))
            | (1 << n(Named::Timer {
                actor: 3,
                timer: Timer::RollingRestart(3),
            }))
            | (1 << n(Named::Elect {
                controller: 3,
                broker: 1,
            }));
        assert_eq!(renamed, want);
        assert_eq!(names.unrenamed(renamed, &to), set);
    }

    #[test]
    fn each_step_owns_its_actor() {
        let names = Names::new(5, 3);
        let d = names.name(Named::Deliver { src: 4, dst: 1 }).unwrap();
        assert_eq!(names.owner(d), 1);
        let t = names
            .name(Named::Timer {
                actor: 0,
                timer: Timer::ReplicaLagTimeMax(2),
            })
            .unwrap();
        assert_eq!(names.owner(t), 0);
        assert_ne!(names.owned_by(1) & (1 << d), 0);
        assert_eq!(names.owned_by(0) & (1 << d), 0);
    }

    #[test]
    fn five_brokers_name_what_fits_and_leave_the_rest_unnamed() {
        let names = Names::new(8, 5);
        assert!(names.name(Named::Deliver { src: 7, dst: 7 }).is_some());
        let last = Named::Timer {
            actor: 5,
            timer: Timer::RollingRestart(5),
        };
        assert_eq!(names.name(last), None);
    }
}
