//! The map from class fingerprints to class ids that the first pass
//! consults for every transition. It outgrows the caches early, so a
//! lookup is a memory access: open addressing with linear probing keeps
//! that to one cache line, and a lookup's bucket can be prefetched while the
//! next fingerprint is being computed.

/// A state's identity: the hash of its broker symmetry class.
pub type Fingerprint = u64;

/// Fingerprints and ids of five classes, in one cache line: a lookup reads
/// one line, so the table can run fuller than a table of single slots
/// probed one by one.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    /// 0 marks an empty slot; the fingerprint 0 lives in `ClassIds::zero`.
    fps: [Fingerprint; PER_BUCKET],
    ids: [u32; PER_BUCKET],
}

const PER_BUCKET: usize = 5;

/// The table grows when it is this many eighths full. A lookup reads its
/// home line, and the next one only when the home line is full: with five
/// slots to a line that stays rare even at 7/8, where single slots probed
/// one by one needed to stay under 1/2. The table is
/// most of the search's memory: 24 to 48 bytes a class at 1/2, 15 to 29
/// here.
const FULL_EIGHTHS: usize = 7;

pub struct ClassIds {
    buckets: Vec<Bucket>,
    len: usize,
    zero: Option<u32>,
}

impl Default for ClassIds {
    fn default() -> Self {
        ClassIds {
            buckets: vec![Bucket::default(); 1 << 8],
            len: 0,
            zero: None,
        }
    }
}

impl ClassIds {
    fn home(&self, fp: Fingerprint) -> usize {
        // Fingerprints are uniform hashes already; the high bits pick the
        // shard in `classes`, so the low ones pick the bucket.
        fp as usize & (self.buckets.len() - 1)
    }

    /// Asks the CPU to start loading `fp`'s bucket.
    pub fn prefetch(&self, fp: Fingerprint) {
        prefetch(self.buckets.as_ptr().wrapping_add(self.home(fp)) as *const u8);
    }

    /// Where the buckets lie and which bits of a fingerprint pick one: for
    /// a prefetch by a thread that does not hold the table.
    pub fn layout(&self) -> (*const u8, usize) {
        (self.buckets.as_ptr() as *const u8, self.buckets.len() - 1)
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
        let mask = self.buckets.len() - 1;
        let mut i = self.home(fp);
        loop {
            let b = &mut self.buckets[i];
            for k in 0..PER_BUCKET {
                if b.fps[k] == fp {
                    return (b.ids[k], false);
                }
                if b.fps[k] == 0 {
                    let id = fresh();
                    b.fps[k] = fp;
                    b.ids[k] = id;
                    self.len += 1;
                    if self.len * 8 > self.buckets.len() * PER_BUCKET * FULL_EIGHTHS {
                        self.grow();
                    }
                    return (id, true);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Every (fingerprint, id) pair, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Fingerprint, u32)> + '_ {
        let zero = self.zero.map(|id| (0, id));
        self.buckets
            .iter()
            .flat_map(|b| b.fps.iter().zip(&b.ids))
            .filter(|&(&fp, _)| fp != 0)
            .map(|(&fp, &id)| (fp, id))
            .chain(zero)
    }

    fn grow(&mut self) {
        let bigger = vec![Bucket::default(); self.buckets.len() * 2];
        let old = std::mem::replace(&mut self.buckets, bigger);
        let mask = self.buckets.len() - 1;
        for b in old {
            for k in (0..PER_BUCKET).filter(|&k| b.fps[k] != 0) {
                let mut i = self.home(b.fps[k]);
                loop {
                    let to = &mut self.buckets[i];
                    if let Some(free) = to.fps.iter().position(|&f| f == 0) {
                        to.fps[free] = b.fps[k];
                        to.ids[free] = b.ids[k];
                        break;
                    }
                    i = (i + 1) & mask;
                }
            }
        }
    }
}

/// Asks the CPU to start loading the cache line at `p`. Any address will
/// do: a prefetch is a hint, never a read, and never faults.
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` dereferences nothing.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The size of a bucket, for prefetches computed from `ClassIds::layout`.
pub const BUCKET_BYTES: usize = std::mem::size_of::<Bucket>();

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

    /// Keys that share a home bucket overflow into the next ones, past the
    /// end of the table and back to its start, and are found there.
    #[test]
    fn a_full_bucket_overflows_into_the_next() {
        let mut t = ClassIds::default();
        let last = (t.buckets.len() - 1) as u64;
        let keys: Vec<u64> = (1..=3 * PER_BUCKET as u64)
            .map(|k| (k << 40) | last)
            .collect();
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(t.get_or_insert(k, || i as u32), (i as u32, true));
        }
        assert_eq!(t.buckets[0].fps[0], keys[PER_BUCKET], "wrapped around");
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(t.get_or_insert(k, || unreachable!()), (i as u32, false));
        }
        assert_eq!(t.iter().count(), keys.len());
    }
}
