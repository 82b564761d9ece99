//! The controller's metadata log on disk, as KRaft keeps `__cluster_metadata`:
//! records appended and fsynced before anyone hears of the decisions they
//! hold, each frame CRC-checked, a torn tail cut on recovery, and the log
//! compacted into a snapshot when it grows (KRaft's `SnapshotGenerator`).
//!
//! `metadata.log` holds frames `[length u32][crc32c u32][body]`, each body
//! one JSON `{offset, record}`. `snapshot` holds one such frame with the
//! image of everything before `next_offset`. A snapshot is written aside,
//! fsynced and renamed into place; the log is then replaced by an empty
//! one. A crash between the two leaves records the snapshot already holds,
//! which recovery skips by offset.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

const LOG: &str = "metadata.log";
const SNAPSHOT: &str = "snapshot";
const HEADER: usize = 8;
/// A frame larger than this is damage, not a record.
const MAX_FRAME: usize = 64 << 20;

#[derive(Serialize, Deserialize)]
struct Stored<R> {
    offset: u64,
    record: R,
}

#[derive(Serialize, Deserialize)]
struct StoredSnapshot<S> {
    next_offset: u64,
    image: S,
}

/// What a restarted controller reads back.
#[derive(Debug)]
pub struct Recovered<S, R> {
    pub snapshot: Option<S>,
    /// The records after the snapshot, with their offsets, in order.
    pub records: Vec<(u64, R)>,
    /// The offset the next record takes.
    pub next_offset: u64,
    /// What recovery repaired (a torn tail cut), for the operator.
    pub notes: Vec<String>,
}

#[derive(Debug)]
pub struct MetadataLog {
    dir: PathBuf,
    file: File,
    next_offset: u64,
    /// Records in `metadata.log`: a snapshot is due past `snapshot_every`.
    in_log: usize,
    snapshot_every: usize,
}

fn invalid(path: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {why}", path.display()),
    )
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    let len = u32::try_from(body.len()).expect("a frame below 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The whole frames at the start of `bytes`, and where the valid part ends.
fn frames(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= HEADER {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        let body_at = at + HEADER;
        if len > MAX_FRAME || bytes.len() - body_at < len {
            break;
        }
        let body = &bytes[body_at..body_at + len];
        if crc32c::crc32c(body) != crc {
            break;
        }
        out.push(body);
        at = body_at + len;
    }
    (out, at)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn read_all(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match File::open(path) {
        Ok(mut f) => {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            Ok(Some(bytes))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl MetadataLog {
    /// Opens (or creates) the log in `dir` and reads back what it holds.
    /// A torn or corrupt tail is cut, and said so in `notes`; a damaged
    /// snapshot or a gap in the offsets is an error, since what it lost
    /// cannot be told.
    pub fn open<S: DeserializeOwned, R: DeserializeOwned>(
        dir: &Path,
        snapshot_every: usize,
    ) -> io::Result<(MetadataLog, Recovered<S, R>)> {
        fs::create_dir_all(dir)?;
        let snap_path = dir.join(SNAPSHOT);
        let (snapshot, mut next_offset) = match read_all(&snap_path)? {
            None => (None, 0),
            Some(bytes) => {
                let (bodies, end) = frames(&bytes);
                if bodies.len() != 1 || end != bytes.len() {
                    return Err(invalid(
                        &snap_path,
                        "the snapshot is damaged (CRC or length)",
                    ));
                }
                let s: StoredSnapshot<S> =
                    serde_json::from_slice(bodies[0]).map_err(|e| invalid(&snap_path, e))?;
                (Some(s.image), s.next_offset)
            }
        };
        let log_path = dir.join(LOG);
        let bytes = read_all(&log_path)?.unwrap_or_default();
        let (bodies, valid) = frames(&bytes);
        let mut notes = Vec::new();
        let mut records = Vec::new();
        let mut in_log = 0;
        for body in bodies {
            let s: Stored<R> = serde_json::from_slice(body).map_err(|e| invalid(&log_path, e))?;
            in_log += 1;
            if s.offset < next_offset {
                continue; // already in the snapshot
            }
            if s.offset != next_offset {
                return Err(invalid(
                    &log_path,
                    format!(
                        "record {} follows {}: records are missing",
                        s.offset, next_offset
                    ),
                ));
            }
            records.push((s.offset, s.record));
            next_offset += 1;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        if valid < bytes.len() {
            notes.push(format!(
                "{}: cut a torn or corrupt tail of {} byte(s) after offset {}",
                log_path.display(),
                bytes.len() - valid,
                next_offset
            ));
            file.set_len(valid as u64)?;
            file.sync_all()?;
        }
        sync_dir(dir)?;
        let log = MetadataLog {
            dir: dir.to_path_buf(),
            file,
            next_offset,
            in_log,
            snapshot_every: snapshot_every.max(1),
        };
        let recovered = Recovered {
            snapshot,
            records,
            next_offset,
            notes,
        };
        Ok((log, recovered))
    }

    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Appends `records` (their offsets must follow on) and fsyncs them:
    /// when this returns, a crash keeps them.
    pub fn append<R: Serialize>(&mut self, records: &[(u64, R)]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        for (offset, record) in records {
            assert_eq!(*offset, self.next_offset, "metadata offsets follow on");
            let body = serde_json::to_vec(&Stored {
                offset: *offset,
                record,
            })
            .map_err(io::Error::other)?;
            bytes.extend_from_slice(&frame(&body));
            self.next_offset += 1;
        }
        self.file.write_all(&bytes)?;
        self.file.sync_data()?;
        self.in_log += records.len();
        Ok(())
    }

    pub fn wants_snapshot(&self) -> bool {
        self.in_log >= self.snapshot_every
    }

    /// Replaces everything before `next_offset` with `image`.
    pub fn snapshot<S: Serialize>(&mut self, image: &S) -> io::Result<()> {
        let body = serde_json::to_vec(&StoredSnapshot {
            next_offset: self.next_offset,
            image,
        })
        .map_err(io::Error::other)?;
        let tmp = self.dir.join("snapshot.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&frame(&body))?;
        f.sync_all()?;
        fs::rename(&tmp, self.dir.join(SNAPSHOT))?;
        sync_dir(&self.dir)?;
        let fresh = self.dir.join("metadata.log.tmp");
        File::create(&fresh)?.sync_all()?;
        fs::rename(&fresh, self.dir.join(LOG))?;
        sync_dir(&self.dir)?;
        self.file = OpenOptions::new().append(true).open(self.dir.join(LOG))?;
        self.in_log = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("insync-mlog-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    type Rec = Recovered<Vec<String>, String>;

    fn open(dir: &Path, every: usize) -> (MetadataLog, Rec) {
        MetadataLog::open(dir, every).expect("opens")
    }

    #[test]
    fn records_read_back_in_order_and_a_torn_tail_is_cut() {
        let dir = temp("torn");
        let (mut log, r) = open(&dir, 100);
        assert_eq!((r.records.len(), r.next_offset), (0, 0));
        log.append(&[(0, "a".to_string()), (1, "b".to_string())])
            .unwrap();
        drop(log);
        // Half a frame, as a kill during a write leaves it.
        let path = dir.join(LOG);
        let mut bytes = fs::read(&path).unwrap();
        let whole = bytes.len();
        bytes.extend_from_slice(&frame(b"{\"offset\":2,\"record\":\"c\"}")[..10]);
        fs::write(&path, &bytes).unwrap();
        let (mut log, r) = open(&dir, 100);
        assert_eq!(r.records, vec![(0, "a".into()), (1, "b".into())]);
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        assert_eq!(fs::metadata(&path).unwrap().len() as usize, whole);
        log.append(&[(2, "c".to_string())]).unwrap();
        drop(log);
        // A flipped byte in the last record: it is cut too.
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x40;
        fs::write(&path, &bytes).unwrap();
        let (_, r) = open(&dir, 100);
        assert_eq!(r.records.len(), 2);
        assert!(r.notes[0].contains("torn or corrupt"), "{:?}", r.notes);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_snapshot_replaces_the_log_and_a_crash_before_the_reset_is_harmless() {
        let dir = temp("snap");
        let (mut log, _) = open(&dir, 2);
        log.append(&[(0, "a".to_string()), (1, "b".to_string())])
            .unwrap();
        assert!(log.wants_snapshot());
        let old_log = fs::read(dir.join(LOG)).unwrap();
        log.snapshot(&vec!["a".to_string(), "b".to_string()])
            .unwrap();
        assert!(!log.wants_snapshot());
        log.append(&[(2, "c".to_string())]).unwrap();
        drop(log);
        let (_, r) = open(&dir, 2);
        assert_eq!(r.snapshot, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(r.records, vec![(2, "c".into())]);
        assert_eq!(r.next_offset, 3);
        // The old log back in place, as if the reset never happened.
        fs::write(dir.join(LOG), old_log).unwrap();
        let (_, r) = open(&dir, 2);
        assert_eq!(r.records, vec![]);
        assert_eq!(r.next_offset, 2);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_snapshot_or_a_gap_is_an_error_not_a_silent_loss() {
        let dir = temp("damaged");
        let (mut log, _) = open(&dir, 1);
        log.append(&[(0, "a".to_string())]).unwrap();
        log.snapshot(&vec!["a".to_string()]).unwrap();
        drop(log);
        let snap = dir.join(SNAPSHOT);
        let mut bytes = fs::read(&snap).unwrap();
        bytes[HEADER] ^= 1;
        fs::write(&snap, &bytes).unwrap();
        let e = MetadataLog::open::<Vec<String>, String>(&dir, 1).unwrap_err();
        assert!(e.to_string().contains("snapshot is damaged"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
        let (mut log, _) = open(&dir, 100);
        log.append(&[(0, "a".to_string())]).unwrap();
        log.next_offset = 5;
        log.append(&[(5, "f".to_string())]).unwrap();
        drop(log);
        let e = MetadataLog::open::<Vec<String>, String>(&dir, 100).unwrap_err();
        assert!(e.to_string().contains("records are missing"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
