//! The controller process's I/O: the metadata log on disk, one task per
//! broker connection, and a ticker that fences brokers whose heartbeats
//! stopped.

use super::metadata_log::MetadataLog;
use super::node::{ConnId, ControllerNode};
use super::records::{MetadataImage, MetadataRecord};
use super::wire::{self, Reader, ToBroker, ToController};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::unbounded_channel;

/// Where the controller writes its trace, if anywhere.
pub use crate::server::trace::TraceSink;

/// Records in the log before a snapshot replaces them.
const SNAPSHOT_EVERY: usize = 1000;

/// The controller's state and, with a data directory, its metadata log.
#[derive(Debug)]
pub struct Plane {
    node: ControllerNode,
    log: Option<MetadataLog>,
}

impl Plane {
    /// A controller resumed from `data_dir`'s metadata log (or started
    /// afresh there), or one that keeps its metadata in memory only.
    pub fn open(
        session_timeout: Duration,
        trace: bool,
        data_dir: Option<&Path>,
    ) -> Result<Plane, String> {
        let Some(dir) = data_dir else {
            let mut node = ControllerNode::new(session_timeout, trace);
            node.take_ready(); // nowhere to keep the records
            return Ok(Plane { node, log: None });
        };
        let (log, recovered) =
            MetadataLog::open::<MetadataImage, MetadataRecord>(dir, SNAPSHOT_EVERY)
                .map_err(|e| format!("cannot read the metadata log in {}: {e}", dir.display()))?;
        for note in &recovered.notes {
            eprintln!("insync controller: recovery: {note}");
        }
        let replayed = recovered.records.len();
        let from_snapshot = recovered.snapshot.is_some();
        let node = ControllerNode::restore(
            session_timeout,
            trace,
            recovered.snapshot,
            recovered.records,
            recovered.next_offset,
            Instant::now(),
        )
        .map_err(|e| format!("{}: {e}", dir.display()))?;
        if recovered.next_offset > 0 {
            eprintln!(
                "insync controller: resumed from {}: {}{replayed} record(s) replayed",
                dir.display(),
                if from_snapshot {
                    "a snapshot, then "
                } else {
                    ""
                },
            );
        }
        let mut plane = Plane {
            node,
            log: Some(log),
        };
        plane.commit();
        Ok(plane)
    }

    /// Makes what the node decided durable, then tells the brokers: no
    /// broker hears of a decision a crash could take back. A controller
    /// that cannot write its log stops, as a KRaft controller does.
    fn commit(&mut self) {
        let ready = self.node.take_ready();
        if let Some(log) = &mut self.log {
            let written = log.append(&ready.records).and_then(|()| {
                if log.wants_snapshot() {
                    log.snapshot(&self.node.image())
                } else {
                    Ok(())
                }
            });
            if let Err(e) = written {
                eprintln!("insync controller: cannot write the metadata log: {e}; stopping");
                std::process::exit(3);
            }
        }
        ready.deliver();
    }
}

/// Serves brokers on `listener` until the task is dropped.
///
/// With `balance` (`auto.leader.rebalance.enable`, every
/// `leader.imbalance.check.interval.seconds`), leaders move back to their
/// preferred replicas on that schedule, as `QuorumController
/// .maybeScheduleNextBalancePartitionLeaders` schedules it.
pub async fn serve_controller(
    listener: TcpListener,
    plane: Plane,
    session_timeout: Duration,
    balance: Option<Duration>,
    trace: TraceSink,
) -> std::io::Result<()> {
    let node = Arc::new(Mutex::new(plane));
    let balancer = balance.map(|every| {
        let node = node.clone();
        let trace = trace.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await; // the first tick is at once
            loop {
                ticks.tick().await;
                let mut n = lock(&node);
                let moved = n.node.balance_leaders();
                if moved > 0 {
                    eprintln!(
                        "insync controller: {moved} leader(s) moved back to their preferred replica"
                    );
                }
                finish(&mut n, &trace);
            }
        })
    });
    let ticker = {
        let node = node.clone();
        let trace = trace.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(session_timeout / 10);
            loop {
                every.tick().await;
                let mut n = lock(&node);
                n.node.tick(Instant::now());
                finish(&mut n, &trace);
            }
        })
    };
    let next_conn = AtomicU64::new(0);
    let result = loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => break Err(e),
        };
        let conn = next_conn.fetch_add(1, Ordering::Relaxed);
        let node = node.clone();
        let trace = trace.clone();
        tokio::spawn(async move {
            if let Err(why) = broker_connection(stream, conn, &node, &trace).await {
                eprintln!("insync controller: connection from {peer}: {why}");
            }
        });
    };
    ticker.abort();
    if let Some(b) = balancer {
        b.abort();
    }
    result
}

fn lock(node: &Mutex<Plane>) -> std::sync::MutexGuard<'_, Plane> {
    match node.lock() {
        Ok(n) => n,
        Err(_) => {
            eprintln!("insync controller: a protocol invariant broke; stopping");
            std::process::abort()
        }
    }
}

/// After each operation: the records made durable, the messages sent,
/// the trace written.
fn finish(plane: &mut Plane, trace: &TraceSink) {
    plane.commit();
    let node = &mut plane.node;
    if let Some(file) = trace
        && !node.events.is_empty()
    {
        let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
        for mut line in node.events.drain(..) {
            line["node"] = "controller".into();
            let _ = writeln!(f, "{line}");
        }
    }
}

async fn broker_connection(
    stream: TcpStream,
    conn: ConnId,
    node: &Mutex<Plane>,
    trace: &TraceSink,
) -> Result<(), String> {
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (read, mut write) = stream.into_split();
    let mut reader = Reader::new(read);
    let (tx, mut rx) = unbounded_channel::<ToBroker>();
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if wire::send(&mut write, &msg).await.is_err() {
                break;
            }
        }
    });
    let first: Option<ToController> = reader.next().await?;
    if let Some(ToController::MoveLeader {
        topic,
        partition,
        to,
    }) = first
    {
        let result = {
            let mut n = lock(node);
            let r = n.node.move_leader(&(topic, partition), to);
            // Answered once the election is durable.
            finish(&mut n, trace);
            r
        };
        let _ = tx.send(ToBroker::LeaderMoved { result });
        drop(tx);
        let _ = writer.await;
        return Ok(());
    }
    let Some(ToController::Register {
        broker,
        incarnation,
        previous_broker_epoch,
    }) = first
    else {
        writer.abort();
        return Err(format!("expected a registration first, got {first:?}"));
    };
    let id = broker.id;
    let admitted = {
        let mut n = lock(node);
        let now = Instant::now();
        let admitted = n.node.register(
            broker,
            incarnation,
            previous_broker_epoch,
            conn,
            tx.clone(),
            now,
        );
        finish(&mut n, trace);
        admitted
    };
    if let Err(why) = admitted {
        eprintln!("insync controller: refused broker {id}'s registration: {why}");
        // The refusal is on its way; the connection ends once it is out.
        drop(tx);
        let _ = writer.await;
        return Ok(());
    }
    eprintln!(
        "insync controller: broker {id} registers{}",
        match previous_broker_epoch {
            Some(e) => format!(" (previous broker epoch {e})"),
            None => String::new(),
        }
    );
    let result = loop {
        let msg: ToController = match reader.next().await {
            Ok(Some(m)) => m,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let mut n = lock(node);
        match msg {
            ToController::Register { .. } | ToController::MoveLeader { .. } => {
                break Err(format!("broker {id} sent {msg:?} after its registration"));
            }
            ToController::Heartbeat => n.node.heartbeat(id, conn, Instant::now()),
            ToController::ElectLeaders {
                request,
                election,
                partitions,
            } => {
                let results = n.node.elect_leaders(election, partitions);
                // The answer waits for the elections' records to be durable.
                finish(&mut n, trace);
                let _ = tx.send(ToBroker::LeadersElected { request, results });
            }
            ToController::ControlledShutdown => {
                eprintln!("insync controller: broker {id} asks for a controlled shutdown");
                n.node.controlled_shutdown(id, conn);
            }
            ToController::AlterPartition {
                topic,
                partition,
                leader_epoch,
                partition_epoch,
                new_isr,
                joining,
            } => n.node.alter_partition(
                id,
                conn,
                topic,
                partition,
                leader_epoch,
                partition_epoch,
                new_isr,
                joining,
            ),
            ToController::CreateTopic {
                request,
                name,
                settings,
            } => {
                let result = n.node.create_topic(&name, &settings);
                // The answer waits for the topic's records to be durable.
                finish(&mut n, trace);
                let _ = tx.send(ToBroker::TopicCreated { request, result });
            }
        }
        finish(&mut n, trace);
    };
    drop(tx);
    writer.abort();
    result
}
