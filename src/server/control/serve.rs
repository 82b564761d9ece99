//! The controller process's I/O: one task per broker connection, and a
//! ticker that fences brokers whose heartbeats stopped.

use super::node::{ConnId, ControllerNode};
use super::wire::{self, Reader, ToBroker, ToController};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::unbounded_channel;

/// Where the controller writes its trace, if anywhere.
pub use crate::server::trace::TraceSink;

/// Serves brokers on `listener` until the task is dropped.
pub async fn serve_controller(
    listener: TcpListener,
    session_timeout: Duration,
    trace: TraceSink,
) -> std::io::Result<()> {
    let node = Arc::new(Mutex::new(ControllerNode::new(
        session_timeout,
        trace.is_some(),
    )));
    let ticker = {
        let node = node.clone();
        let trace = trace.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(session_timeout / 10);
            loop {
                every.tick().await;
                let mut n = lock(&node);
                n.tick(Instant::now());
                flush_trace(&mut n, &trace);
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
    result
}

fn lock(node: &Mutex<ControllerNode>) -> std::sync::MutexGuard<'_, ControllerNode> {
    match node.lock() {
        Ok(n) => n,
        Err(_) => {
            eprintln!("insync controller: a protocol invariant broke; stopping");
            std::process::abort()
        }
    }
}

fn flush_trace(node: &mut ControllerNode, trace: &TraceSink) {
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
    node: &Mutex<ControllerNode>,
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
    let Some(ToController::Register {
        broker,
        clean_shutdown,
    }) = first
    else {
        writer.abort();
        return Err(format!("expected a registration first, got {first:?}"));
    };
    let id = broker.id;
    {
        let mut n = lock(node);
        n.register(broker, clean_shutdown, conn, tx.clone(), Instant::now());
        flush_trace(&mut n, trace);
    }
    let result = loop {
        let msg: ToController = match reader.next().await {
            Ok(Some(m)) => m,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let mut n = lock(node);
        match msg {
            ToController::Register { .. } => {
                break Err(format!("broker {id} registered twice on one connection"));
            }
            ToController::Heartbeat => n.heartbeat(id, conn, Instant::now()),
            ToController::AlterPartition {
                topic,
                partition,
                leader_epoch,
                partition_epoch,
                new_isr,
            } => n.alter_partition(
                id,
                conn,
                topic,
                partition,
                leader_epoch,
                partition_epoch,
                new_isr,
            ),
            ToController::CreateTopic {
                request,
                name,
                settings,
            } => {
                let result = n.create_topic(&name, &settings);
                let _ = tx.send(ToBroker::TopicCreated { request, result });
            }
        }
        flush_trace(&mut n, trace);
    };
    drop(tx);
    writer.abort();
    result
}
