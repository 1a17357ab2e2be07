//! `GET /metrics`: Prometheus' text exposition format (version 0.0.4).
//!
//! A handful of series, kept with atomics and one small map rather than a
//! metrics library: requests by route and status, a latency histogram by
//! route, online-store errors by kind, and rows served by feature set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds: fine below a
/// millisecond, where lookups of the embedded store land.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    /// Observations at or below each bound (not yet cumulative).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The server's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    store_errors: Mutex<BTreeMap<&'static str, u64>>,
    rows: Mutex<BTreeMap<String, (u64, u64)>>,
    in_flight: AtomicU64,
}

/// A poisoned lock only means another request panicked while counting: the
/// counts are still counts.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    pub(crate) fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request to `route` (its template, `/v1/feature-sets/{name}`, so
    /// that names do not make series) ended with `status` after `elapsed`.
    pub(crate) fn finished(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        *lock(&self.requests)
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let mut latency = lock(&self.latency);
        let h = latency.entry(route.to_string()).or_default();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i] += 1;
        }
        h.count += 1;
        h.sum += seconds;
    }

    pub(crate) fn store_error(&self, kind: &'static str) {
        *lock(&self.store_errors).entry(kind).or_default() += 1;
    }

    /// Keys of `feature_set` looked up, and how many had a row.
    pub(crate) fn rows(&self, feature_set: &str, looked_up: usize, found: usize) {
        let mut rows = lock(&self.rows);
        let entry = rows.entry(feature_set.to_string()).or_default();
        entry.0 += looked_up as u64;
        entry.1 += found as u64;
    }

    /// Every series, in the text format.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP featurestore_http_requests_total HTTP requests answered, by route and status."
        );
        let _ = writeln!(out, "# TYPE featurestore_http_requests_total counter");
        for ((method, route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "featurestore_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP featurestore_http_request_duration_seconds Time to answer a request, by route."
        );
        let _ = writeln!(
            out,
            "# TYPE featurestore_http_request_duration_seconds histogram"
        );
        for (route, h) in lock(&self.latency).iter() {
            let route = escape(route);
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "featurestore_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "featurestore_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "featurestore_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "featurestore_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP featurestore_http_requests_in_flight Requests being answered."
        );
        let _ = writeln!(out, "# TYPE featurestore_http_requests_in_flight gauge");
        let _ = writeln!(
            out,
            "featurestore_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP featurestore_online_store_errors_total Online store calls that failed, by kind.");
        let _ = writeln!(out, "# TYPE featurestore_online_store_errors_total counter");
        for (kind, n) in lock(&self.store_errors).iter() {
            let _ = writeln!(
                out,
                "featurestore_online_store_errors_total{{kind=\"{kind}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP featurestore_keys_looked_up_total Entity keys looked up, by feature set."
        );
        let _ = writeln!(out, "# TYPE featurestore_keys_looked_up_total counter");
        let _ = writeln!(
            out,
            "# HELP featurestore_rows_served_total Rows found and served, by feature set."
        );
        let _ = writeln!(out, "# TYPE featurestore_rows_served_total counter");
        for (feature_set, (looked_up, found)) in lock(&self.rows).iter() {
            let fs = escape(feature_set);
            let _ = writeln!(
                out,
                "featurestore_keys_looked_up_total{{feature_set=\"{fs}\"}} {looked_up}"
            );
            let _ = writeln!(
                out,
                "featurestore_rows_served_total{{feature_set=\"{fs}\"}} {found}"
            );
        }
        out
    }
}

/// A label value as the format requires: backslash, quote and newline escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        for ms in [0.05, 0.3, 3.0, 3.0, 7000.0] {
            m.started();
            m.finished("GET", "/r", 200, Duration::from_secs_f64(ms / 1000.0));
        }
        let text = m.render();
        assert!(
            text.contains(
                "featurestore_http_requests_total{method=\"GET\",route=\"/r\",status=\"200\"} 5"
            ),
            "{text}"
        );
        assert!(text.contains("le=\"0.0001\"} 1\n"), "{text}");
        assert!(text.contains("le=\"0.0005\"} 2\n"), "{text}");
        assert!(text.contains("le=\"0.005\"} 4\n"), "{text}");
        assert!(text.contains("le=\"5\"} 4\n"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 5\n"), "{text}");
        assert!(
            text.contains("featurestore_http_requests_in_flight 0\n"),
            "{text}"
        );
    }
}
