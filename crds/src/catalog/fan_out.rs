//! Fan-out: a Route that takes its items from another Route's intake
//! (`spec.incoming.route`). The Route it names must be compiled already, take items
//! itself (a webhook or a poll, not another follower) and run wherever the follower
//! runs, so every runner that has the follower also has the intake that feeds it.

use super::{Catalog, LabeledStep};
use crate::problem::{Origin, Problem, ResourceId};
use crate::v1alpha1::{RouteSpec, Step};

/// Label of the step that `spec.incoming.when` becomes, first in the incoming steps.
pub const WHEN_LABEL: &str = "incoming.when";

/// Problems of `spec.incoming.route` against the Routes compiled so far.
pub(super) fn problems(
    catalog: &Catalog,
    spec: &RouteSpec,
    origin: &Origin,
    id: &ResourceId,
) -> Vec<Problem> {
    let Some(name) = &spec.incoming.route else {
        return Vec::new();
    };
    let field = "spec.incoming.route";
    let problem = |message: String| vec![Problem::new(origin, Some(id), field, message)];
    if name == &id.name {
        // Reported by validation.
        return Vec::new();
    }
    let Some(parent) = catalog.routes.get(&(id.namespace.clone(), name.clone())) else {
        return problem(format!(
            "Route `{name}` does not exist in namespace `{}` (or is invalid)",
            id.namespace
        ));
    };
    let incoming = &parent.spec.incoming;
    if incoming.webhook.is_none() && incoming.poll.is_none() {
        return problem(format!(
            "Route `{name}` does not take items itself (it has no `webhook` or `poll`); \
             name the Route that receives them"
        ));
    }
    let parent_regions = &parent.spec.regions;
    if !parent_regions.is_empty() {
        let missing: Vec<&str> = if spec.regions.is_empty() {
            vec!["(every region)"]
        } else {
            spec.regions
                .iter()
                .filter(|r| !parent_regions.contains(r))
                .map(String::as_str)
                .collect()
        };
        if !missing.is_empty() {
            return problem(format!(
                "Route `{name}` runs only in {}, but this Route also runs in {}: pin it to \
                 regions of `{name}` (`spec.regions`)",
                parent_regions.join(", "),
                missing.join(", ")
            ));
        }
    }
    Vec::new()
}

/// `spec.incoming.when` as the first incoming step (a filter on the item as received).
pub(super) fn when_step(spec: &RouteSpec) -> Option<LabeledStep> {
    spec.incoming.when.as_ref().map(|condition| LabeledStep {
        label: WHEN_LABEL.to_owned(),
        step: Step::Filter(condition.clone()),
    })
}

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::manifest::load_str;
    use crate::v1alpha1::Step;

    const BASE: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp}
spec: {http: {baseUrl: "http://erp.example"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: orders}
spec:
  incoming: {webhook: {}}
  outgoing: {connection: erp}
  regions: [eu]
"#;

    fn build(extra: &str) -> (Catalog, Vec<String>) {
        let (resources, mut problems) = load_str(&format!("{BASE}---{extra}"), None);
        let catalog = Catalog::build(resources);
        problems.extend(catalog.problems.iter().cloned());
        let text = problems.iter().map(ToString::to_string).collect();
        (catalog, text)
    }

    fn follower(name: &str, incoming: &str, regions: &str) -> String {
        format!(
            "
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: {name}}}
spec:
  incoming: {incoming}
  outgoing: {{connection: erp}}
  regions: {regions}
"
        )
    }

    #[test]
    fn a_follower_takes_a_receiving_route_and_its_when_comes_first() {
        // Written before the Route it follows: order in the files does not matter.
        let yaml = follower(
            "dutch",
            "{route: orders, when: '.country == \"NL\"'}",
            "[eu]",
        );
        let (resources, _) = load_str(&format!("{yaml}---{BASE}"), None);
        let catalog = Catalog::build(resources);
        assert!(catalog.problems.is_empty(), "{:?}", catalog.problems);
        let route = &catalog.routes[&("default".to_owned(), "dutch".to_owned())];
        assert_eq!(route.incoming_steps[0].label, super::WHEN_LABEL);
        assert_eq!(
            route.incoming_steps[0].step,
            Step::Filter(".country == \"NL\"".into())
        );
    }

    #[test]
    fn wrong_followers_are_named() {
        let cases = [
            (
                follower("a", "{route: missing}", "[eu]"),
                "Route `missing` does not exist",
            ),
            (
                follower("a", "{route: a}", "[eu]"),
                "names this Route itself",
            ),
            (
                follower("a", "{route: orders, webhook: {}}", "[eu]"),
                "set only one of: webhook, poll, route",
            ),
            (
                follower("a", "{route: orders, when: '.x =='}", "[eu]"),
                "spec.incoming.when",
            ),
            (
                follower("a", "{route: orders}", "[]"),
                "runs only in eu, but this Route also runs in (every region)",
            ),
            (
                format!(
                    "{}---{}",
                    follower("a", "{route: orders}", "[eu]"),
                    follower("b", "{route: a}", "[eu]")
                ),
                "Route `a` does not take items itself",
            ),
        ];
        for (yaml, expected) in cases {
            let (_, problems) = build(&yaml);
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{expected}: {problems:#?}"
            );
        }
    }
}
