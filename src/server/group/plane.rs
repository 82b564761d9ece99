//! The coordinator's state behind one lock, with the JoinGroup and
//! SyncGroup requests that wait for a rebalance to get far enough.

use super::coordinator::{Answer, Groups, Ticket};
use super::offsets::OffsetCache;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

#[derive(Debug)]
pub struct GroupPlane {
    inner: Mutex<PlaneState>,
}

#[derive(Debug)]
pub struct PlaneState {
    initial_delay: Duration,
    pub groups: Groups,
    pub cache: OffsetCache,
    waiters: HashMap<Ticket, oneshot::Sender<Answer>>,
    next_ticket: Ticket,
}

impl GroupPlane {
    /// `group.initial.rebalance.delay.ms`: how long a new group waits for
    /// more members before its first rebalance completes.
    pub fn new(initial_delay: Duration) -> GroupPlane {
        GroupPlane {
            inner: Mutex::new(PlaneState {
                initial_delay,
                groups: Groups::new(initial_delay),
                cache: OffsetCache::default(),
                waiters: HashMap::new(),
                next_ticket: 0,
            }),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, PlaneState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts a JoinGroup or SyncGroup to the coordinator (`f`, handed a
    /// ticket) and waits up to `limit` for its answer if it has none yet.
    /// `None`: this broker stopped coordinating, or the wait ran out.
    pub async fn ask(
        &self,
        limit: Duration,
        f: impl FnOnce(&mut Groups, Ticket) -> Option<Answer>,
    ) -> Option<Answer> {
        let (answer, rx) = {
            let mut g = self.lock();
            let (ticket, rx) = g.ticket();
            let answer = f(&mut g.groups, ticket);
            if answer.is_some() {
                g.forget(ticket);
            }
            g.route();
            (answer, rx)
        };
        match answer {
            Some(a) => Some(a),
            None => tokio::time::timeout(limit, rx).await.ok()?.ok(),
        }
    }
}

impl PlaneState {
    /// A ticket for a request that may have to wait, and where its answer comes.
    fn ticket(&mut self) -> (Ticket, oneshot::Receiver<Answer>) {
        self.next_ticket += 1;
        let (tx, rx) = oneshot::channel();
        self.waiters.insert(self.next_ticket, tx);
        (self.next_ticket, rx)
    }

    /// A request answered at once needs no waiter.
    fn forget(&mut self, ticket: Ticket) {
        self.waiters.remove(&ticket);
    }

    /// Hands every due answer to its waiting request.
    pub fn route(&mut self) {
        for (ticket, answer) in self.groups.take_answers() {
            if let Some(tx) = self.waiters.remove(&ticket) {
                let _ = tx.send(answer);
            }
        }
    }

    /// This broker stopped coordinating: members must find the new
    /// coordinator (NOT_COORDINATOR), and the cache is stale.
    pub fn resign(&mut self) {
        if self.cache.loaded_in.is_none() {
            return;
        }
        self.groups = Groups::new(self.initial_delay);
        self.cache = OffsetCache::default();
        self.waiters.clear();
    }

    /// This broker begins to coordinate in `epoch` of `__consumer_offsets`:
    /// groups start empty (members rejoin) and offsets load from its log.
    pub fn begin(&mut self, epoch: crate::core::types::Epoch, batches: Vec<bytes::Bytes>) {
        self.groups = Groups::new(self.initial_delay);
        self.waiters.clear();
        self.cache.load(epoch, batches);
    }
}
