//! Group commit: many callers, one transaction.
//!
//! Callers hand their new tasks or completions to a single writer task and wait. The
//! writer takes everything that has queued up while the previous transaction was being
//! flushed, commits it as one transaction, and answers every caller. Under load, one
//! fsync covers hundreds of items; when idle, an item is committed at once.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{Completion, NewTask, QueueError, QueueStore, WriteBatch};

/// Upper bound of items per transaction. Short transactions keep the queue fair: on
/// SQLite a lease waits for the one writer connection, and on PostgreSQL a long
/// transaction holds back the clean-up of the index entries every lease walks over.
const MAX_BATCH_ITEMS: usize = 512;

struct Request {
    new_tasks: Vec<NewTask>,
    completions: Vec<Completion>,
    done: oneshot::Sender<Result<(), Arc<QueueError>>>,
}

/// The handle callers write through. Cheap to clone.
#[derive(Clone)]
pub struct Committer {
    requests: mpsc::Sender<Request>,
}

impl Committer {
    /// Starts the writer task over `store`. It stops when every handle is dropped, after
    /// committing what it was given.
    pub fn start(store: Arc<dyn QueueStore>) -> Self {
        let (requests, receiver) = mpsc::channel(8_192);
        tokio::spawn(write_loop(store, receiver));
        Self { requests }
    }

    /// Commits new tasks durably; returns once they are on disk.
    pub async fn enqueue(&self, new_tasks: Vec<NewTask>) -> Result<(), Arc<QueueError>> {
        self.submit(new_tasks, Vec::new()).await
    }

    /// Commits the outcome of attempts durably.
    pub async fn complete(&self, completions: Vec<Completion>) -> Result<(), Arc<QueueError>> {
        self.submit(Vec::new(), completions).await
    }

    /// Commits new tasks and completions together: both or neither (e.g. a delivered
    /// task and the tasks its after-delivery steps queue for other routes).
    pub async fn submit(
        &self,
        new_tasks: Vec<NewTask>,
        completions: Vec<Completion>,
    ) -> Result<(), Arc<QueueError>> {
        if new_tasks.is_empty() && completions.is_empty() {
            return Ok(());
        }
        let (done, answer) = oneshot::channel();
        self.requests
            .send(Request {
                new_tasks,
                completions,
                done,
            })
            .await
            .map_err(|_| Arc::new(QueueError::WriterStopped))?;
        answer
            .await
            .map_err(|_| Arc::new(QueueError::WriterStopped))?
    }
}

async fn write_loop(store: Arc<dyn QueueStore>, mut receiver: mpsc::Receiver<Request>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = WriteBatch::default();
        let mut waiting = Vec::new();
        let mut add = |request: Request, batch: &mut WriteBatch| {
            batch.new_tasks.extend(request.new_tasks);
            batch.completions.extend(request.completions);
            waiting.push(request.done);
        };
        add(first, &mut batch);
        while batch.new_tasks.len() + batch.completions.len() < MAX_BATCH_ITEMS {
            match receiver.try_recv() {
                Ok(request) => add(request, &mut batch),
                Err(_) => break,
            }
        }
        let result = store.write(batch).await.map_err(Arc::new);
        if let Err(error) = &result {
            tracing::error!(error = %error, callers = waiting.len(), "Queue write failed; callers get the error");
        }
        for done in waiting {
            let _ = done.send(result.clone());
        }
    }
}
