//! Validation of a Connection's `circuitBreaker`.

use crate::v1alpha1::{ConnectionSpec, MAX_CIRCUIT_OPEN_SECONDS};
use crate::validate::Checker;

pub(crate) fn connection(check: &mut Checker<'_>, spec: &ConnectionSpec) {
    let Some(breaker) = &spec.circuit_breaker else {
        return;
    };
    if breaker.consecutive_failures == Some(0) {
        check.report(
            "spec.circuitBreaker.consecutiveFailures",
            "must be at least 1 (remove `circuitBreaker` to turn the circuit breaker off)",
        );
    }
    match breaker.open_seconds {
        Some(0) => check.report("spec.circuitBreaker.openSeconds", "must be at least 1"),
        Some(seconds) if seconds > MAX_CIRCUIT_OPEN_SECONDS => check.report(
            "spec.circuitBreaker.openSeconds",
            format!("{seconds} is more than {MAX_CIRCUIT_OPEN_SECONDS} (one day)"),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::manifest::load_str;

    fn problems(breaker: &str) -> Vec<String> {
        let yaml = format!(
            "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: erp}}\nspec:\n  http: {{baseUrl: 'https://erp.example.com/'}}\n  circuitBreaker: {breaker}\n"
        );
        let (resources, mut problems) = load_str(&yaml, None);
        problems.extend(Catalog::build(resources).problems);
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_defaults_and_set_values_pass() {
        assert_eq!(problems("{}"), Vec::<String>::new());
        assert_eq!(
            problems("{consecutiveFailures: 3, openSeconds: 600}"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn out_of_range_values_are_named() {
        let found = problems("{consecutiveFailures: 0, openSeconds: 90000}").join("\n");
        assert!(
            found.contains("spec.circuitBreaker.consecutiveFailures")
                && found.contains("at least 1"),
            "{found}"
        );
        assert!(
            found.contains("spec.circuitBreaker.openSeconds") && found.contains("one day"),
            "{found}"
        );
        let unknown = problems("{failures: 3}").join("\n");
        assert!(unknown.contains("failures"), "{unknown}");
    }
}
