//! Leader election on the in-memory API (`support/fake_api.rs`, which answers creates of
//! existing objects and replaces with a stale `resourceVersion` with `409` like the real
//! server): of two operators only the leader reconciles; when it stops, the other takes
//! over at once (the Lease is released); when it dies, after the lease duration; a
//! leader whose Lease is taken over stops acting.

#![allow(clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{FakeApi, TWO_REGIONS, config, eventually};
use switchyard_operator::leader::{self, Elector, LeaderError, LeaseConfig};
use switchyard_operator::reconcile::{Context, reconcile};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const LEASE: &str = "switchyard-operator";
const NAMESPACE: &str = "switchyard-system";

/// Which operator is inside its leader's work, and whether two ever were at once.
#[derive(Default)]
struct Activity {
    leading: Mutex<Option<&'static str>>,
    overlapped: AtomicBool,
    /// Every reconcile, in order: which operator ran it.
    reconciles: Mutex<Vec<&'static str>>,
}

impl Activity {
    fn reconciled_by(&self, who: &str) -> usize {
        self.lock_reconciles().iter().filter(|w| **w == who).count()
    }

    fn lock_reconciles(&self) -> std::sync::MutexGuard<'_, Vec<&'static str>> {
        self.reconciles.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Marks an operator as acting until dropped (its work ended or was dropped).
struct Acting(&'static str, Arc<Activity>);

impl Acting {
    fn start(who: &'static str, activity: &Arc<Activity>) -> Self {
        let mut leading = activity.leading.lock().unwrap_or_else(|p| p.into_inner());
        if leading.is_some() {
            activity.overlapped.store(true, Ordering::SeqCst);
        }
        *leading = Some(who);
        Acting(who, Arc::clone(activity))
    }
}

impl Drop for Acting {
    fn drop(&mut self) {
        let mut leading = self.1.leading.lock().unwrap_or_else(|p| p.into_inner());
        if *leading == Some(self.0) {
            *leading = None;
        }
    }
}

fn lease_config(identity: &str, lease_duration: Duration) -> LeaseConfig {
    LeaseConfig {
        lease_duration,
        renew_deadline: Duration::from_millis(600),
        retry_period: Duration::from_millis(50),
        ..LeaseConfig::new(NAMESPACE, LEASE, identity)
    }
}

/// Starts operator `who`: leader election, and as work the Tenant's reconcile in a loop
/// (what the controller does on every change), through its own client.
fn start(
    api: &FakeApi,
    who: &'static str,
    lease_duration: Duration,
    activity: &Arc<Activity>,
) -> (
    CancellationToken,
    JoinHandle<Result<Option<()>, LeaderError>>,
) {
    let client = api.client_as(who);
    let elector = Elector::new(client.clone(), lease_config(who, lease_duration));
    let shutdown = CancellationToken::new();
    let activity = Arc::clone(activity);
    let task = tokio::spawn(leader::run_as_leader(
        elector,
        shutdown.clone(),
        move |shutdown: CancellationToken| async move {
            let _acting = Acting::start(who, &activity);
            let ctx = Arc::new(Context {
                client: client.clone(),
                config: config(),
                recorder: None,
            });
            let tenants =
                kube::Api::<switchyard_crds::v1alpha1::Tenant>::namespaced(client, "acme");
            while !shutdown.is_cancelled() {
                let tenant = tenants.get("acme").await.expect("the Tenant exists");
                reconcile(Arc::new(tenant), Arc::clone(&ctx))
                    .await
                    .expect("reconciles");
                activity.lock_reconciles().push(who);
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_millis(30)) => {}
                }
            }
        },
    ));
    (shutdown, task)
}

fn holder(api: &FakeApi) -> Option<String> {
    api.get("coordination.k8s.io/v1", "Lease", NAMESPACE, LEASE)
        .and_then(|lease| lease["spec"]["holderIdentity"].as_str().map(str::to_owned))
}

/// Writes to anything but the Lease (and Events) by `who`.
fn reconcile_writes(api: &FakeApi, who: &str) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.user == who && r.is_write() && !r.path.contains("/leases"))
        .count()
}

/// Lease reads by `who`: one per election round it took part in.
fn rounds_lost(api: &FakeApi, who: &str) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.user == who && r.method == http::Method::GET && r.path.ends_with(LEASE))
        .count()
}

#[tokio::test]
async fn of_two_operators_one_acts_and_the_other_takes_over_when_it_stops() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    let activity = Arc::new(Activity::default());
    // A lease duration far above the test's waits: a takeover within it proves the
    // Lease was released, not left to expire.
    let duration = Duration::from_secs(30);
    let (stop_a, a) = start(&api, "a", duration, &activity);
    eventually(
        Duration::from_secs(5),
        "a to lead and reconcile",
        || async {
            (holder(&api).as_deref() == Some("a") && activity.reconciled_by("a") > 0).then_some(())
        },
    )
    .await;

    let (stop_b, b) = start(&api, "b", duration, &activity);
    // b keeps trying (and losing) while a leads and renews.
    eventually(Duration::from_secs(5), "b to lose five rounds", || async {
        (rounds_lost(&api, "b") >= 5).then_some(())
    })
    .await;
    assert_eq!(activity.reconciled_by("b"), 0, "b reconciled while a led");
    assert_eq!(reconcile_writes(&api, "b"), 0, "b wrote while a led");
    assert!(reconcile_writes(&api, "a") > 0);
    let lease: Value = api
        .get("coordination.k8s.io/v1", "Lease", NAMESPACE, LEASE)
        .expect("the Lease exists");
    assert_eq!(lease["spec"]["leaseTransitions"], 0, "{lease}");

    // a stops (SIGTERM in a rolling update): its work ends, then it releases the Lease.
    let stopped = Instant::now();
    stop_a.cancel();
    let a_result = a.await.expect("a's task ends");
    assert!(matches!(a_result, Ok(Some(()))), "{a_result:?}");
    let reconciles_of_a = activity.reconciled_by("a");
    eventually(
        Duration::from_secs(5),
        "b to take over and reconcile",
        || async {
            (holder(&api).as_deref() == Some("b") && activity.reconciled_by("b") > 0).then_some(())
        },
    )
    .await;
    assert!(
        stopped.elapsed() < duration,
        "b took over after {:?}: the Lease was not released",
        stopped.elapsed()
    );
    assert_eq!(
        activity.reconciled_by("a"),
        reconciles_of_a,
        "a reconciled after it stopped"
    );
    let order = activity.lock_reconciles().clone();
    let first_b = order.iter().position(|w| *w == "b").unwrap_or(order.len());
    assert!(
        order[first_b..].iter().all(|w| *w == "b"),
        "a reconciled after b took over: {order:?}"
    );
    assert!(
        !activity.overlapped.load(Ordering::SeqCst),
        "a and b acted at once"
    );

    stop_b.cancel();
    assert!(matches!(b.await.expect("b's task ends"), Ok(Some(()))));
    assert_eq!(holder(&api), None, "b released the Lease on its way out");
}

#[tokio::test]
async fn when_the_leader_dies_the_other_takes_over_after_the_lease_duration() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    let activity = Arc::new(Activity::default());
    let duration = Duration::from_secs(1);
    let (_stop_a, a) = start(&api, "a", duration, &activity);
    eventually(Duration::from_secs(5), "a to lead", || async {
        (holder(&api).as_deref() == Some("a")).then_some(())
    })
    .await;
    let (stop_b, b) = start(&api, "b", duration, &activity);
    eventually(Duration::from_secs(5), "b to lose a round", || async {
        (rounds_lost(&api, "b") >= 2).then_some(())
    })
    .await;

    // a dies: no release, no more renewals.
    a.abort();
    let died = Instant::now();
    eventually(Duration::from_secs(10), "b to take over", || async {
        (holder(&api).as_deref() == Some("b") && activity.reconciled_by("b") > 0).then_some(())
    })
    .await;
    // b waited until a's last record was a lease duration old (a renewed at most one
    // retry period before it died).
    assert!(
        died.elapsed() >= duration - Duration::from_millis(100),
        "b took over {:?} after a died, before the lease duration",
        died.elapsed()
    );
    let lease = api
        .get("coordination.k8s.io/v1", "Lease", NAMESPACE, LEASE)
        .expect("the Lease exists");
    assert_eq!(lease["spec"]["leaseTransitions"], 1, "{lease}");
    stop_b.cancel();
    let _ = b.await;
}

#[tokio::test]
async fn a_leader_whose_lease_is_taken_over_stops_acting() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    let activity = Arc::new(Activity::default());
    let (_stop_a, a) = start(&api, "a", Duration::from_secs(30), &activity);
    eventually(
        Duration::from_secs(5),
        "a to lead and reconcile",
        || async { (activity.reconciled_by("a") > 0).then_some(()) },
    )
    .await;
    // Someone else holds the Lease now (another replica that saw it expire while a
    // was partitioned from the API server).
    api.edit(
        "coordination.k8s.io/v1",
        "Lease",
        NAMESPACE,
        LEASE,
        |lease| {
            lease["spec"]["holderIdentity"] = "c".into();
        },
    );
    let result = tokio::time::timeout(Duration::from_secs(5), a)
        .await
        .expect("a stops within its renew deadline")
        .expect("a's task ends");
    assert!(
        matches!(result, Err(LeaderError::Lost { .. })),
        "{result:?}"
    );
    assert_eq!(
        *activity.leading.lock().unwrap_or_else(|p| p.into_inner()),
        None,
        "a's work was dropped"
    );
    assert_eq!(
        holder(&api).as_deref(),
        Some("c"),
        "a did not release c's Lease"
    );
}
