//! A replica's local log: entries tagged with the leader epoch that wrote
//! them, the log end offset, the flushed offset and the leader-epoch cache.
//!
//! The epoch cache is derived from the entries instead of kept beside them:
//! Kafka truncates its cache with the log, so the two always agree, and one
//! source of truth cannot drift.

use super::types::{Epoch, Offset, ProducerSeq, Record};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entry<R> {
    /// The leader epoch that appended this entry.
    pub epoch: Epoch,
    /// The entry's base offset.
    pub offset: Offset,
    pub record: R,
}

impl<R: Record> Entry<R> {
    pub fn end_offset(&self) -> Offset {
        self.offset + self.record.offset_count()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Log<R> {
    entries: Vec<Entry<R>>,
    /// Everything below this offset is on disk; the rest is in the page cache.
    flushed: Offset,
}

impl<R> Default for Log<R> {
    fn default() -> Self {
        Log {
            entries: Vec::new(),
            flushed: 0,
        }
    }
}

impl<R: Record> Log<R> {
    pub fn entries(&self) -> &[Entry<R>] {
        &self.entries
    }

    /// The log end offset (LEO).
    pub fn end_offset(&self) -> Offset {
        self.entries.last().map_or(0, Entry::end_offset)
    }

    pub fn flushed_offset(&self) -> Offset {
        self.flushed
    }

    /// The epoch of the last entry: a follower's `last_fetched_epoch`.
    pub fn last_epoch(&self) -> Option<Epoch> {
        self.entries.last().map(|e| e.epoch)
    }

    /// Kafka's `LeaderEpochFileCache.endOffsetFor`: the largest epoch at or
    /// below `epoch` that this log holds, and the offset where it ends (the
    /// start of the next epoch, or the LEO). When no epoch at or below it is
    /// held, answers `epoch` itself ending where the first later epoch starts.
    pub fn end_offset_for_epoch(&self, epoch: Epoch) -> (Epoch, Offset) {
        let mut floor = None;
        for e in &self.entries {
            if e.epoch > epoch {
                return (floor.unwrap_or(epoch), e.offset);
            }
            floor = Some(e.epoch);
        }
        (floor.unwrap_or(epoch), self.end_offset())
    }

    /// The entry holding `offset`, if any.
    pub fn entry_at(&self, offset: Offset) -> Option<&Entry<R>> {
        self.entries
            .iter()
            .find(|e| e.offset <= offset && offset < e.end_offset())
    }

    /// The entries at or after `offset`: what a fetch from `offset` returns.
    pub fn entries_from(&self, offset: Offset) -> &[Entry<R>] {
        let start = self.entries.partition_point(|e| e.end_offset() <= offset);
        &self.entries[start..]
    }

    pub fn append(&mut self, epoch: Epoch, record: R) -> Offset {
        let offset = self.end_offset();
        if let Some(last) = self.entries.last() {
            assert!(
                last.epoch <= epoch,
                "epochs in a log never decrease: appending epoch {epoch} after {}",
                last.epoch
            );
        }
        self.entries.push(Entry {
            epoch,
            offset,
            record: record.stamped(offset, epoch),
        });
        offset
    }

    /// Appends an entry fetched from the leader, at the offset the leader gave it.
    pub fn append_replicated(&mut self, entry: Entry<R>) {
        assert_eq!(
            entry.offset,
            self.end_offset(),
            "replicated entries arrive in order, without gaps"
        );
        if let Some(last) = self.entries.last() {
            assert!(last.epoch <= entry.epoch, "epochs in a log never decrease");
        }
        self.entries.push(entry);
    }

    /// Removes every entry at or above `offset`.
    pub fn truncate_to(&mut self, offset: Offset) {
        let keep = self.entries.partition_point(|e| e.offset < offset);
        self.entries.truncate(keep);
        debug_assert!(self.end_offset() <= offset.max(self.end_offset()));
        self.flushed = self.flushed.min(self.end_offset());
    }

    /// `log.flush.interval.messages`: fsync once that many offsets are unflushed.
    pub fn maybe_flush(&mut self, interval: Option<u64>) -> bool {
        match interval {
            Some(n) if self.end_offset() - self.flushed >= n.max(1) => {
                self.flushed = self.end_offset();
                true
            }
            _ => false,
        }
    }

    /// fsync everything (a clean shutdown). Returns whether anything was unflushed.
    pub fn flush(&mut self) -> bool {
        self.maybe_flush(Some(1))
    }

    /// After a restart: what the recovery-point checkpoint says was fsynced.
    pub fn restore_flushed(&mut self, offset: Offset) {
        self.flushed = offset.min(self.end_offset());
    }

    /// What survives a power loss: the flushed prefix.
    pub fn cut_to_flushed(&mut self) {
        let flushed = self.flushed;
        self.truncate_to(flushed);
        // An entry straddling the flushed offset is torn: drop it whole.
        let keep = self.entries.partition_point(|e| e.end_offset() <= flushed);
        self.entries.truncate(keep);
        self.flushed = self.end_offset();
    }

    /// Where an idempotent producer's batch already sits, if it does.
    /// As Kafka's `ProducerStateEntry.findDuplicateBatch`, only batches of
    /// the producer's latest epoch in the log count. Its sequences only grow
    /// along the log, so the search stops at its first older batch.
    pub fn find_sequence(&self, seq: ProducerSeq) -> Option<Offset> {
        for e in self.entries.iter().rev() {
            match e.record.producer_seq() {
                Some(s) if s.producer_id != seq.producer_id => {}
                Some(s) if s == seq => return Some(e.offset),
                Some(s) if s.producer_epoch != seq.producer_epoch || s.sequence < seq.sequence => {
                    return None;
                }
                _ => {}
            }
        }
        None
    }

    /// What the log knows of a producer, as Kafka's producer state rebuilt
    /// from it: its latest epoch and last sequence (the last record's, not
    /// its batch's first). `None`: the producer is unknown here.
    pub fn last_of_producer(&self, producer_id: u64) -> Option<ProducerSeq> {
        self.entries.iter().rev().find_map(|e| {
            let s = e.record.producer_seq()?;
            let span = e.record.offset_count() as u32;
            (s.producer_id == producer_id).then(|| ProducerSeq {
                sequence: s.sequence.wrapping_add(span - 1),
                ..s
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    struct R(u8);
    impl Record for R {
        fn producer_seq(&self) -> Option<ProducerSeq> {
            None
        }
    }

    fn log(epochs: &[Epoch]) -> Log<R> {
        let mut l = Log::default();
        for (i, &e) in epochs.iter().enumerate() {
            l.append(e, R(i as u8));
        }
        l
    }

    #[test]
    fn end_offset_for_epoch_follows_kafka() {
        let l = log(&[0, 0, 2, 2, 5]);
        assert_eq!(l.end_offset_for_epoch(0), (0, 2));
        assert_eq!(l.end_offset_for_epoch(1), (0, 2));
        assert_eq!(l.end_offset_for_epoch(2), (2, 4));
        assert_eq!(l.end_offset_for_epoch(4), (2, 4));
        assert_eq!(l.end_offset_for_epoch(5), (5, 5));
        let later = log(&[3, 3]);
        assert_eq!(later.end_offset_for_epoch(1), (1, 0));
    }

    #[test]
    fn power_loss_keeps_only_the_flushed_prefix() {
        let mut l = log(&[0, 0]);
        assert!(l.maybe_flush(Some(2)));
        l.append(0, R(9));
        assert!(!l.maybe_flush(Some(2)));
        assert!(!l.maybe_flush(None));
        l.cut_to_flushed();
        assert_eq!(l.end_offset(), 2);
        l.truncate_to(1);
        assert_eq!(l.flushed_offset(), 1);
    }
}
