//! The clean-shutdown marker in a broker's data folder. Kafka writes
//! `.kafka_cleanshutdown` once every log is flushed at the end of a
//! controlled shutdown, and a starting broker that finds it reports the
//! epoch it holds in its registration, which KIP-966 needs: only a broker
//! whose unflushed tail cannot be lost may stay an eligible leader
//! (`CleanShutdownFileHandler`, read and deleted by `LogManager.loadLogs`).
//! The marker is removed as soon as it is read, so a crash of the next
//! life can never pass for a clean stop.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Kafka's file name (`CleanShutdownFileHandler.CLEAN_SHUTDOWN_FILE_NAME`).
pub const MARKER: &str = ".kafka_cleanshutdown";

fn marker(dir: &Path) -> PathBuf {
    dir.join(MARKER)
}

/// Leaves the marker, durably, with the broker epoch the stopping life
/// was registered with (Kafka keeps it for KIP-966's `previousBrokerEpoch`).
pub fn write(dir: &Path, broker_epoch: u64) -> io::Result<()> {
    let path = marker(dir);
    let tmp = dir.join(format!("{MARKER}.tmp"));
    let mut f = File::create(&tmp)?;
    writeln!(f, "{{\"version\":0,\"brokerEpoch\":{broker_epoch}}}")?;
    f.sync_all()?;
    fs::rename(&tmp, &path)?;
    File::open(dir)?.sync_all()
}

/// What a starting broker found of its last life's marker.
#[derive(Debug, PartialEq, Eq)]
pub enum Marker {
    /// No marker: the last life did not stop cleanly, or there was none.
    Absent,
    /// The broker epoch the stopping life was registered with.
    Epoch(u64),
    /// A marker whose epoch cannot be read. Kafka's
    /// `CleanShutdownFileHandler.read` then has no epoch to offer, and the
    /// registration carries -1: the restart counts as unclean.
    Unreadable(String),
}

impl Marker {
    /// BrokerRegistration's `PreviousBrokerEpoch` (`None` for Kafka's -1).
    pub fn previous_broker_epoch(&self) -> Option<u64> {
        match self {
            Marker::Epoch(e) => Some(*e),
            Marker::Absent | Marker::Unreadable(_) => None,
        }
    }
}

/// The marker the previous life left, read once: it is gone after this,
/// durably, before the new life registers. Its epoch goes into the
/// registration, and the controller calls the restart clean only when it
/// equals the epoch the controller last registered for this broker
/// (`ClusterControlManager.registerBroker`, Kafka 4.x), so a marker left
/// by an older life, or one another process wrote, proves nothing.
pub fn take(dir: &Path) -> io::Result<Marker> {
    let path = marker(dir);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Marker::Absent),
        Err(e) => return Err(e),
    };
    fs::remove_file(&path)?;
    File::open(dir)?.sync_all()?;
    Ok(parse(&text))
}

fn parse(text: &[u8]) -> Marker {
    let value: serde_json::Value = match serde_json::from_slice(text) {
        Ok(v) => v,
        Err(e) => return Marker::Unreadable(format!("not JSON: {e}")),
    };
    match value.get("brokerEpoch").and_then(serde_json::Value::as_u64) {
        Some(e) => Marker::Epoch(e),
        None => Marker::Unreadable(format!("no broker epoch in {value}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_counts_once() {
        let dir = std::env::temp_dir().join(format!("insync-clean-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(
            take(&dir).unwrap(),
            Marker::Absent,
            "a fresh folder was never stopped"
        );
        write(&dir, 7).unwrap();
        let text = fs::read_to_string(dir.join(MARKER)).unwrap();
        assert!(text.contains("\"brokerEpoch\":7"), "{text}");
        let found = take(&dir).unwrap();
        assert_eq!(found, Marker::Epoch(7));
        assert_eq!(found.previous_broker_epoch(), Some(7));
        assert_eq!(take(&dir).unwrap(), Marker::Absent, "read once, then gone");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unreadable_marker_offers_no_epoch_and_is_removed() {
        let dir = std::env::temp_dir().join(format!("insync-clean-bad-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for bad in ["{\"version\":0}", "{\"brokerEpoch\":-1}", "torn{"] {
            fs::write(dir.join(MARKER), bad).unwrap();
            let found = take(&dir).unwrap();
            assert!(matches!(found, Marker::Unreadable(_)), "{bad}: {found:?}");
            assert_eq!(found.previous_broker_epoch(), None, "{bad}");
            assert!(!dir.join(MARKER).exists(), "{bad}: removed all the same");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
