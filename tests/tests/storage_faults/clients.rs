//! The webhook clients that post items during a fault, what they and the readiness
//! watcher saw, and the check that every accepted item is queued and delivered.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::{Receiver, Runner, eventually};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

const CLIENTS: usize = 6;
/// Items a request.
pub const PER_REQUEST: usize = 20;

/// One webhook request and its answer.
pub struct Answer {
    pub sent: Instant,
    pub status: u16,
    pub retry_after: Option<String>,
    pub error: String,
    pub task_ids: Vec<String>,
    pub item_ids: Vec<String>,
}

/// What the clients and the readiness watcher saw.
#[derive(Default)]
pub struct Seen {
    pub answers: Mutex<Vec<Answer>>,
    /// `/readyz` answers: when, status, body.
    pub readiness: Mutex<Vec<(Instant, u16, String)>>,
    stop: AtomicBool,
}

impl Seen {
    pub async fn count(&self, filter: impl Fn(&Answer) -> bool) -> usize {
        self.answers
            .lock()
            .await
            .iter()
            .filter(|a| filter(a))
            .count()
    }

    pub async fn readiness_since(&self, since: Instant, status: u16) -> Option<String> {
        self.readiness
            .lock()
            .await
            .iter()
            .find(|(at, s, _)| *at >= since && *s == status)
            .map(|(_, _, body)| body.clone())
    }

    /// Waits until `count` more requests sent since `since` were accepted.
    pub async fn accepted_since(&self, since: Instant, count: usize, what: &str) {
        eventually(Duration::from_secs(30), what, || async {
            (self.count(|a| a.sent >= since && a.status == 202).await >= count).then_some(())
        })
        .await;
    }

    /// Stops the clients and waits for them.
    pub async fn stop(&self, clients: Vec<JoinHandle<()>>) {
        self.stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.await.expect("client");
        }
    }
}

/// Starts [`CLIENTS`] clients posting to the runner's webhook route `items`.
pub fn start_clients(runner: &Runner, seen: &Arc<Seen>) -> Vec<JoinHandle<()>> {
    (0..CLIENTS)
        .map(|number| {
            tokio::spawn(client(
                runner.url("/webhooks/default/items"),
                number,
                seen.clone(),
            ))
        })
        .collect()
}

/// Posts batches of new items until told to stop, recording every answer.
async fn client(url: String, number: usize, seen: Arc<Seen>) {
    let http = reqwest::Client::new();
    for request in 0.. {
        if seen.stop.load(Ordering::SeqCst) {
            return;
        }
        let item_ids: Vec<String> = (0..PER_REQUEST)
            .map(|i| format!("c{number}-r{request}-i{i}"))
            .collect();
        let items: Vec<Value> = item_ids
            .iter()
            .map(|id| json!({"id": id, "payload": "x".repeat(300)}))
            .collect();
        let sent = Instant::now();
        let Ok(response) = http.post(&url).json(&items).send().await else {
            // The runner is gone (or the test is over): record it; the checks fail on it.
            seen.answers.lock().await.push(Answer {
                sent,
                status: 0,
                retry_after: None,
                error: "no answer".into(),
                task_ids: Vec::new(),
                item_ids,
            });
            return;
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let task_ids = body["taskIds"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let refused = status != 202;
        seen.answers.lock().await.push(Answer {
            sent,
            status,
            retry_after,
            error: body["error"].as_str().unwrap_or_default().to_owned(),
            task_ids,
            item_ids,
        });
        if refused {
            // A sender backs off a little before it retries.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Polls `/readyz` until told to stop.
pub async fn watch_readiness(url: String, seen: Arc<Seen>) {
    let http = reqwest::Client::new();
    while !seen.stop.load(Ordering::SeqCst) {
        if let Ok(response) = http.get(&url).send().await {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            seen.readiness
                .lock()
                .await
                .push((Instant::now(), status, body));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every task id of route `items`, through the API's pages.
async fn queued_task_ids(runner: &Runner) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut cursor = String::new();
    loop {
        let page = runner
            .get_json(&format!(
                "/api/v1/namespaces/default/tasks?route=items&limit=1000{cursor}"
            ))
            .await;
        for task in page["tasks"].as_array().into_iter().flatten() {
            if let Some(id) = task["id"].as_str() {
                ids.insert(id.to_owned());
            }
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return ids,
        }
    }
}

/// Every task answered `202` is in the queue, and every item of those is delivered.
pub async fn accepted_are_queued_and_delivered(
    runner: &Runner,
    receiver: &Receiver,
    accepted: &[&Answer],
) {
    let queued = queued_task_ids(runner).await;
    let missing: Vec<&String> = accepted
        .iter()
        .flat_map(|a| &a.task_ids)
        .filter(|id| !queued.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of the tasks answered 202 are not in the queue, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    let wanted: HashSet<&String> = accepted.iter().flat_map(|a| &a.item_ids).collect();
    eventually(
        Duration::from_secs(120),
        "every accepted item delivered",
        || async {
            let delivered: HashSet<String> = receiver
                .received()
                .iter()
                .filter_map(|r| r.body["id"].as_str().map(str::to_owned))
                .collect();
            wanted
                .iter()
                .all(|id| delivered.contains(*id))
                .then_some(())
        },
    )
    .await;
}
