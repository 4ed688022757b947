//! The results as a markdown table, plus a one-line summary per scenario.

use std::fmt::Write;

use crate::scenario::ScenarioResult;

const DASH: &str = "–";

pub fn markdown(results: &[ScenarioResult]) -> String {
    let mut out = String::new();
    out.push_str(
        "| Queue | Scenario | Accepted items/s | Request p50 / p99 ms | Delivered items/s (under load) | Items/s incl. drain | Send→delivery p50 / p99 ms | Drain s | CPU cores runner / bench | Peak RSS MiB |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        let (delivered, overall, latency, drain) = match &r.delivered {
            Some(d) => (
                format!("{:.0}", d.steady_rate),
                format!("{:.0}", d.overall_rate),
                format!("{:.1} / {:.1}", d.latency.p50_ms, d.latency.p99_ms),
                format!("{:.1}", d.drain.as_secs_f64()),
            ),
            None => (
                DASH.to_owned(),
                DASH.to_owned(),
                DASH.to_owned(),
                DASH.to_owned(),
            ),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.1} / {:.1} | {delivered} | {overall} | {latency} | {drain} | {:.2} / {:.2} | {:.0} |",
            r.backend,
            crate::scenario::label(r.kind, r.batch_size, r.runners),
            r.intake_rate,
            r.request_latency.p50_ms,
            r.request_latency.p99_ms,
            r.runner_cores,
            r.bench_cores,
            r.peak_rss_mib,
        );
    }
    out.push('\n');
    for r in results {
        let duplicates = r
            .delivered
            .as_ref()
            .map(|d| format!(", {} redelivered", d.duplicates))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "- {} / {}: {} clients, {} requests ({} failed), {} items accepted{duplicates}{}",
            r.backend,
            crate::scenario::label(r.kind, r.batch_size, r.runners),
            r.clients,
            r.requests,
            r.errors,
            r.accepted,
            if r.problems.is_empty() {
                String::new()
            } else {
                format!("; PROBLEMS: {}", r.problems.join("; "))
            }
        );
    }
    out
}

pub fn summary_line(r: &ScenarioResult) -> String {
    let mut line = format!(
        "   accepted {} items, {:.0} items/s, request p50 {:.1} ms p99 {:.1} ms",
        r.accepted, r.intake_rate, r.request_latency.p50_ms, r.request_latency.p99_ms
    );
    if let Some(d) = &r.delivered {
        let _ = write!(
            line,
            "; delivered {:.0}/s under load, {:.0}/s incl. drain ({:.1} s), latency p50 {:.1} ms p99 {:.1} ms",
            d.steady_rate,
            d.overall_rate,
            d.drain.as_secs_f64(),
            d.latency.p50_ms,
            d.latency.p99_ms
        );
    }
    let _ = write!(
        line,
        "; CPU cores: runner {:.2}, bench {:.2}; runner peak RSS {:.0} MiB",
        r.runner_cores, r.bench_cores, r.peak_rss_mib
    );
    for problem in &r.problems {
        let _ = write!(line, "\n   PROBLEM: {problem}");
    }
    line
}
