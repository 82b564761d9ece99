//! Record batches as clients send them (Kafka's RecordBatch, magic 2),
//! kept as bytes: the log stores what the client sent, with only the base
//! offset and the leader epoch rewritten, neither of which the CRC covers.
//! A batch is the server's `Record`: the protocol core sees how many
//! offsets it takes and which idempotent producer sent it, nothing more.

use crate::core::error::ErrorCode;
use crate::core::types::{Epoch, Offset, ProducerSeq, Record};
use bytes::{Bytes, BytesMut};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes before the records: base offset through record count.
pub const HEADER_LEN: usize = 61;
/// Bytes before `batchLength` ends: the length counts what follows.
const LENGTH_END: usize = 12;
const CRC_AT: usize = 17;
const CRC_FROM: usize = 21;

#[derive(Debug, PartialEq, Eq)]
pub enum BatchError {
    /// Fewer bytes than a batch header, or than the batch's own length says.
    Truncated {
        at: usize,
        need: usize,
        have: usize,
    },
    UnsupportedMagic {
        at: usize,
        magic: i8,
    },
    BadLength {
        at: usize,
        length: i32,
    },
    BadCrc {
        at: usize,
        stored: u32,
        computed: u32,
    },
}

impl BatchError {
    /// The Kafka error code a Produce answers with.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            BatchError::UnsupportedMagic { .. } => ErrorCode::UnsupportedForMessageFormat,
            _ => ErrorCode::CorruptMessage,
        }
    }
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::Truncated { at, need, have } => {
                write!(f, "batch at byte {at}: needs {need} bytes, {have} left")
            }
            BatchError::UnsupportedMagic { at, magic } => {
                write!(f, "batch at byte {at}: magic {magic}, only 2 is supported")
            }
            BatchError::BadLength { at, length } => {
                write!(f, "batch at byte {at}: impossible batchLength {length}")
            }
            BatchError::BadCrc {
                at,
                stored,
                computed,
            } => write!(
                f,
                "batch at byte {at}: CRC-32C {stored:#010x} stored, {computed:#010x} computed"
            ),
        }
    }
}

/// A batch in a log. Until its segment file holds it, the whole batch is
/// in memory; after that only its header is, and reads go to the file (the
/// page cache): a broker's memory then stays flat however long its logs
/// grow, instead of the kernel zeroing fresh pages for every record.
///
/// Every copy of a batch (the log's, a write's, a fetch answer's) shares
/// where its bytes are, so the storage layer moves them to the file without
/// touching the core's log: nothing the protocol sees (the header and the
/// size) changes.
#[derive(Clone)]
pub struct Batch {
    header: [u8; HEADER_LEN],
    size: usize,
    bytes: Arc<Mutex<Place>>,
}

/// Where a batch's bytes are.
enum Place {
    Memory(Bytes),
    /// In its segment file at `position`.
    File {
        file: Arc<File>,
        position: u64,
    },
}

/// The header holds the CRC of everything after it, so two batches with the
/// same header and length are the same batch, wherever their bytes are.
impl PartialEq for Batch {
    fn eq(&self, other: &Batch) -> bool {
        self.size == other.size && self.header == other.header
    }
}

impl Eq for Batch {}

impl std::hash::Hash for Batch {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.size.hash(h);
        self.header.hash(h);
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Batch(offset {}, {} records, {} bytes)",
            self.base_offset(),
            self.offset_count(),
            self.size()
        )
    }
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// In a trace a batch is its placement and size, not its bytes.
impl serde::Serialize for Batch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Batch", 4)?;
        st.serialize_field("base_offset", &self.base_offset())?;
        st.serialize_field("records", &self.offset_count())?;
        st.serialize_field("bytes", &self.size())?;
        st.serialize_field("producer", &self.producer_seq())?;
        st.end()
    }
}

impl std::fmt::Display for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a batch of {}", self.offset_count())
    }
}

impl Batch {
    /// Splits a Produce request's (or a log segment's) bytes into checked
    /// batches. Nothing is accepted unless every batch is whole and intact.
    pub fn parse_all(bytes: &Bytes) -> Result<Vec<Batch>, BatchError> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let b = Batch::parse_one(bytes, at)?;
            at += b.size();
            out.push(b);
        }
        Ok(out)
    }

    /// The batch starting at byte `at`.
    pub fn parse_one(bytes: &Bytes, at: usize) -> Result<Batch, BatchError> {
        let have = bytes.len() - at;
        if have < HEADER_LEN {
            return Err(BatchError::Truncated {
                at,
                need: HEADER_LEN,
                have,
            });
        }
        let b = &bytes[at..];
        let magic = b[16] as i8;
        if magic != 2 {
            return Err(BatchError::UnsupportedMagic { at, magic });
        }
        let length = i32_at(b, 8);
        if length < (HEADER_LEN - LENGTH_END) as i32 {
            return Err(BatchError::BadLength { at, length });
        }
        let total = LENGTH_END + length as usize;
        if have < total {
            return Err(BatchError::Truncated {
                at,
                need: total,
                have,
            });
        }
        let stored = u32::from_be_bytes(b[CRC_AT..CRC_FROM].try_into().expect("4 bytes"));
        let computed = crc32c::crc32c(&b[CRC_FROM..total]);
        if stored != computed {
            return Err(BatchError::BadCrc {
                at,
                stored,
                computed,
            });
        }
        if i32_at(b, 23) < 0 {
            return Err(BatchError::BadLength { at, length });
        }
        Ok(Batch::in_memory(bytes.slice(at..at + total)))
    }

    fn in_memory(bytes: Bytes) -> Batch {
        Batch {
            header: bytes[..HEADER_LEN].try_into().expect("a whole header"),
            size: bytes.len(),
            bytes: Arc::new(Mutex::new(Place::Memory(bytes))),
        }
    }

    fn place(&self) -> MutexGuard<'_, Place> {
        // The place is only ever swapped whole: a panicking holder cannot
        // have left it half written.
        self.bytes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The batch's size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether only the header is in memory.
    pub fn is_stored(&self) -> bool {
        matches!(*self.place(), Place::File { .. })
    }

    /// This batch, now that `file` holds it at `position`: every copy of
    /// it reads from the file from now on, and its memory is freed.
    pub fn stored_in(&self, file: Arc<File>, position: u64) {
        *self.place() = Place::File { file, position };
    }

    /// The batch at `position` of `file`, as recovery reads it back.
    pub fn stored_at(&self, file: Arc<File>, position: u64) -> Batch {
        Batch {
            header: self.header,
            size: self.size,
            bytes: Arc::new(Mutex::new(Place::File { file, position })),
        }
    }

    /// The batch's bytes, from memory or from its segment file.
    pub fn read(&self) -> io::Result<Bytes> {
        if let Place::Memory(b) = &*self.place() {
            return Ok(b.clone());
        }
        let mut out = BytesMut::new();
        self.append_to(&mut out)?;
        Ok(out.freeze())
    }

    /// Appends the batch's bytes to `out`. A stored batch whose file no
    /// longer holds it there (the log was truncated after the batch was
    /// taken from it) is an error, and `out` is left as it was.
    pub fn append_to(&self, out: &mut BytesMut) -> io::Result<()> {
        let (file, position) = match &*self.place() {
            Place::Memory(b) => {
                out.extend_from_slice(b);
                return Ok(());
            }
            Place::File { file, position } => (file.clone(), *position),
        };
        let start = out.len();
        out.resize(start + self.size, 0);
        let read = file.read_exact_at(&mut out[start..], position);
        let same = read.is_ok() && out[start..start + HEADER_LEN] == self.header[..];
        if !same {
            out.truncate(start);
            return Err(read.err().unwrap_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the segment no longer holds the batch at offset {} (position {position})",
                        self.base_offset(),
                    ),
                )
            }));
        }
        Ok(())
    }

    pub fn base_offset(&self) -> i64 {
        i64_at(&self.header, 0)
    }

    pub fn partition_leader_epoch(&self) -> i32 {
        i32_at(&self.header, 12)
    }

    /// The same batch placed at `base_offset` by a leader of `leader_epoch`:
    /// the fields a leader assigns, outside the CRC.
    pub fn placed(&self, base_offset: i64, leader_epoch: i32) -> Batch {
        let Place::Memory(bytes) = &*self.place() else {
            panic!("only a client's batch is placed, never one already in a log")
        };
        let mut b = BytesMut::from(&bytes[..]);
        b[0..8].copy_from_slice(&base_offset.to_be_bytes());
        b[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
        Batch::in_memory(b.freeze())
    }

    /// The largest record timestamp in the batch (`maxTimestamp`).
    pub fn max_timestamp(&self) -> i64 {
        i64_at(&self.header, 35)
    }

    fn producer_id(&self) -> i64 {
        i64_at(&self.header, 43)
    }

    pub fn producer_epoch(&self) -> i16 {
        i16_at(&self.header, 51)
    }

    fn base_sequence(&self) -> i32 {
        i32_at(&self.header, 53)
    }
}

impl Record for Batch {
    fn stamped(self, offset: Offset, epoch: Epoch) -> Self {
        self.placed(offset as i64, epoch as i32)
    }

    fn offset_count(&self) -> u64 {
        // lastOffsetDelta, checked non-negative when parsed.
        i32_at(&self.header, 23) as u64 + 1
    }

    fn producer_seq(&self) -> Option<ProducerSeq> {
        let (id, seq) = (self.producer_id(), self.base_sequence());
        (id >= 0 && seq >= 0).then_some(ProducerSeq {
            producer_id: id as u64,
            producer_epoch: self.producer_epoch().max(0) as u16,
            sequence: seq as u32,
        })
    }
}

/// A client's record batch of `values` (no keys, creation timestamps from
/// `timestamp_ms` on), as a producer library encodes it: for tests and for
/// insync's own clients. With `producer_id` ≥ 0 it carries the idempotent
/// producer's id and the first record's `sequence`; without one, pass -1
/// for both.
pub fn encode_batch(
    values: &[Bytes],
    producer_id: i64,
    sequence: i32,
    timestamp_ms: i64,
) -> Result<Bytes, String> {
    use kafka_protocol::records::{
        Compression, Record as WireRecord, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let records: Vec<WireRecord> = values
        .iter()
        .enumerate()
        .map(|(i, v)| WireRecord {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch: if producer_id >= 0 { 0 } else { -1 },
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // Consecutive even without a producer id: the encoder starts a
            // new batch wherever sequences do not follow on.
            sequence: sequence + i as i32,
            timestamp: timestamp_ms + i as i64,
            key: None,
            value: Some(v.clone()),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &opts).map_err(|e| e.to_string())?;
    Ok(buf.freeze())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A batch of `n` records encoded by the kafka-protocol crate, as a
    /// client library would.
    pub(crate) fn client_batch(n: i64, producer_id: i64, sequence: i32) -> Bytes {
        let values: Vec<Bytes> = (0..n).map(|i| Bytes::from(format!("value {i}"))).collect();
        encode_batch(&values, producer_id, sequence, 1_700_000_000_000).unwrap()
    }

    #[test]
    fn a_client_batch_parses_with_its_count_and_producer() {
        let bytes = client_batch(3, 7, 5);
        let batches = Batch::parse_all(&bytes).unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].offset_count(), 3);
        assert_eq!(
            batches[0].producer_seq(),
            Some(ProducerSeq {
                producer_id: 7,
                producer_epoch: 0,
                sequence: 5
            })
        );
        let plain = Batch::parse_all(&client_batch(1, -1, -1)).unwrap();
        assert_eq!(plain[0].producer_seq(), None);
    }

    #[test]
    fn placing_a_batch_keeps_it_intact() {
        let b = Batch::parse_all(&client_batch(2, -1, -1))
            .unwrap()
            .remove(0);
        let placed = b.placed(41, 3);
        assert_eq!(
            (placed.base_offset(), placed.partition_leader_epoch()),
            (41, 3)
        );
        let again = Batch::parse_all(&placed.read().unwrap()).unwrap();
        assert_eq!(again, vec![placed.clone()], "the CRC still holds");
        assert_eq!(
            placed.read().unwrap()[17..],
            b.read().unwrap()[17..],
            "nothing else changed"
        );
    }

    #[test]
    fn concatenated_batches_split() {
        let mut all = BytesMut::new();
        all.extend_from_slice(&client_batch(2, -1, -1));
        all.extend_from_slice(&client_batch(5, -1, -1));
        let counts: Vec<u64> = Batch::parse_all(&all.freeze())
            .unwrap()
            .iter()
            .map(|b| b.offset_count())
            .collect();
        assert_eq!(counts, vec![2, 5]);
    }

    #[test]
    fn damage_is_named_and_nothing_is_accepted() {
        let good = client_batch(2, -1, -1);
        let mut flipped = BytesMut::from(&good[..]);
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        let e = Batch::parse_all(&flipped.freeze()).unwrap_err();
        assert!(matches!(e, BatchError::BadCrc { at: 0, .. }), "{e}");
        assert_eq!(e.error_code(), ErrorCode::CorruptMessage);

        let e = Batch::parse_all(&good.slice(..good.len() - 1)).unwrap_err();
        assert!(matches!(e, BatchError::Truncated { .. }), "{e}");
        let e = Batch::parse_all(&good.slice(..20)).unwrap_err();
        assert!(
            matches!(
                e,
                BatchError::Truncated {
                    need: HEADER_LEN,
                    ..
                }
            ),
            "{e}"
        );

        let mut old = BytesMut::from(&good[..]);
        old[16] = 1;
        let e = Batch::parse_all(&old.freeze()).unwrap_err();
        assert_eq!(e.error_code(), ErrorCode::UnsupportedForMessageFormat);

        // A torn second batch fails the whole request.
        let mut two = BytesMut::from(&good[..]);
        two.extend_from_slice(&good[..good.len() / 2]);
        let e = Batch::parse_all(&two.freeze()).unwrap_err();
        assert!(
            matches!(e, BatchError::Truncated { at, .. } if at == good.len()),
            "{e}"
        );
    }

    #[test]
    fn damaged_bytes_never_panic() {
        let good = client_batch(3, 1, 0);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let mut b = BytesMut::from(&good[..]);
            for _ in 0..=next() % 3 {
                let at = next() as usize % b.len();
                b[at] = next() as u8;
            }
            let cut = next() as usize % (b.len() + 1);
            let _ = Batch::parse_all(&b.freeze().slice(..cut));
        }
    }
}
