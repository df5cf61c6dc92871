//! Group commit: many requests' events made durable in one transaction.
//!
//! Each request hands its event to [`GroupCommit::record`] and waits. One
//! task takes whatever is queued (up to [`WriterConfig::max_batch`]) and
//! appends it through the [`AuditLog`] port in one transaction, then
//! answers every waiter with the commit's result. Under load, batches grow
//! and the cost of a commit is shared; when idle, an event is committed
//! alone at once. No event is ever dropped: a full queue makes callers wait
//! up to [`WriterConfig::enqueue_timeout`] and then fail (the request gets
//! a 503), and [`GroupCommit::shutdown`] commits everything queued before
//! it returns.
//!
//! Events are escaped ([`AuditEvent::escaped`]) before they are queued, so
//! a control character a client chose never reaches the database. Should a
//! batch still fail, its events are committed again one by one: one bad
//! event fails only its own request, never the other tenants' events that
//! happened to share its batch.

use crate::AuditEvent;
use crate::ports::{AuditLog, AuditSink};
use async_trait::async_trait;
use kernel::StoreError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, oneshot};

/// How the writer batches.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Events queued before callers wait.
    pub queue: usize,
    /// At most this many events per transaction.
    pub max_batch: usize,
    /// How long a caller waits for room in a full queue before failing.
    pub enqueue_timeout: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue: 8192,
            max_batch: 512,
            enqueue_timeout: Duration::from_secs(5),
        }
    }
}

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// The group-commit writer: an [`AuditSink`] over an [`AuditLog`].
pub struct GroupCommit {
    queue: Mutex<Option<mpsc::Sender<(AuditEvent, Reply)>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    timeout: Duration,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(log: Arc<dyn AuditLog>, config: WriterConfig) -> Self {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let task = tokio::spawn(run(log, rx, config.max_batch.max(1)));
        GroupCommit {
            queue: Mutex::new(Some(tx)),
            task: Mutex::new(Some(task)),
            timeout: config.enqueue_timeout,
        }
    }

    /// Stops taking events, commits everything already queued and waits
    /// for the last commit. Events offered afterwards fail.
    pub async fn shutdown(&self) {
        self.queue.lock().await.take();
        if let Some(task) = self.task.lock().await.take()
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "the audit writer stopped abnormally");
        }
    }
}

#[async_trait]
impl AuditSink for GroupCommit {
    async fn record(&self, event: AuditEvent) -> Result<(), StoreError> {
        let Some(tx) = self.queue.lock().await.clone() else {
            return Err(StoreError::Unavailable(
                "the audit writer has shut down".into(),
            ));
        };
        let (reply, done) = oneshot::channel();
        tx.send_timeout((event.escaped(), reply), self.timeout)
            .await
            .map_err(|_| StoreError::Unavailable("the audit writer is overloaded".into()))?;
        done.await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the audit writer stopped".into())))
    }
}

async fn run(
    log: Arc<dyn AuditLog>,
    mut rx: mpsc::Receiver<(AuditEvent, Reply)>,
    max_batch: usize,
) {
    let mut events = Vec::with_capacity(max_batch);
    let mut replies = Vec::with_capacity(max_batch);
    while let Some((event, reply)) = rx.recv().await {
        events.push(event);
        replies.push(reply);
        while events.len() < max_batch {
            match rx.try_recv() {
                Ok((event, reply)) => {
                    events.push(event);
                    replies.push(reply);
                }
                Err(_) => break,
            }
        }
        let result = commit(log.as_ref(), &events).await;
        if result.is_err() && events.len() > 1 {
            // One event may be what the store refuses: give each its own
            // transaction, in order, so only the bad one fails.
            tracing::warn!(
                events = events.len(),
                "audit batch failed; committing its events one by one"
            );
            for (event, reply) in events.drain(..).zip(replies.drain(..)) {
                let alone = commit(log.as_ref(), std::slice::from_ref(&event)).await;
                let _ = reply.send(alone);
            }
            continue;
        }
        events.clear();
        for reply in replies.drain(..) {
            // A caller that gave up waiting no longer listens; its event is stored anyway.
            let _ = reply.send(result.clone());
        }
    }
}

/// One transaction; a transient failure (a serialization conflict between
/// instances, a dropped connection) is retried once before the batch fails.
async fn commit(log: &dyn AuditLog, events: &[AuditEvent]) -> Result<(), StoreError> {
    match log.append(events).await {
        Ok(()) => Ok(()),
        Err(StoreError::Unavailable(first)) => {
            tracing::warn!(error = %first, events = events.len(), "audit commit failed; retrying once");
            let again = log.append(events).await;
            if let Err(e) = &again {
                tracing::error!(error = %e, events = events.len(), "audit commit failed; the requests are refused");
            }
            again
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::EventBuilder;
    use std::sync::Mutex as StdMutex;
    use tokio::sync::Semaphore;

    fn event(n: u128) -> AuditEvent {
        EventBuilder::new(None)
            .id(n)
            .at(time::OffsetDateTime::UNIX_EPOCH)
            .request_id(&n.to_string())
            .build()
    }

    /// A log that keeps batches in memory; commits wait for a permit when gated.
    #[derive(Default)]
    struct Log {
        batches: StdMutex<Vec<Vec<u128>>>,
        gate: Option<Arc<Semaphore>>,
        failures_left: StdMutex<u32>,
        /// Events handed to `append`, committed or not.
        offered: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl AuditLog for Log {
        async fn append(&self, batch: &[AuditEvent]) -> Result<(), StoreError> {
            self.offered
                .fetch_add(batch.len(), std::sync::atomic::Ordering::SeqCst);
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("gate open").forget();
            }
            {
                let mut left = self.failures_left.lock().unwrap();
                if *left > 0 {
                    *left -= 1;
                    return Err(StoreError::Unavailable("disk full".into()));
                }
            }
            self.batches
                .lock()
                .unwrap()
                .push(batch.iter().map(|e| e.id.uuid().as_u128()).collect());
            Ok(())
        }
    }

    /// Events the writer has: queued, or in the batch waiting at the gate.
    /// (Counting the queue alone never reaches the total when that batch
    /// took more than one.)
    async fn with_writer(writer: &GroupCommit, log: &Log) -> usize {
        let queued = 8192 - writer.queue.lock().await.as_ref().unwrap().capacity();
        queued + log.offered.load(std::sync::atomic::Ordering::SeqCst)
    }

    impl Log {
        fn stored(&self) -> Vec<u128> {
            self.batches.lock().unwrap().concat()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_events_share_commits_and_none_is_lost() {
        let gate = Arc::new(Semaphore::new(0));
        let log = Arc::new(Log {
            gate: Some(gate.clone()),
            ..Log::default()
        });
        let writer = Arc::new(GroupCommit::start(log.clone(), WriterConfig::default()));
        let calls: Vec<_> = (0..200u128)
            .map(|n| {
                let w = writer.clone();
                tokio::spawn(async move { w.record(event(n)).await })
            })
            .collect();
        // Let every caller reach the writer while the first commit is held.
        while with_writer(&writer, &log).await < 200 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1_000);
        for c in calls {
            c.await.unwrap().unwrap();
        }
        let mut stored = log.stored();
        stored.sort_unstable();
        assert_eq!(stored, (0..200).collect::<Vec<_>>());
        let batches = log.batches.lock().unwrap().len();
        assert!(batches <= 3, "200 queued events took {batches} commits");
    }

    #[tokio::test]
    async fn a_failed_commit_is_retried_once_then_fails_its_caller() {
        let log = Arc::new(Log::default());
        *log.failures_left.lock().unwrap() = 1;
        let writer = GroupCommit::start(log.clone(), WriterConfig::default());
        writer.record(event(1)).await.unwrap();
        assert_eq!(log.stored(), vec![1]);

        *log.failures_left.lock().unwrap() = 2;
        let err = writer.record(event(2)).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)));
        assert_eq!(log.stored(), vec![1], "a failed batch stores nothing");
    }

    /// A log that refuses every batch holding a NUL in a tool name, as
    /// PostgreSQL does, and keeps the rest.
    #[derive(Default)]
    struct Picky {
        stored: StdMutex<Vec<u128>>,
        seen: StdMutex<Vec<String>>,
    }

    #[async_trait]
    impl AuditLog for Picky {
        async fn append(&self, batch: &[AuditEvent]) -> Result<(), StoreError> {
            let mut seen = self.seen.lock().unwrap();
            seen.extend(batch.iter().filter_map(|e| e.tool_name.clone()));
            if batch.iter().any(|e| e.reason.contains("poison")) {
                return Err(StoreError::Conflict("refused".into()));
            }
            if batch
                .iter()
                .any(|e| e.tool_name.as_deref().is_some_and(|t| t.contains('\0')))
            {
                return Err(StoreError::Unavailable("invalid byte sequence".into()));
            }
            let mut stored = self.stored.lock().unwrap();
            stored.extend(batch.iter().map(|e| e.id.uuid().as_u128()));
            Ok(())
        }
    }

    #[tokio::test]
    async fn control_characters_are_escaped_before_they_reach_the_log() {
        let log = Arc::new(Picky::default());
        let writer = GroupCommit::start(log.clone(), WriterConfig::default());
        let mut e = event(1);
        e.tool_name = Some("get\0routes".into());
        writer.record(e).await.unwrap();
        assert_eq!(log.stored.lock().unwrap().clone(), vec![1]);
        assert_eq!(log.seen.lock().unwrap().clone(), vec!["get\\u0000routes"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_bad_event_fails_only_its_own_caller_not_its_batch() {
        let gate = Arc::new(Semaphore::new(0));
        let log = Arc::new(GatedPicky {
            gate: gate.clone(),
            inner: Picky::default(),
            offered: Default::default(),
        });
        let writer = Arc::new(GroupCommit::start(log.clone(), WriterConfig::default()));
        // The first event holds the writer at the gate while the rest queue
        // up behind it and become one batch.
        let calls: Vec<_> = (0..20u128)
            .map(|n| {
                let w = writer.clone();
                let mut e = event(n);
                if n == 7 {
                    e.reason = "poison".into();
                }
                tokio::spawn(async move { w.record(e).await })
            })
            .collect();
        while log.offered.load(std::sync::atomic::Ordering::SeqCst) == 0
            || 8192 - writer.queue.lock().await.as_ref().unwrap().capacity()
                + log.offered.load(std::sync::atomic::Ordering::SeqCst)
                < 20
        {
            tokio::task::yield_now().await;
        }
        gate.add_permits(10_000);
        for (n, c) in calls.into_iter().enumerate() {
            let result = c.await.unwrap();
            assert_eq!(result.is_err(), n == 7, "event {n}: {result:?}");
        }
        let mut stored = log.inner.stored.lock().unwrap().clone();
        stored.sort_unstable();
        assert_eq!(stored, (0..20).filter(|n| *n != 7).collect::<Vec<_>>());
    }

    struct GatedPicky {
        gate: Arc<Semaphore>,
        inner: Picky,
        offered: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl AuditLog for GatedPicky {
        async fn append(&self, batch: &[AuditEvent]) -> Result<(), StoreError> {
            self.offered
                .fetch_add(batch.len(), std::sync::atomic::Ordering::SeqCst);
            self.gate.acquire().await.expect("gate open").forget();
            self.inner.append(batch).await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_makes_callers_wait_then_refuses_them() {
        let gate = Arc::new(Semaphore::new(0));
        let log = Arc::new(Log {
            gate: Some(gate.clone()),
            ..Log::default()
        });
        let config = WriterConfig {
            queue: 1,
            max_batch: 1,
            enqueue_timeout: Duration::from_secs(5),
        };
        let writer = Arc::new(GroupCommit::start(log.clone(), config));
        // One event in the held commit, one queued: the queue is full.
        let w = writer.clone();
        let first = tokio::spawn(async move { w.record(event(1)).await });
        tokio::time::sleep(Duration::from_millis(1)).await;
        let w = writer.clone();
        let second = tokio::spawn(async move { w.record(event(2)).await });
        tokio::time::sleep(Duration::from_millis(1)).await;
        let refused = writer.record(event(3)).await.unwrap_err();
        assert_eq!(
            refused,
            StoreError::Unavailable("the audit writer is overloaded".into())
        );
        gate.add_permits(10);
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(
            log.stored(),
            vec![1, 2],
            "the refused event was never queued"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_commits_everything_queued_then_refuses() {
        let gate = Arc::new(Semaphore::new(0));
        let log = Arc::new(Log {
            gate: Some(gate.clone()),
            ..Log::default()
        });
        let writer = Arc::new(GroupCommit::start(log.clone(), WriterConfig::default()));
        let calls: Vec<_> = (0..50u128)
            .map(|n| {
                let w = writer.clone();
                tokio::spawn(async move { w.record(event(n)).await })
            })
            .collect();
        while with_writer(&writer, &log).await < 50 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1_000);
        writer.shutdown().await;
        assert_eq!(log.stored().len(), 50, "shutdown flushed the queue");
        for c in calls {
            c.await.unwrap().unwrap();
        }
        assert!(writer.record(event(99)).await.is_err());
    }
}
