//! Settings of one operator process (from its command line).

use std::collections::BTreeMap;

/// What the operator was started with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorConfig {
    /// Runner image of Tenants that name none.
    pub runner_image: String,
    /// Reconcile only this region (one operator per regional cluster). `None`: every
    /// region of every Tenant.
    pub region: Option<String>,
    /// Namespace the operator runs in; its pods may reach the runners' API.
    pub namespace: String,
    /// Namespaces whose Tenants this operator reconciles. Empty: every namespace.
    pub watch_namespaces: Vec<String>,
    /// The Prometheus that scrapes the runners' `/metrics`, admitted by their
    /// NetworkPolicy. `None`: no scraper outside the tenant's namespace.
    pub scraper: Option<MetricsScraper>,
    /// Where the runners reach the Kubernetes API (for their status reports) when a
    /// Tenant restricts egress.
    pub api_server: ApiServerEgress,
}

impl OperatorConfig {
    /// Whether this operator reconciles `region`.
    pub fn serves(&self, region: &str) -> bool {
        self.region.as_deref().is_none_or(|own| own == region)
    }
}

/// Pods allowed to scrape the runners' metrics port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsScraper {
    /// Namespace of the scraping Prometheus.
    pub namespace: String,
    /// Labels of its pods. Empty: every pod of that namespace.
    pub pod_labels: BTreeMap<String, String>,
}

/// The Kubernetes API as a NetworkPolicy destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiServerEgress {
    /// Fixed API server addresses (CIDRs). Empty: the addresses and ports of the
    /// `default/kubernetes` Service's EndpointSlices, read at each reconcile of a Tenant
    /// that restricts egress.
    pub cidrs: Vec<String>,
    /// Ports of the fixed addresses.
    pub ports: Vec<i32>,
}

/// One address and port of the API server, as the runners' egress rule allows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiEndpoint {
    /// `10.0.0.1/32`, `fd00::1/128`, or a configured CIDR.
    pub cidr: String,
    pub port: i32,
}

impl ApiServerEgress {
    /// The configured endpoints; `None` when they are to be discovered.
    pub fn fixed(&self) -> Option<Vec<ApiEndpoint>> {
        (!self.cidrs.is_empty()).then(|| {
            self.cidrs
                .iter()
                .flat_map(|cidr| {
                    self.ports.iter().map(|port| ApiEndpoint {
                        cidr: cidr.clone(),
                        port: *port,
                    })
                })
                .collect()
        })
    }
}
