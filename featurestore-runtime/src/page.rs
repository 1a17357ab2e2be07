//! The catalog as a page people read, HTML with inline SVG (no script, no
//! framework), served by `features serve` at `GET /` and written by
//! `features report --html DIR`: every source, feature
//! set and dataset with its columns, types, windows and descriptions; the
//! lineage (sources → feature sets → datasets) drawn; each feature set's
//! freshness (its last run's time, days and online rows) and the quality
//! report of its runs (a histogram per feature, null rate and mean over
//! runs), read from the reports next to the historical store.

use std::fmt::Write as _;

use crate::catalog;
use crate::pipeline::quality::{self, RunQuality};
use crate::registry::Registry;
use crate::spec::FeatureSetSpec;

/// Each feature set's last [`RUNS_SHOWN`] quality reports under the
/// historical store at `root` (none without a root), or why they could not
/// be read.
pub fn reports(
    registry: &Registry,
    root: Option<&crate::location::FileLocation>,
) -> Vec<(String, Result<Vec<RunQuality>, String>)> {
    registry
        .feature_sets()
        .iter()
        .map(|f| {
            let runs = match root {
                Some(root) => quality::latest(root, f.name, RUNS_SHOWN).map_err(|e| e.to_string()),
                None => Ok(Vec::new()),
            };
            (f.name.to_string(), runs)
        })
        .collect()
}

/// Runs whose null rate and mean are drawn.
pub const RUNS_SHOWN: usize = 20;

/// Text for HTML, markup characters escaped.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:72em}\
h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;font-size:.9em}\
th{background:#f4f4f4}code{background:#f4f4f4;padding:0 .2em}.muted{color:#777}\
.plots{display:flex;flex-wrap:wrap;gap:1em}.plot{border:1px solid #eee;padding:.3em}.plot svg{display:block}";

/// The whole page; `reports` holds each feature set's last runs (oldest
/// first), or why they could not be read.
pub fn render(
    registry: &Registry,
    reports: &[(String, Result<Vec<RunQuality>, String>)],
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Feature catalog</title>\
         <style>{STYLE}</style></head><body><h1>Feature catalog</h1>\
         <p class=\"muted\">{} sources, {} feature sets, {} datasets. JSON: <a href=\"/v1/feature-sets\">/v1/feature-sets</a>, \
         API: <a href=\"/openapi.json\">/openapi.json</a>.</p>",
        registry.sources().len(),
        registry.feature_sets().len(),
        registry.datasets().len()
    );
    h.push_str("<h2>Lineage</h2>");
    h.push_str(&lineage(registry));

    h.push_str("<h2>Feature sets</h2>");
    for spec in registry.feature_sets() {
        let runs = reports
            .iter()
            .find(|(n, _)| n == spec.name)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| Ok(Vec::new()));
        feature_set(&mut h, spec, &runs);
    }

    h.push_str("<h2>Sources</h2>");
    for s in registry.sources() {
        let _ = write!(
            h,
            "<h3 id=\"source-{0}\">{0}</h3><p>{1}</p><table><tr><th>column</th><th>type</th><th>description</th></tr>",
            esc(s.name),
            esc(s.description)
        );
        for c in s.columns {
            let ty = if c.nullable {
                format!("Option<{}>", c.dtype.rust())
            } else {
                c.dtype.rust().to_string()
            };
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                esc(c.name),
                esc(&ty),
                esc(c.description)
            );
        }
        h.push_str("</table>");
    }

    h.push_str("<h2>Datasets</h2>");
    if registry.datasets().is_empty() {
        h.push_str("<p class=\"muted\">none declared</p>");
    }
    for d in registry.datasets() {
        let joins: Vec<String> = d.joins.iter().map(|j| esc(j.feature_set.name)).collect();
        let _ = write!(
            h,
            "<h3 id=\"dataset-{0}\">{0}</h3><p>{1}</p><p>spine <code>{2}</code>, joins {3}</p>\
             <table><tr><th>column</th><th>type</th><th>from</th></tr>",
            esc(d.name),
            esc(d.description),
            esc(d.spine.name),
            joins.join(", ")
        );
        for (name, ty, from) in catalog::dataset_lineage(d) {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&name),
                esc(&ty),
                esc(&from)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</body></html>");
    h
}

fn feature_set(h: &mut String, spec: &FeatureSetSpec, runs: &Result<Vec<RunQuality>, String>) {
    let windows: Vec<String> = spec.windows.iter().map(|w| w.to_string()).collect();
    let _ = write!(
        h,
        "<section class=\"feature-set\" id=\"feature-set-{0}\"><h3>{0}</h3><p>{1}</p>\
         <p>keys <code>{2}</code>, source <a href=\"#source-{3}\">{3}</a>, windows {4}</p>",
        esc(spec.name),
        esc(spec.description),
        esc(&spec.key_names().collect::<Vec<_>>().join(", ")),
        esc(spec.source.name),
        if windows.is_empty() {
            "none".to_string()
        } else {
            esc(&windows.join(", "))
        }
    );
    match runs {
        Err(e) => {
            let _ = write!(
                h,
                "<p class=\"muted\">freshness: the run reports cannot be read: {}</p>",
                esc(e)
            );
        }
        Ok(runs) => match runs.last() {
            None => h.push_str("<p class=\"freshness muted\">freshness: no run recorded yet</p>"),
            Some(last) => {
                let days = last
                    .days
                    .map_or_else(|| "no days".to_string(), |(a, b)| format!("{a} to {b}"));
                let _ = write!(
                    h,
                    "<p class=\"freshness\">freshness: last run {} UTC, days {}, {} rows, {} online rows written</p>",
                    esc(&last.recorded_at),
                    esc(&days),
                    last.rows,
                    last.online_rows
                );
            }
        },
    }
    h.push_str("<table><tr><th>column</th><th>type</th><th>description</th></tr>");
    for c in catalog::columns(spec) {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&c.name),
            esc(&c.rust_type),
            esc(&c.description)
        );
    }
    h.push_str("</table>");
    if let Ok(runs) = runs {
        if let Some(last) = runs.last() {
            h.push_str("<div class=\"plots\">");
            for c in &last.columns {
                let _ = write!(
                    h,
                    "<div class=\"plot\"><div><code>{}</code></div>",
                    esc(&c.name)
                );
                if let Some(hist) = &c.histogram {
                    h.push_str("<div class=\"muted\">values, last run</div>");
                    h.push_str(&histogram(hist));
                }
                let history: Vec<(f64, Option<f64>)> = runs
                    .iter()
                    .filter_map(|r| r.columns.iter().find(|x| x.name == c.name))
                    .map(|x| (x.null_rate, x.mean))
                    .collect();
                let _ = write!(
                    h,
                    "<div class=\"muted\">null rate (red, 0 to 1) and mean (blue), last {} runs</div>",
                    history.len()
                );
                h.push_str(&over_runs(&history));
                if c.drift.as_ref().is_some_and(|d| d.flagged) {
                    h.push_str("<div><strong>drift from the previous run</strong></div>");
                }
                h.push_str("</div>");
            }
            h.push_str("</div>");
        }
    }
    h.push_str("</section>");
}

/// Bars of a histogram, with its range below.
fn histogram(hist: &quality::Histogram) -> String {
    let (w, ht) = (240.0, 90.0);
    let top = hist.counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bar = w / hist.counts.len().max(1) as f64;
    let mut s = format!(
        "<svg class=\"histogram\" width=\"{w}\" height=\"{}\" role=\"img\"><title>histogram of the last run</title>",
        ht + 14.0
    );
    for (i, n) in hist.counts.iter().enumerate() {
        let bh = (*n as f64 / top) * ht;
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#4a7bd0\"><title>{n}</title></rect>",
            i as f64 * bar + 1.0,
            ht - bh,
            bar - 2.0
        );
    }
    let first = hist.edges.first().copied().unwrap_or_default();
    let last = hist.edges.last().copied().unwrap_or_default();
    let _ = write!(
        s,
        "<text x=\"0\" y=\"{}\" font-size=\"10\">{first}</text><text x=\"{w}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{last}</text></svg>",
        ht + 12.0,
        ht + 12.0
    );
    s
}

/// Null rate (red) and mean (blue, scaled to its own range) over runs.
fn over_runs(history: &[(f64, Option<f64>)]) -> String {
    let (w, ht) = (240.0, 60.0);
    let x = |i: usize| {
        if history.len() < 2 {
            w / 2.0
        } else {
            i as f64 * w / (history.len() - 1) as f64
        }
    };
    let line = |points: Vec<(usize, f64)>, lo: f64, hi: f64, color: &str| {
        let span = if hi > lo { hi - lo } else { 1.0 };
        let pts: Vec<String> = points
            .iter()
            .map(|(i, v)| {
                format!(
                    "{:.1},{:.1}",
                    x(*i),
                    ht - (v - lo) / span * (ht - 4.0) - 2.0
                )
            })
            .collect();
        format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
            pts.join(" ")
        )
    };
    let nulls: Vec<(usize, f64)> = history
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (i, *n))
        .collect();
    let means: Vec<(usize, f64)> = history
        .iter()
        .enumerate()
        .filter_map(|(i, (_, m))| m.map(|m| (i, m)))
        .collect();
    let lo = means.iter().map(|(_, m)| *m).fold(f64::INFINITY, f64::min);
    let hi = means
        .iter()
        .map(|(_, m)| *m)
        .fold(f64::NEG_INFINITY, f64::max);
    format!(
        "<svg class=\"over-runs\" width=\"{w}\" height=\"{ht}\" role=\"img\"><title>null rate (red, 0 to 1) and mean (blue) over the last {} runs</title>{}{}</svg>",
        history.len(),
        line(nulls, 0.0, 1.0, "#d04a4a"),
        line(means, lo, hi, "#4a7bd0"),
    )
}

/// Sources, feature sets and datasets in three columns, an arrow for each
/// read.
fn lineage(registry: &Registry) -> String {
    let sources: Vec<&str> = registry.sources().iter().map(|s| s.name).collect();
    let sets: Vec<&str> = registry.feature_sets().iter().map(|f| f.name).collect();
    let datasets: Vec<&str> = registry.datasets().iter().map(|d| d.name).collect();
    let rows = sources.len().max(sets.len()).max(datasets.len()).max(1);
    let (bw, bh, gap, col) = (180.0, 30.0, 16.0, 260.0);
    let height = rows as f64 * (bh + gap) + gap;
    let y = |i: usize| gap + i as f64 * (bh + gap);
    let mut s = format!(
        "<svg id=\"lineage\" width=\"{}\" height=\"{height}\" role=\"img\"><title>lineage: sources, feature sets, datasets</title>\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\" fill=\"#888\"/></marker></defs>",
        col * 2.0 + bw + 10.0
    );
    let mut edge = |from: (usize, usize), to: (usize, usize)| {
        let _ = write!(
            s,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888\" marker-end=\"url(#arrow)\"/>",
            from.0 as f64 * col + bw,
            y(from.1) + bh / 2.0,
            to.0 as f64 * col,
            y(to.1) + bh / 2.0
        );
    };
    for (i, f) in registry.feature_sets().iter().enumerate() {
        if let Some(j) = sources.iter().position(|n| *n == f.source.name) {
            edge((0, j), (1, i));
        }
    }
    for (i, d) in registry.datasets().iter().enumerate() {
        for join in d.joins {
            if let Some(j) = sets.iter().position(|n| *n == join.feature_set.name) {
                edge((1, j), (2, i));
            }
        }
    }
    for (c, (names, kind, color)) in [
        (&sources, "source", "#eef4e8"),
        (&sets, "feature-set", "#e8eef8"),
        (&datasets, "dataset", "#f8efe6"),
    ]
    .into_iter()
    .enumerate()
    {
        for (i, name) in names.iter().enumerate() {
            let _ = write!(
                s,
                "<a href=\"#{kind}-{0}\"><rect x=\"{1:.1}\" y=\"{2:.1}\" width=\"{bw}\" height=\"{bh}\" rx=\"4\" fill=\"{color}\" stroke=\"#999\"/>\
                 <text x=\"{3:.1}\" y=\"{4:.1}\" font-size=\"12\" text-anchor=\"middle\">{0}</text></a>",
                esc(name),
                c as f64 * col,
                y(i),
                c as f64 * col + bw / 2.0,
                y(i) + bh / 2.0 + 4.0
            );
        }
    }
    s.push_str("</svg>");
    s
}
