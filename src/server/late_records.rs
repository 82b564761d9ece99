//! Fetch answers whose record bytes go from the log straight into the
//! connection's output buffer when the response is encoded, as Kafka's
//! `FileRecords.writeTo` sends a segment's bytes without first building
//! the response around them in memory.
//!
//! Why: a follower's fetch answer carries up to megabytes of batches.
//! Built as one `Bytes` first, they were copied twice more (into that
//! `Bytes`, then into the connection's buffer). At RF=3 the leader does
//! that for every follower, and on the machine this project is measured on
//! large memory copies run at about 1.4 GB/s (BENCHMARKS.md).
//!
//! How: the response is encoded with a random 16-byte placeholder in each
//! `records` field, and each placeholder (with its length prefix) is then
//! replaced by its batches' bytes. A placeholder that is not found exactly
//! where it must be makes the caller encode the response the plain way, so
//! the shortcut can never put wrong bytes on the wire.

use crate::wire::batch::Batch;
use bytes::{Bytes, BytesMut};

const MARKER_LEN: usize = 16;

/// The batches still to be written into one or more `records` fields.
#[derive(Debug, Default)]
pub struct LateRecords {
    parts: Vec<Part>,
}

#[derive(Debug)]
struct Part {
    marker: [u8; MARKER_LEN],
    batches: Vec<Batch>,
    max_bytes: usize,
}

impl LateRecords {
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// What to put in a partition's `records` for now: `batches`, up to
    /// `max_bytes` but always the first (KIP-74), are written in its place.
    /// Parts must be held in the order their fields are encoded.
    pub fn hold(&mut self, batches: Vec<Batch>, max_bytes: usize) -> Bytes {
        let marker = *uuid::Uuid::new_v4().as_bytes();
        self.parts.push(Part {
            marker,
            batches,
            max_bytes,
        });
        Bytes::copy_from_slice(&marker)
    }

    /// Replaces each placeholder in the response frame encoded at
    /// `out[start..]` (length prefix included) with its batches. `compact`
    /// says how `records` is encoded: COMPACT_RECORDS (a varint of the
    /// length plus one, flexible versions) or RECORDS (an `int32` length).
    /// On `Err`, `out` is cut back to `start`.
    pub fn splice(&self, out: &mut BytesMut, start: usize, compact: bool) -> Result<(), String> {
        let encoded = out.split_off(start);
        let expected: &[u8] = if compact {
            &[MARKER_LEN as u8 + 1]
        } else {
            &(MARKER_LEN as i32).to_be_bytes()
        };
        let mut at = 0;
        for part in &self.parts {
            // Found once, in order, behind its length prefix: anything
            // else means some other field holds the same bytes.
            let mut found = encoded
                .windows(MARKER_LEN)
                .enumerate()
                .filter(|(_, w)| *w == part.marker)
                .map(|(p, _)| p);
            let pos = found.next().filter(|_| found.next().is_none());
            let Some(pos) = pos.filter(|&p| {
                p >= at + expected.len() && &encoded[p - expected.len()..p] == expected
            }) else {
                out.truncate(start);
                return Err("a records placeholder is not where it was encoded".into());
            };
            out.extend_from_slice(&encoded[at..pos - expected.len()]);
            part.write(out, compact);
            at = pos + MARKER_LEN;
        }
        out.extend_from_slice(&encoded[at..]);
        let len = u32::try_from(out.len() - start - 4).map_err(|_| "a response over 4 GiB")?;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// Each placeholder with its batches' bytes, for encoding the plain way.
    pub fn materialize(&self) -> Vec<(Bytes, Bytes)> {
        self.parts
            .iter()
            .map(|p| {
                let mut records = BytesMut::new();
                let n = p.planned();
                p.append(&mut records, n);
                (Bytes::copy_from_slice(&p.marker), records.freeze())
            })
            .collect()
    }
}

impl Part {
    /// How many batches fit: all up to `max_bytes`, and at least one.
    fn planned(&self) -> usize {
        let mut total = 0;
        let mut n = 0;
        for b in &self.batches {
            if n > 0 && total + b.size() > self.max_bytes {
                break;
            }
            total += b.size();
            n += 1;
        }
        n
    }

    /// Appends the first `n` batches, stopping at one that cannot be read
    /// any more (the log was truncated after the answer was decided; the
    /// follower's next fetch starts where this answer ends). Returns how
    /// many were appended.
    fn append(&self, out: &mut BytesMut, n: usize) -> usize {
        self.batches[..n]
            .iter()
            .take_while(|b| b.append_to(out).is_ok())
            .count()
    }

    /// The length prefix and the batches. The prefix is written for the
    /// planned batches; if one of them cannot be read, the field is written
    /// again with those before it (a rare path: it reads them twice).
    fn write(&self, out: &mut BytesMut, compact: bool) {
        let mut n = self.planned();
        loop {
            let size: usize = self.batches[..n].iter().map(Batch::size).sum();
            let mark = out.len();
            if compact {
                put_unsigned_varint(out, size as u64 + 1);
            } else {
                out.extend_from_slice(&(size as i32).to_be_bytes());
            }
            let got = self.append(out, n);
            if got == n {
                return;
            }
            out.truncate(mark);
            n = got;
        }
    }
}

fn put_unsigned_varint(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.extend_from_slice(&[(v as u8) | 0x80]);
        v >>= 7;
    }
    out.extend_from_slice(&[v as u8]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::api::Response;
    use crate::wire::batch::tests::client_batch;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::{ApiKey, FetchResponse, ResponseKind, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn batches(sizes: &[i64]) -> Vec<Batch> {
        sizes
            .iter()
            .map(|&n| {
                Batch::parse_all(&client_batch(n, -1, -1))
                    .unwrap()
                    .remove(0)
            })
            .collect()
    }

    /// A fetch answer with one topic and a partition per entry of `parts`
    /// (its batches and byte limit), encoded both ways.
    fn both_ways(
        version: i16,
        parts: &[(Vec<Batch>, usize)],
        also: Option<usize>,
    ) -> (Bytes, Bytes) {
        let mut late = LateRecords::default();
        let mut plain = FetchResponse::default();
        let mut t = FetchableTopicResponse::default();
        t.topic = TopicName(StrBytes::from_static_str("t"));
        plain.responses.push(t);
        let mut held = plain.clone();
        for (i, (bs, max)) in parts.iter().enumerate() {
            let mut p = PartitionData::default();
            p.partition_index = i as i32;
            p.high_watermark = 7;
            let mut records = BytesMut::new();
            for b in bs {
                if !records.is_empty() && records.len() + b.size() > *max {
                    break;
                }
                if b.append_to(&mut records).is_err() {
                    break;
                }
            }
            let mut q = p.clone();
            p.records = Some(records.freeze());
            plain.responses[0].partitions.push(p);
            q.records = Some(late.hold(bs.clone(), *max));
            held.responses[0].partitions.push(q);
        }
        // A placeholder's bytes in another field as well: the shortcut
        // must notice and encode the plain way.
        if let Some(i) = also {
            let marker = held.responses[0].partitions[i].records.clone();
            let mut extra = PartitionData::default();
            extra.partition_index = 99;
            extra.records = marker;
            held.responses[0].partitions.push(extra.clone());
            extra.records = plain.responses[0].partitions[i].records.clone();
            plain.responses[0].partitions.push(extra);
        }
        let encode = |body: FetchResponse, late| {
            let r = Response {
                key: ApiKey::Fetch,
                version,
                correlation_id: 5,
                body: ResponseKind::Fetch(body),
                late,
            };
            let mut out = BytesMut::from(&b"before"[..]);
            r.encode_into(&mut out).unwrap();
            out.freeze()
        };
        (encode(held, late), encode(plain, LateRecords::default()))
    }

    #[test]
    fn spliced_answers_are_byte_for_byte_the_plain_encoding() {
        let parts = vec![
            (batches(&[3, 2]), 1 << 20),
            (batches(&[]), 1 << 20),
            // Over the limit: the first batch only (KIP-74).
            (batches(&[40, 40]), 10),
            (batches(&[1, 1, 1]), 1 << 20),
        ];
        for version in [4, 11, 12] {
            let (spliced, plain) = both_ways(version, &parts, None);
            assert_eq!(spliced, plain, "Fetch v{version}");
        }
    }

    #[test]
    fn a_placeholder_found_twice_falls_back_to_the_plain_encoding() {
        let parts = vec![(batches(&[3]), 1 << 20), (batches(&[2]), 1 << 20)];
        for version in [11, 12] {
            let (spliced, plain) = both_ways(version, &parts, Some(1));
            assert_eq!(spliced, plain, "Fetch v{version}");
        }
    }

    #[test]
    fn long_records_fields_get_a_multi_byte_varint() {
        let big = batches(&[4000, 4000, 4000]);
        assert!(big.iter().map(Batch::size).sum::<usize>() > 1 << 14);
        let (spliced, plain) = both_ways(12, &[(big, 1 << 20)], None);
        assert_eq!(spliced, plain);
    }

    #[test]
    fn a_batch_the_log_no_longer_holds_ends_the_answer_before_it() {
        let path = std::env::temp_dir().join(format!("insync-late-{}", std::process::id()));
        let empty = std::sync::Arc::new(std::fs::File::create(&path).unwrap());
        std::fs::remove_file(&path).unwrap();
        let mut bs = batches(&[2, 3]);
        let gone = bs[1].stored_at(empty, 0);
        bs[1] = gone;
        let first = batches(&[2]);
        let (spliced, _) = both_ways(12, &[(bs, 1 << 20)], None);
        let (_, plain) = both_ways(12, &[(first, 1 << 20)], None);
        assert_eq!(spliced, plain);
    }
}
