//! The map from class fingerprints to class ids that the first pass
//! consults for every transition. It outgrows the caches early, so a
//! lookup is a memory access: open addressing with linear probing keeps
//! that to one cache line, and a lookup's slot can be prefetched while the
//! next fingerprint is being computed.

/// A state's identity: the hash of its broker symmetry class.
pub type Fingerprint = u64;

/// 12 bytes: the table is most of the search's memory.
#[derive(Clone, Copy, Default)]
#[repr(C, packed(4))]
struct Slot {
    /// 0 marks an empty slot; the fingerprint 0 lives in `ClassIds::zero`.
    fp: Fingerprint,
    id: u32,
}

pub struct ClassIds {
    slots: Vec<Slot>,
    len: usize,
    zero: Option<u32>,
}

impl Default for ClassIds {
    fn default() -> Self {
        ClassIds {
            slots: vec![Slot::default(); 1 << 10],
            len: 0,
            zero: None,
        }
    }
}

impl ClassIds {
    fn home(&self, fp: Fingerprint) -> usize {
        // Fingerprints are uniform hashes already.
        fp as usize & (self.slots.len() - 1)
    }

    /// Asks the CPU to start loading `fp`'s slot.
    pub fn prefetch(&self, fp: Fingerprint) {
        #[cfg(target_arch = "x86_64")]
        {
            let p = self.slots.as_ptr().wrapping_add(self.home(fp));
            // SAFETY: a prefetch is a hint; it never faults, whatever the address.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    p as *const i8,
                )
            };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = fp;
    }

    /// `fp`'s id, inserting `fresh()` if it has none; and whether it was new.
    pub fn get_or_insert(&mut self, fp: Fingerprint, fresh: impl FnOnce() -> u32) -> (u32, bool) {
        if fp == 0 {
            return match self.zero {
                Some(id) => (id, false),
                None => {
                    let id = fresh();
                    self.zero = Some(id);
                    (id, true)
                }
            };
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(fp);
        loop {
            let s = self.slots[i];
            if s.fp == fp {
                return (s.id, false);
            }
            if s.fp == 0 {
                let id = fresh();
                self.slots[i] = Slot { fp, id };
                self.len += 1;
                // At most half full keeps probe runs short.
                if self.len * 2 > self.slots.len() {
                    self.grow();
                }
                return (id, true);
            }
            i = (i + 1) & mask;
        }
    }

    /// Every (fingerprint, id) pair, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Fingerprint, u32)> + '_ {
        let zero = self.zero.map(|id| (0, id));
        self.slots
            .iter()
            .filter(|s| s.fp != 0)
            .map(|s| (s.fp, s.id))
            .chain(zero)
    }

    fn grow(&mut self) {
        let bigger = vec![Slot::default(); self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, bigger);
        let mask = self.slots.len() - 1;
        for s in old.into_iter().filter(|s| s.fp != 0) {
            let mut i = self.home(s.fp);
            while self.slots[i].fp != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_survive_growth_and_zero_is_a_key() {
        let mut t = ClassIds::default();
        let mut next = 0;
        let keys: Vec<u64> = (0..10_000u64)
            .map(|k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        for &k in &keys {
            let (id, new) = t.get_or_insert(k, || {
                next += 1;
                next - 1
            });
            assert!(new);
            assert_eq!(id, next - 1);
        }
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(t.get_or_insert(k, || unreachable!()), (i as u32, false));
        }
        let mut all: Vec<(u64, u32)> = t.iter().collect();
        all.sort_by_key(|&(_, id)| id);
        assert!(all.iter().map(|&(k, _)| k).eq(keys.iter().copied()));
    }
}
