//! A partition's files: segment files holding record batches exactly as
//! the leader stored them, the leader-epoch checkpoint, the HW checkpoint
//! and the recovery point (what was fsynced).
//!
//! The files mirror the core's `Log`; they decide nothing. Every log change
//! a protocol step makes reaches `apply` as a `LogWrite`, before anything
//! the step sends: an append is written (and the batch's bytes leave
//! memory), a truncation cuts the files, a flush fsyncs them and moves the
//! recovery point (`log.flush.interval.messages`). On start, `open` reads
//! the segments back, checking every batch's CRC-32C, offsets and epochs,
//! and cuts a torn or corrupt tail, saying where and why.

use crate::core::effects::LogWrite;
use crate::core::log::{Entry, Log};
use crate::core::types::{Epoch, Offset, Record};
use crate::wire::batch::Batch;
use bytes::Bytes;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A new segment starts once the active one holds this many bytes.
pub const SEGMENT_BYTES: u64 = 64 << 20;

const HW_FILE: &str = "high-watermark-checkpoint";
const RECOVERY_FILE: &str = "recovery-point-offset-checkpoint";
const EPOCH_FILE: &str = "leader-epoch-checkpoint";

#[derive(Debug)]
struct Segment {
    base: Offset,
    path: PathBuf,
    /// Shared with the log's stored batches, which read their bytes from it.
    file: Arc<File>,
    len: u64,
}

/// Where one persisted entry lives.
#[derive(Clone, Copy, Debug)]
struct Placed {
    offset: Offset,
    segment: usize,
    position: u64,
}

#[derive(Debug)]
pub struct PartitionDir {
    dir: PathBuf,
    segments: Vec<Segment>,
    index: Vec<Placed>,
    flushed: Offset,
    high_watermark: Offset,
    epochs: Vec<(Epoch, Offset)>,
    /// A segment file was created or removed since the last flush: the
    /// folder's own entry must reach the disk too, or a power loss could
    /// lose a file the recovery point counts as fsynced.
    folder_changed: bool,
}

/// A HW checkpoint, written away from the broker's lock: its fsync may
/// wait on a journal commit behind everything else the disk is writing, and
/// no produce or fetch should wait with it.
#[derive(Debug)]
pub struct HwCheckpoint {
    path: PathBuf,
    high_watermark: Offset,
}

impl HwCheckpoint {
    pub fn write(&self) -> io::Result<()> {
        write_atomically(&self.path, &self.high_watermark.to_string())
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }
}

/// A power loss, for fault injection on a stopped broker: in every
/// partition folder under `broker_dir`, everything past the recovery point
/// (what was fsynced) is cut, whole batches at a time, as if the page
/// cache had never reached the disk. Answers what it cut, per partition.
pub fn lose_unflushed(broker_dir: &Path) -> io::Result<Vec<String>> {
    let mut notes = Vec::new();
    let Ok(dirs) = fs::read_dir(broker_dir) else {
        return Ok(notes);
    };
    for d in dirs {
        let d = d?.path();
        if !d.is_dir() {
            continue;
        }
        let flushed = read_number(&d.join(RECOVERY_FILE))?.unwrap_or(0);
        let mut names: Vec<PathBuf> = fs::read_dir(&d)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        names.sort();
        for path in names {
            let bytes = Bytes::from(fs::read(&path)?);
            let mut keep = 0usize;
            while let Ok(b) = Batch::parse_one(&bytes, keep) {
                let end = b.base_offset() + b.offset_count() as i64;
                if end > flushed as i64 {
                    break;
                }
                keep += b.size();
            }
            if keep < bytes.len() {
                OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(keep as u64)?;
                notes.push(format!(
                    "{}: cut {} unflushed bytes past offset {flushed}",
                    path.display(),
                    bytes.len() - keep
                ));
            }
        }
    }
    Ok(notes)
}

/// What `open` found on disk.
#[derive(Debug, Default)]
pub struct Recovered {
    pub log: Log<Batch>,
    pub high_watermark: Offset,
    /// What recovery cut, and why, for the operator.
    pub notes: Vec<String>,
}

fn segment_name(base: Offset) -> String {
    format!("{base:020}.log")
}

fn read_number(path: &Path) -> io::Result<Option<Offset>> {
    match fs::read_to_string(path) {
        Ok(s) => s.trim().parse().map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes a small file so that a crash leaves the old or the new one.
/// Each write has a temporary file of its own: two writers of the same
/// file (the HW ticker and a shutdown) must not interleave into one.
fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp.{n}"));
    let mut f = File::create(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}

impl PartitionDir {
    /// The partition's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder of `topic`-`partition` under `root`.
    pub fn path(root: &Path, topic: &str, partition: i32) -> PathBuf {
        root.join(format!("{topic}-{partition}"))
    }

    /// Opens (or creates) a partition's folder and recovers its log.
    pub fn open(dir: PathBuf) -> io::Result<(PartitionDir, Recovered)> {
        fs::create_dir_all(&dir)?;
        let mut bases: Vec<Offset> = Vec::new();
        for e in fs::read_dir(&dir)? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".log")
                && let Ok(base) = stem.parse()
            {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        let mut rec = Recovered::default();
        let mut me = PartitionDir {
            dir,
            segments: Vec::new(),
            index: Vec::new(),
            flushed: 0,
            high_watermark: 0,
            epochs: Vec::new(),
            folder_changed: false,
        };
        let mut broken = false;
        for base in bases {
            let path = me.dir.join(segment_name(base));
            if broken || base != rec.log.end_offset() {
                if !broken {
                    rec.notes.push(format!(
                        "{}: starts at offset {base}, but the log ends at {}; removed with every later segment",
                        path.display(),
                        rec.log.end_offset()
                    ));
                }
                broken = true;
                fs::remove_file(&path)?;
                continue;
            }
            let file = Arc::new(OpenOptions::new().read(true).write(true).open(&path)?);
            let bytes = Bytes::from(fs::read(&path)?);
            let segment = me.segments.len();
            let mut at = 0usize;
            while at < bytes.len() {
                let problem = match Batch::parse_one(&bytes, at) {
                    Err(e) => Some(e.to_string()),
                    Ok(b) => {
                        let offset = rec.log.end_offset();
                        let epoch = u32::try_from(b.partition_leader_epoch()).ok();
                        let last = rec.log.last_epoch();
                        match epoch {
                            _ if b.base_offset() != offset as i64 => Some(format!(
                                "batch at byte {at} has base offset {}, expected {offset}",
                                b.base_offset()
                            )),
                            Some(e) if last.is_none_or(|l| l <= e) => {
                                let len = b.size();
                                me.index.push(Placed {
                                    offset,
                                    segment,
                                    position: at as u64,
                                });
                                rec.log.append_replicated(Entry {
                                    epoch: e,
                                    offset,
                                    record: b.stored_at(file.clone(), at as u64),
                                });
                                at += len;
                                None
                            }
                            _ => Some(format!("batch at byte {at} has an impossible leader epoch")),
                        }
                    }
                };
                if let Some(why) = problem {
                    rec.notes.push(format!(
                        "{}: {why}; cutting the last {} bytes",
                        path.display(),
                        bytes.len() - at
                    ));
                    broken = true;
                    break;
                }
            }
            if at < bytes.len() {
                file.set_len(at as u64)?;
                file.sync_all()?;
            }
            me.segments.push(Segment {
                base,
                path,
                file,
                len: at as u64,
            });
        }
        let end = rec.log.end_offset();
        me.flushed = read_number(&me.dir.join(RECOVERY_FILE))?
            .unwrap_or(0)
            .min(end);
        rec.log.restore_flushed(me.flushed);
        me.high_watermark = read_number(&me.dir.join(HW_FILE))?.unwrap_or(0).min(end);
        rec.high_watermark = me.high_watermark;
        me.epochs = epoch_starts(&rec.log);
        me.write_epochs()?;
        Ok((me, rec))
    }

    /// Makes one change the core made to its log.
    pub fn apply(&mut self, write: &LogWrite<Batch>) -> io::Result<()> {
        match write {
            LogWrite::Append(e) => {
                self.append(e)?;
                if self.epochs.last().is_none_or(|(last, _)| *last != e.epoch) {
                    self.epochs.push((e.epoch, e.offset));
                    self.write_epochs()?;
                }
            }
            LogWrite::Truncate { to } => {
                let keep = self.index.partition_point(|p| p.offset < *to);
                if keep < self.index.len() {
                    self.cut(keep)?;
                }
                let epochs = self.epochs.len();
                self.epochs.retain(|(_, start)| start < to);
                if self.epochs.len() != epochs {
                    self.write_epochs()?;
                }
                if self.flushed > *to {
                    self.flushed = *to;
                    write_atomically(&self.dir.join(RECOVERY_FILE), &to.to_string())?;
                }
            }
            LogWrite::Flush { to } => {
                for s in &self.segments {
                    s.file.sync_data()?;
                }
                if self.folder_changed {
                    File::open(&self.dir)?.sync_all()?;
                    self.folder_changed = false;
                }
                self.flushed = *to;
                write_atomically(&self.dir.join(RECOVERY_FILE), &to.to_string())?;
            }
        }
        Ok(())
    }

    /// The HW checkpoint to write, if `hw` moved since the last one. Kafka
    /// checkpoints the HW periodically, not on every change.
    pub fn high_watermark_due(&mut self, hw: Offset) -> Option<HwCheckpoint> {
        (hw != self.high_watermark).then(|| self.high_watermark_now(hw))
    }

    /// The HW checkpoint to write whether or not one is due: a shutdown
    /// writes its own, since an earlier one may still be on its way.
    pub fn high_watermark_now(&mut self, hw: Offset) -> HwCheckpoint {
        self.high_watermark = hw;
        HwCheckpoint {
            path: self.dir.join(HW_FILE),
            high_watermark: hw,
        }
    }

    /// Removes the persisted entries from index `keep` on.
    fn cut(&mut self, keep: usize) -> io::Result<()> {
        let at = self.index[keep];
        self.index.truncate(keep);
        for s in self.segments.drain(at.segment + 1..) {
            fs::remove_file(&s.path)?;
            self.folder_changed = true;
        }
        let s = &mut self.segments[at.segment];
        s.file.set_len(at.position)?;
        s.len = at.position;
        if at.position == 0 && at.segment > 0 {
            let s = self.segments.pop().expect("present");
            fs::remove_file(&s.path)?;
            self.folder_changed = true;
        }
        Ok(())
    }

    /// Writes `e` after the last stored entry; from then on the batch is
    /// read from the file.
    fn append(&mut self, e: &Entry<Batch>) -> io::Result<()> {
        let roll = self.segments.last().is_none_or(|s| s.len >= SEGMENT_BYTES);
        if roll {
            let path = self.dir.join(segment_name(e.offset));
            let file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(&path)?;
            self.folder_changed = true;
            self.segments.push(Segment {
                base: e.offset,
                path,
                file: Arc::new(file),
                len: 0,
            });
        }
        let segment = self.segments.len() - 1;
        let s = &mut self.segments[segment];
        let bytes = e.record.read()?;
        s.file.write_all_at(&bytes, s.len)?;
        let position = s.len;
        self.index.push(Placed {
            offset: e.offset,
            segment,
            position,
        });
        s.len += bytes.len() as u64;
        debug_assert!(s.base <= e.offset);
        e.record.stored_in(s.file.clone(), position);
        Ok(())
    }

    /// Kafka's leader-epoch-checkpoint: version, count, then "epoch start".
    fn write_epochs(&self) -> io::Result<()> {
        let mut text = format!("0\n{}\n", self.epochs.len());
        for (e, o) in &self.epochs {
            text.push_str(&format!("{e} {o}\n"));
        }
        write_atomically(&self.dir.join(EPOCH_FILE), &text)
    }
}

/// Each epoch in the log with the offset where it starts.
fn epoch_starts(log: &Log<Batch>) -> Vec<(Epoch, Offset)> {
    let mut out: Vec<(Epoch, Offset)> = Vec::new();
    for e in log.entries() {
        if out.last().is_none_or(|(last, _)| *last != e.epoch) {
            out.push((e.epoch, e.offset));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::batch::tests::client_batch;

    fn batch(n: i64) -> Batch {
        Batch::parse_one(&client_batch(n, -1, -1), 0).unwrap()
    }

    /// What the core's writes do to the files: each log change, applied.
    fn append(log: &mut Log<Batch>, files: &mut PartitionDir, epoch: Epoch, b: Batch) {
        log.append(epoch, b);
        let e = log.entries().last().unwrap().clone();
        files.apply(&LogWrite::Append(e)).unwrap();
    }

    fn truncate(log: &mut Log<Batch>, files: &mut PartitionDir, to: Offset) {
        log.truncate_to(to);
        files.apply(&LogWrite::Truncate { to }).unwrap();
    }

    fn flush(log: &mut Log<Batch>, files: &mut PartitionDir) {
        assert!(log.maybe_flush(Some(1)));
        let to = log.flushed_offset();
        files.apply(&LogWrite::Flush { to }).unwrap();
    }

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("insync-storage-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_log_written_and_truncated_reads_back_the_same() {
        let dir = temp("roundtrip");
        let (mut files, rec) = PartitionDir::open(dir.clone()).unwrap();
        assert_eq!(rec.log.end_offset(), 0);
        let mut log = Log::default();
        append(&mut log, &mut files, 1, batch(2));
        append(&mut log, &mut files, 1, batch(3));
        append(&mut log, &mut files, 2, batch(1));
        truncate(&mut log, &mut files, 2);
        append(&mut log, &mut files, 3, batch(4));
        flush(&mut log, &mut files);
        files.high_watermark_due(4).unwrap().write().unwrap();
        drop(files);
        let (_, rec) = PartitionDir::open(dir.clone()).unwrap();
        assert!(rec.notes.is_empty(), "{:?}", rec.notes);
        assert_eq!(rec.log.entries(), log.entries());
        assert_eq!(rec.high_watermark, 4);
        assert_eq!(rec.log.flushed_offset(), 6);
        let epochs = fs::read_to_string(dir.join(EPOCH_FILE)).unwrap();
        assert_eq!(epochs, "0\n2\n1 0\n3 2\n");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_synced_log_keeps_headers_and_reads_its_bytes_from_the_files() {
        let dir = temp("stored");
        let (mut files, _) = PartitionDir::open(dir.clone()).unwrap();
        let mut log = Log::default();
        log.append(1, batch(2));
        log.append(1, batch(3));
        let before: Vec<Bytes> = log
            .entries()
            .iter()
            .map(|e| e.record.read().unwrap())
            .collect();
        assert!(log.entries().iter().all(|e| !e.record.is_stored()));
        for e in log.entries() {
            files.apply(&LogWrite::Append(e.clone())).unwrap();
        }
        for (e, bytes) in log.entries().iter().zip(&before) {
            assert!(e.record.is_stored(), "{:?} still in memory", e.record);
            assert_eq!(&e.record.read().unwrap(), bytes);
        }
        // A batch taken from the log before it was truncated and rewritten
        // cannot be read as something else.
        let taken = log.entries()[1].record.clone();
        truncate(&mut log, &mut files, 2);
        append(&mut log, &mut files, 2, batch(4));
        let err = taken.read().unwrap_err();
        assert!(err.to_string().contains("no longer holds"), "{err}");
        let (_, rec) = PartitionDir::open(dir.clone()).unwrap();
        assert_eq!(rec.log.entries(), log.entries());
        assert!(rec.log.entries().iter().all(|e| e.record.is_stored()));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_power_loss_cuts_what_was_not_fsynced() {
        let root = temp("power");
        let dir = PartitionDir::path(&root, "t", 0);
        let (mut files, _) = PartitionDir::open(dir.clone()).unwrap();
        let mut log = Log::default();
        append(&mut log, &mut files, 1, batch(2));
        append(&mut log, &mut files, 1, batch(3));
        flush(&mut log, &mut files);
        append(&mut log, &mut files, 1, batch(1));
        drop(files);
        let notes = lose_unflushed(&root).unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        let (_, rec) = PartitionDir::open(dir).unwrap();
        assert_eq!(rec.log.end_offset(), 5, "the flushed batches stay");
        assert!(
            lose_unflushed(&root).unwrap().is_empty(),
            "nothing more to cut"
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_cut_and_reported() {
        let dir = temp("torn");
        let (mut files, _) = PartitionDir::open(dir.clone()).unwrap();
        let mut log = Log::default();
        append(&mut log, &mut files, 1, batch(2));
        append(&mut log, &mut files, 1, batch(2));
        drop(files);
        let seg = dir.join(segment_name(0));
        let whole = fs::read(&seg).unwrap();
        // Torn: the second batch is half written.
        fs::write(&seg, &whole[..whole.len() - 10]).unwrap();
        let (_, rec) = PartitionDir::open(dir.clone()).unwrap();
        assert_eq!(rec.log.end_offset(), 2);
        assert!(rec.notes[0].contains("cutting the last"), "{:?}", rec.notes);
        assert_eq!(fs::metadata(&seg).unwrap().len() as usize, whole.len() / 2);
        // Corrupt: a flipped bit in the only batch left.
        let mut bytes = fs::read(&seg).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&seg, &bytes).unwrap();
        let (_, rec) = PartitionDir::open(dir.clone()).unwrap();
        assert_eq!(rec.log.end_offset(), 0);
        assert!(rec.notes[0].contains("CRC"), "{:?}", rec.notes);
        fs::remove_dir_all(dir).unwrap();
    }
}
