//! Steps that name other resources of their namespace: a `lookup` names a Connection
//! (of the kind its `http` or `database` block asks), a `valueMap` may name a
//! ValueTable. Checked where the step is written, `when` blocks included.

use std::collections::BTreeMap;

use super::{CompiledConnection, CompiledValueTable, Key};
use crate::problem::{Problem, ResourceId};
use crate::v1alpha1::{KindName, Step};

/// The resources steps may name.
pub(super) struct Known<'a> {
    pub connections: &'a BTreeMap<Key, CompiledConnection>,
    pub value_tables: &'a BTreeMap<Key, CompiledValueTable>,
    /// Connections left out, with their problems.
    pub invalid: &'a BTreeMap<ResourceId, Vec<Problem>>,
}

impl Known<'_> {
    /// Problems of `step` (written at `field`) as `(field, message)`.
    pub(super) fn check(&self, namespace: &str, step: &Step, field: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        self.walk(namespace, step, field, &mut found);
        found
    }

    fn walk(&self, namespace: &str, step: &Step, field: &str, found: &mut Vec<(String, String)>) {
        let key = |name: &str| (namespace.to_owned(), name.to_owned());
        match step {
            Step::Lookup(lookup) => {
                let wanted = if lookup.http.is_some() {
                    KindName::Http
                } else {
                    KindName::Database
                };
                match self.connections.get(&key(&lookup.connection)) {
                    None => found.push((
                        format!("{field}.lookup.connection"),
                        super::unresolved(self.invalid, "Connection", namespace, &lookup.connection),
                    )),
                    Some(connection) => match connection.spec.kind_name() {
                        Some(kind) if kind != wanted => found.push((
                            format!("{field}.lookup.{wanted}"),
                            format!(
                                "Connection `{}` is a {kind} Connection; a lookup with `{wanted}` needs a {wanted} Connection",
                                lookup.connection,
                            ),
                        )),
                        _ => {}
                    },
                }
            }
            Step::ValueMap(map) => {
                if let Some(table) = &map.value_table
                    && !self.value_tables.contains_key(&key(table))
                {
                    found.push((
                        format!("{field}.valueMap.valueTable"),
                        format!("ValueTable `{table}` does not exist in namespace `{namespace}`"),
                    ));
                }
            }
            Step::When(when) => {
                for (list, steps) in [("steps", &when.steps), ("else", &when.otherwise)] {
                    for (i, inner) in steps.iter().enumerate() {
                        self.walk(
                            namespace,
                            inner,
                            &format!("{field}.when.{list}[{i}]"),
                            found,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::catalog::Catalog;
    use crate::manifest::load_str;

    const CONNECTIONS: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: crm}
spec:
  http: {baseUrl: "https://crm.example.com"}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: db}
spec:
  database: {url: "postgres://db.example.com/app"}
"#;

    /// Problems of a Transformer with `steps`, as `field: message`.
    fn problems(steps: &str) -> Vec<String> {
        let text = format!(
            "{CONNECTIONS}---\napiVersion: switchyard.dev/v1alpha1\nkind: Transformer\nmetadata: {{name: t}}\nspec:\n  steps:\n{steps}"
        );
        let (resources, load) = load_str(&text, Some(Path::new("t.yaml")));
        assert!(load.is_empty(), "{load:?}");
        Catalog::build(resources)
            .problems
            .iter()
            .map(|p| {
                assert_eq!(p.to_string().split(':').next(), Some("t.yaml (document 3)"));
                format!("{}: {}", p.field, p.message)
            })
            .collect()
    }

    #[test]
    fn a_lookup_names_an_existing_connection_of_its_kind() {
        assert_eq!(
            problems(
                "    - lookup: {connection: crm, http: {path: /c}, into: c}\n    - lookup: {connection: db, database: {sql: 'SELECT 1'}, into: d}\n"
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            problems("    - lookup: {connection: nope, http: {path: /c}, into: c}\n"),
            [
                "spec.steps[0].lookup.connection: Connection `nope` does not exist in namespace `default`"
            ]
        );
        assert_eq!(
            problems(
                "    - when: {condition: 'true', steps: [{lookup: {connection: crm, database: {sql: 'SELECT 1'}, into: c}}]}\n"
            ),
            [
                "spec.steps[0].when.steps[0].lookup.database: Connection `crm` is a http Connection; a lookup with `database` needs a database Connection"
            ]
        );
    }

    #[test]
    fn a_value_map_names_an_existing_value_table() {
        let table = "---\napiVersion: switchyard.dev/v1alpha1\nkind: ValueTable\nmetadata: {name: countries}\nspec:\n  entries: {Netherlands: NL}\n";
        let text = format!(
            "{CONNECTIONS}{table}---\napiVersion: switchyard.dev/v1alpha1\nkind: Transformer\nmetadata: {{name: t}}\nspec:\n  steps:\n    - valueMap: {{path: c, valueTable: countries}}\n    - valueMap: {{path: c, valueTable: currencies}}\n"
        );
        let (resources, load) = load_str(&text, Some(Path::new("t.yaml")));
        assert!(load.is_empty(), "{load:?}");
        let catalog = Catalog::build(resources);
        let problems: Vec<String> = catalog.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "t.yaml (document 4): Transformer/default/t: field `spec.steps[1].valueMap.valueTable`: ValueTable `currencies` does not exist in namespace `default`"
            ]
        );
        assert_eq!(
            catalog.value_tables.keys().collect::<Vec<_>>(),
            [&("default".to_owned(), "countries".to_owned())]
        );
    }

    #[test]
    fn a_lookup_is_complete() {
        assert_eq!(
            problems("    - lookup: {connection: crm, into: c}\n"),
            ["spec.steps[0].lookup: set exactly one of: http, database"]
        );
        assert_eq!(
            problems(
                "    - lookup: {connection: crm, http: {path: '/c/{{ .id'}, into: c, onNotFound: default}\n"
            ),
            [
                "spec.steps[0].lookup.http.path: unclosed `{{` at character 4",
                "spec.steps[0].lookup.default: is required when `onNotFound` is `default`"
            ]
        );
        assert_eq!(
            problems("    - lookup: {connection: crm, http: {path: /c, query: {q: '{{ .[ }}'}}, into: c, default: 1, cacheSize: 0, select: '.['}\n")
                .iter()
                .map(|p| p.split(':').next().unwrap_or_default().to_owned())
                .collect::<Vec<_>>(),
            [
                "spec.steps[0].lookup.http.query.q",
                "spec.steps[0].lookup.default",
                "spec.steps[0].lookup.cacheSize",
                "spec.steps[0].lookup.select",
            ]
        );
    }
}
