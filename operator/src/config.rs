//! Settings of one operator process (from its command line).

/// What the operator was started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorConfig {
    /// Runner image of Tenants that name none.
    pub runner_image: String,
    /// Reconcile only this region (one operator per regional cluster). `None`: every
    /// region of every Tenant.
    pub region: Option<String>,
    /// Namespace the operator runs in; its pods may reach the runners' API.
    pub namespace: String,
}

impl OperatorConfig {
    /// Whether this operator reconciles `region`.
    pub fn serves(&self, region: &str) -> bool {
        self.region.as_deref().is_none_or(|own| own == region)
    }
}
