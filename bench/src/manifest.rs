//! The manifests each scenario's runner loads: one webhook route mapping orders with jq
//! and delivering them to the in-process receiver.

use std::path::Path;

use anyhow::Context;

/// The route the clients post to: `/webhooks/default/<ROUTE>`.
pub const ROUTE: &str = "orders";
pub const NAMESPACE: &str = "default";

/// The incoming map: reshape the order, keep `sentAtNs` for the latency measurement.
const MAP: &str = "{orderId: .id, sentAtNs: .sentAtNs, customer: .customer.name, \
email: .customer.email, country: .shipping.country, \
total: ([.lines[] | .qty * .price] | add), \
lines: [.lines[] | {sku: .sku, quantity: .qty}]}";

/// A schedule that does not fire during a run (00:00 UTC on January 1st), so the intake
/// scenarios measure intake alone, without delivery competing for the CPU and the queue.
const NEVER_DURING_RUN: &str = "0 0 1 1 *";

/// Whether the route delivers while the load runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Realtime,
    Deferred,
}

/// Writes `connection.yaml` and `route.yaml` into `dir`.
pub fn write(
    dir: &Path,
    receiver_port: u16,
    delivery: Delivery,
    max_concurrency: u32,
    outgoing_batch: u32,
    max_pending: Option<u64>,
) -> anyhow::Result<()> {
    let connection = format!(
        "apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata:
  name: receiver
spec:
  http:
    baseUrl: http://127.0.0.1:{receiver_port}
    timeoutSeconds: 30
"
    );
    let mode = match delivery {
        Delivery::Realtime => String::new(),
        Delivery::Deferred => {
            format!("    mode: scheduled\n    schedule: \"{NEVER_DURING_RUN}\"\n")
        }
    };
    let batch = if outgoing_batch > 1 {
        format!("      batch: {{maxItems: {outgoing_batch}}}\n")
    } else {
        String::new()
    };
    let max_pending = max_pending
        .map(|n| format!("    maxPending: {n}\n"))
        .unwrap_or_default();
    let route = format!(
        "apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata:
  name: {ROUTE}
spec:
  incoming:
    webhook: {{}}
  transformers:
    incoming:
      - jq: '{MAP}'
  outgoing:
    connection: receiver
    http:
      method: POST
      path: /items
{batch}  processing:
{mode}    maxConcurrency: {max_concurrency}
{max_pending}"
    );
    for (name, text) in [("connection.yaml", connection), ("route.yaml", route)] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
