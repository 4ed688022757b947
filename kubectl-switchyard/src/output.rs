//! Output like kubectl's: a table with upper-case headers, or the API's JSON or YAML.

use serde_json::Value;

/// How to print an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Columns, like `kubectl get`.
    Table,
    Json,
    Yaml,
}

/// Columns separated by three spaces, each as wide as its widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            out.push_str(cell);
            if i < last {
                out.push_str(&" ".repeat(width - cell.chars().count() + 3));
            }
        }
        // No trailing blanks when the last cells are empty.
        let mut out = out.trim_end().to_owned();
        out.push('\n');
        out
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `value` as JSON or YAML.
pub fn document(value: &Value, format: Format) -> String {
    match format {
        Format::Yaml => serde_yaml::to_string(value).unwrap_or_default(),
        Format::Json | Format::Table => {
            serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
        }
    }
}

/// A cell: strings as they are, `null` as `<none>`, anything else as JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "<none>".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// How long ago `ms` (milliseconds since the epoch) was, like kubectl's AGE.
pub fn age(ms: &Value, now_ms: i64) -> String {
    let Some(ms) = ms.as_i64() else {
        return "<unknown>".to_owned();
    };
    let seconds = ((now_ms - ms) / 1000).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The table of `GET …/tasks`.
pub fn tasks_table(page: &Value, now_ms: i64) -> String {
    let rows: Vec<Vec<String>> = page["tasks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|t| {
            vec![
                cell(&t["id"]),
                cell(&t["route"]),
                cell(&t["state"]),
                cell(&t["attempts"]),
                age(&t["createdAtMs"], now_ms),
                t["lastError"]
                    .as_str()
                    .map(|e| e.chars().take(60).collect())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["ID", "ROUTE", "STATE", "ATTEMPTS", "AGE", "LAST ERROR"],
        &rows,
    )
}

/// The table of `GET …/routes`.
pub fn routes_table(routes: &Value) -> String {
    let rows: Vec<Vec<String>> = routes
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let mut row = vec![
                cell(&r["name"]),
                cell(&r["incoming"]),
                if r["suspended"] == true {
                    "suspended".to_owned()
                } else {
                    cell(&r["mode"])
                },
            ];
            for state in ["pending", "processing", "done", "failed", "skipped"] {
                row.push(cell(&r["tasks"][state]));
            }
            row
        })
        .collect();
    table(
        &[
            "NAME",
            "INCOMING",
            "MODE",
            "PENDING",
            "PROCESSING",
            "DONE",
            "FAILED",
            "SKIPPED",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tables_align_columns_like_kubectl() {
        let page = json!({"tasks": [
            {"id": "01a", "route": "shop-orders", "state": "failed", "attempts": 3, "createdAtMs": 0, "lastError": "answered 422"},
            {"id": "01b", "route": "x", "state": "done", "attempts": 1, "createdAtMs": 3_600_000, "lastError": null},
        ]});
        assert_eq!(
            tasks_table(&page, 3_700_000),
            "ID    ROUTE         STATE    ATTEMPTS   AGE    LAST ERROR\n\
             01a   shop-orders   failed   3          61m    answered 422\n\
             01b   x             done     1          100s\n"
        );
        let routes = json!([{"name": "orders", "incoming": "webhook", "mode": "realtime", "suspended": true,
            "tasks": {"pending": 1, "processing": 0, "done": 20, "failed": 2, "skipped": 0}}]);
        assert_eq!(
            routes_table(&routes),
            "NAME     INCOMING   MODE        PENDING   PROCESSING   DONE   FAILED   SKIPPED\n\
             orders   webhook    suspended   1         0            20     2        0\n"
        );
    }

    #[test]
    fn documents_are_the_api_answer() {
        let value = json!({"id": "t1", "state": "done"});
        assert_eq!(document(&value, Format::Yaml), "id: t1\nstate: done\n");
        assert_eq!(
            serde_json::from_str::<Value>(&document(&value, Format::Json)).ok(),
            Some(value)
        );
        assert_eq!(age(&json!(0), 3 * 86_400_000), "3d");
    }
}
