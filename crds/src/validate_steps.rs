//! Validation of the step kinds configured in `v1alpha1::steps`: every dotted path
//! parses, every jq program compiles, single characters are single characters, and a
//! `when` block's nested steps are valid (and call no Transformer).

use crate::jq;
use crate::path::FieldPath;
use crate::template::{self, Segment};
use crate::v1alpha1::{CsvOptions, LookupStep, OnNotFound, Step};
use crate::validate_edi;
use crate::zone::Zone;

/// Problems of one step as `(field below the step, message)`; `nested` validates the
/// steps inside a `when` block.
pub(crate) fn check(step: &Step, nested: &mut dyn FnMut(&Step, String)) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut zones = Vec::new();
    let mut path = |field: &str, text: &str| {
        if let Err(error) = FieldPath::parse(text) {
            found.push((field.to_owned(), error.to_string()));
        }
    };
    let mut programs: Vec<(String, &str)> = Vec::new();
    match step {
        Step::Filter(code) => programs.push(("filter".into(), code)),
        Step::Map(map) => {
            for (i, field) in map.fields.iter().enumerate() {
                path(&format!("map.fields[{i}].to"), &field.to);
                if let Some(from) = &field.from {
                    path(&format!("map.fields[{i}].from"), from);
                }
                if let Some(code) = &field.jq {
                    programs.push((format!("map.fields[{i}].jq"), code));
                }
            }
        }
        Step::Copy(copy) => {
            path("copy.from", &copy.from);
            path("copy.to", &copy.to);
        }
        Step::Convert(convert) => {
            for (i, field) in convert.fields.iter().enumerate() {
                path(&format!("convert.fields[{i}].path"), &field.path);
                for (name, zone) in [
                    ("timezone", &field.timezone),
                    ("outputTimezone", &field.output_timezone),
                ] {
                    if let Err(error) = Zone::parse(zone.as_deref()) {
                        zones.push((format!("convert.fields[{i}].{name}"), error.to_string()));
                    }
                }
            }
        }
        Step::ValueMap(map) => {
            path("valueMap.path", &map.path);
            if let Some(into) = &map.into {
                path("valueMap.into", into);
            }
        }
        Step::When(when) => {
            programs.push(("when.condition".into(), &when.condition));
            for (list, steps) in [("steps", &when.steps), ("else", &when.otherwise)] {
                for (i, inner) in steps.iter().enumerate() {
                    nested(inner, format!("when.{list}[{i}]"));
                }
            }
        }
        Step::Sort(sort) => path("sort.by", &sort.by),
        Step::Dedupe(dedupe) => {
            for (i, p) in dedupe.by.iter().enumerate() {
                path(&format!("dedupe.by[{i}]"), p);
            }
        }
        Step::Aggregate(aggregate) => {
            path("aggregate.groupBy", &aggregate.group_by);
            for (name, p) in &aggregate.sum {
                path(&format!("aggregate.sum.{name}"), p);
            }
        }
        Step::Validate(validate) => match (&validate.schema, validate.entity) {
            (Some(schema), None) if !schema.is_object() && !schema.is_boolean() => found.push((
                "validate.schema".into(),
                "a JSON Schema is an object (or a boolean)".into(),
            )),
            (Some(_), Some(_)) => found.push((
                "validate".into(),
                "set one of `schema` and `entity`, not both".into(),
            )),
            (None, None) => found.push((
                "validate".into(),
                "set `schema` (a JSON Schema) or `entity` (a canonical entity's name)".into(),
            )),
            _ => {}
        },
        Step::Parse(parse) => {
            path("parse.path", &parse.path);
            if let Some(into) = &parse.into {
                path("parse.into", into);
            }
            csv(&mut found, "parse.csv", parse.csv.as_ref());
            found.extend(validate_edi::parse(parse));
        }
        Step::Render(render) => {
            path("render.path", &render.path);
            if let Some(into) = &render.into {
                path("render.into", into);
            }
            csv(&mut found, "render.csv", render.csv.as_ref());
            if let Some(envelope) = &render.envelope {
                found.extend(validate_edi::envelope(render.format, envelope));
            }
        }
        Step::Acknowledge(acknowledge) => {
            path("acknowledge.path", &acknowledge.path);
            path("acknowledge.into", &acknowledge.into);
            found.extend(validate_edi::acknowledge(acknowledge));
        }
        Step::StorageGet(get) => {
            path("storageGet.into", &get.into);
            programs.push(("storageGet.key".into(), &get.key));
        }
        Step::StoragePut(put) => {
            programs.push(("storagePut.key".into(), &put.key));
            if let Some(value) = &put.value {
                programs.push(("storagePut.value".into(), value));
            }
        }
        Step::StorageDelete(delete) => programs.push(("storageDelete.key".into(), &delete.key)),
        Step::OnlyChanged(only) => {
            programs.push(("onlyChanged.key".into(), &only.key));
            if let Some(hash) = &only.hash {
                programs.push(("onlyChanged.hash".into(), hash));
            }
        }
        Step::Cursor(cursor) => {
            path("cursor.field", &cursor.field);
            if let Some(id) = &cursor.id {
                path("cursor.id", id);
            }
        }
        Step::Trigger(trigger) => {
            if let Some(code) = &trigger.item {
                programs.push(("trigger.item".into(), code));
            }
        }
        Step::Lookup(lookup) => {
            path("lookup.into", &lookup.into);
            found.extend(lookup_problems(lookup));
            if let Some(select) = &lookup.select {
                programs.push(("lookup.select".into(), select));
            }
        }
        Step::Jq(_)
        | Step::Set(_)
        | Step::Rename(_)
        | Step::Remove(_)
        | Step::Split(_)
        | Step::Transformer(_) => {}
    }
    found.extend(zones);
    for (field, code) in programs {
        if let Err(error) = jq::compile(code) {
            found.push((field, error.to_string()));
        }
    }
    found
}

fn csv(found: &mut Vec<(String, String)>, field: &str, options: Option<&CsvOptions>) {
    let Some(options) = options else {
        return;
    };
    for (name, text) in [("delimiter", &options.delimiter), ("quote", &options.quote)] {
        if text.len() != 1 {
            found.push((
                format!("{field}.{name}"),
                format!("must be one ASCII character, found `{text}`"),
            ));
        }
    }
}

/// A lookup asks exactly one kind of Connection, with templates that parse, and its
/// not-found choice is complete.
fn lookup_problems(lookup: &LookupStep) -> Vec<(String, String)> {
    let mut found = Vec::new();
    match (&lookup.http, &lookup.database) {
        (Some(_), Some(_)) => found.push((
            "lookup".into(),
            "set only one of: http, database (found http, database)".into(),
        )),
        (None, None) => found.push(("lookup".into(), "set exactly one of: http, database".into())),
        _ => {}
    }
    let mut templates = Vec::new();
    if let Some(http) = &lookup.http {
        templates.push(("lookup.http.path".to_owned(), http.path.as_str()));
        for (name, value) in &http.query {
            templates.push((format!("lookup.http.query.{name}"), value.as_str()));
        }
    }
    for (field, text) in templates {
        match template::parse(text) {
            Err(error) => found.push((field, error.to_string())),
            Ok(segments) => {
                for segment in segments {
                    if let Segment::Expression(code) = segment
                        && let Err(error) = jq::compile(&code)
                    {
                        found.push((field.clone(), error.to_string()));
                    }
                }
            }
        }
    }
    if let Some(database) = &lookup.database
        && database.sql.trim().is_empty()
    {
        found.push(("lookup.database.sql".into(), "is empty".into()));
    }
    match (lookup.on_not_found, &lookup.default) {
        (OnNotFound::Default, None) => found.push((
            "lookup.default".into(),
            "is required when `onNotFound` is `default`".into(),
        )),
        (OnNotFound::Omit | OnNotFound::Fail, Some(_)) => found.push((
            "lookup.default".into(),
            "is only used when `onNotFound` is `default`".into(),
        )),
        _ => {}
    }
    if lookup.cache_size == Some(0) {
        found.push(("lookup.cacheSize".into(), "must be at least 1".into()));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_time_zone_is_named() {
        let step: Step = serde_json::from_value(serde_json::json!({"convert": {"fields": [
            {"path": "a", "to": "date", "timezone": "Europe/Amsterdam", "outputTimezone": "+05:30"},
            {"path": "b", "to": "date", "timezone": "Europe/Amsterdm", "outputTimezone": "UTC"},
        ]}}))
        .unwrap_or_else(|e| panic!("{e}"));
        let found = check(&step, &mut |_, _| {});
        assert_eq!(
            found,
            [(
                "convert.fields[1].timezone".to_owned(),
                "time zone `Europe/Amsterdm` is not `UTC`, an offset such as `+01:00` or an IANA name such as `Europe/Amsterdam`".to_owned()
            )]
        );
    }
}
