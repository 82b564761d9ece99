//! The clean-shutdown marker in a broker's data folder. Kafka writes
//! `.kafka_cleanshutdown` once every log is flushed at the end of a
//! controlled shutdown, and a starting broker that finds it reports the
//! clean shutdown in its registration, which KIP-966 needs: only a broker
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

/// Whether the previous life stopped cleanly; the marker is gone after
/// this, durably, before the new life registers. Kafka 4.x sends the
/// marker's epoch as `previousBrokerEpoch` and the controller calls the
/// shutdown clean when it equals the epoch it last registered
/// (`ClusterControlManager.registerBroker`). Presence alone says the same
/// here while the marker is only ever written by the life that registered
/// last; checking the epoch is left to KIP-903's broker-epoch work.
pub fn take(dir: &Path) -> io::Result<bool> {
    match fs::remove_file(marker(dir)) {
        Ok(()) => {
            File::open(dir)?.sync_all()?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
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
        assert!(!take(&dir).unwrap(), "a fresh folder was never stopped");
        write(&dir, 7).unwrap();
        let text = fs::read_to_string(dir.join(MARKER)).unwrap();
        assert!(text.contains("\"brokerEpoch\":7"), "{text}");
        assert!(take(&dir).unwrap());
        assert!(!take(&dir).unwrap(), "read once, then gone");
        fs::remove_dir_all(&dir).unwrap();
    }
}
