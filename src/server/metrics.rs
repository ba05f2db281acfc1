//! Prometheus metrics: requests and latency histograms per route, the model version and
//! the bundle's age, reload outcomes. Kept in the server state (not a global recorder), so
//! every server in a process — and every test — has its own figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Status codes counted in a fixed table (every code `http::StatusCode` can hold); anything
/// else goes to a map under a lock.
const STATUS_TABLE: std::ops::Range<u16> = 100..1000;

/// The figures of one `(method, route)`. A request touches three relaxed atomics: its
/// status, its latency bucket and the latency sum (no lock, no allocation).
#[derive(Debug)]
struct RouteStats {
    method: Box<str>,
    route: Box<str>,
    /// Count per status code, indexed by `status - STATUS_TABLE.start`.
    statuses: Box<[AtomicU64]>,
    /// Status codes outside [`STATUS_TABLE`].
    other_statuses: Mutex<BTreeMap<u16, u64>>,
    /// Requests per latency bucket, not cumulative: slot `i` counts latencies in
    /// `(BUCKETS[i-1], BUCKETS[i]]`, the last slot those above every bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl RouteStats {
    fn new(method: &str, route: &str) -> RouteStats {
        RouteStats {
            method: method.into(),
            route: route.into(),
            statuses: STATUS_TABLE.map(|_| AtomicU64::new(0)).collect(),
            other_statuses: Mutex::new(BTreeMap::new()),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// Every status with its count, lowest code first.
    fn statuses(&self) -> BTreeMap<u16, u64> {
        let mut out = self
            .other_statuses
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        for (code, n) in STATUS_TABLE.zip(self.statuses.iter()) {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                out.insert(code, n);
            }
        }
        out
    }
}

/// Request and reload counters of one server.
#[derive(Debug, Default)]
pub struct Metrics {
    /// One entry per `(method, route)` seen, in first-seen order; a server has a few dozen
    /// at most, so a scan under a read lock finds one without hashing or allocating.
    routes: RwLock<Vec<Arc<RouteStats>>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

/// What `/metrics` says about the model.
#[derive(Debug, Clone)]
pub struct ModelGauges {
    pub version: String,
    /// Seconds since the bundle was created.
    pub bundle_age_seconds: f64,
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts one request of `method` on `route` (the matched route template).
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let find = |routes: &[Arc<RouteStats>]| {
            routes
                .iter()
                .find(|s| &*s.route == route && &*s.method == method)
                .cloned()
        };
        let found = self.routes.read().ok().and_then(|r| find(&r));
        let stats = match found {
            Some(s) => s,
            None => match self.routes.write() {
                Ok(mut r) => match find(&r) {
                    Some(s) => s,
                    None => {
                        let s = Arc::new(RouteStats::new(method, route));
                        r.push(s.clone());
                        s
                    }
                },
                Err(_) => return,
            },
        };
        match status
            .checked_sub(STATUS_TABLE.start)
            .and_then(|i| stats.statuses.get(usize::from(i)))
        {
            Some(n) => {
                n.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                if let Ok(mut m) = stats.other_statuses.lock() {
                    *m.entry(status).or_default() += 1;
                }
            }
        }
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS.partition_point(|&le| le < secs);
        stats.buckets[slot].fetch_add(1, Ordering::Relaxed);
        stats.sum_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Counts one reload.
    pub fn record_reload(&self, ok: bool) {
        let c = if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, model: Option<&ModelGauges>) -> String {
        let mut out = String::new();
        let mut routes: Vec<Arc<RouteStats>> =
            self.routes.read().map(|r| r.clone()).unwrap_or_default();
        routes.sort_by(|a, b| (&a.method, &a.route).cmp(&(&b.method, &b.route)));
        out.push_str(
            "# HELP kindred_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE kindred_http_requests_total counter\n");
        for s in &routes {
            for (status, n) in s.statuses() {
                let _ = writeln!(
                    out,
                    "kindred_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(&s.method),
                    escape(&s.route)
                );
            }
        }
        out.push_str("# HELP kindred_http_request_duration_seconds HTTP request latency by method and route.\n");
        out.push_str("# TYPE kindred_http_request_duration_seconds histogram\n");
        for s in &routes {
            let labels = format!(
                "method=\"{}\",route=\"{}\"",
                escape(&s.method),
                escape(&s.route)
            );
            let mut cumulative = 0u64;
            for (b, le) in s.buckets.iter().zip(BUCKETS) {
                cumulative += b.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "kindred_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let count = cumulative + s.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "kindred_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "kindred_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "kindred_http_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
        out.push_str(
            "# HELP kindred_model_loaded Whether a model bundle is loaded (1) or not (0).\n",
        );
        out.push_str("# TYPE kindred_model_loaded gauge\n");
        let _ = writeln!(out, "kindred_model_loaded {}", u8::from(model.is_some()));
        if let Some(m) = model {
            out.push_str("# HELP kindred_model_info The served bundle's version.\n");
            out.push_str("# TYPE kindred_model_info gauge\n");
            let _ = writeln!(
                out,
                "kindred_model_info{{version=\"{}\"}} 1",
                escape(&m.version)
            );
            out.push_str("# HELP kindred_model_bundle_age_seconds Seconds since the served bundle was created.\n");
            out.push_str("# TYPE kindred_model_bundle_age_seconds gauge\n");
            let _ = writeln!(
                out,
                "kindred_model_bundle_age_seconds {:.0}",
                m.bundle_age_seconds
            );
        }
        out.push_str("# HELP kindred_reloads_total Model reloads by result.\n");
        out.push_str("# TYPE kindred_reloads_total counter\n");
        let _ = writeln!(
            out,
            "kindred_reloads_total{{result=\"ok\"}} {}",
            self.reloads_ok.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "kindred_reloads_total{{result=\"failed\"}} {}",
            self.reloads_failed.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn renders_hand_computed_figures() {
        let m = Metrics::default();
        m.record("GET", "/a", 200, Duration::from_micros(300));
        m.record("GET", "/a", 200, Duration::from_millis(3));
        m.record("GET", "/a", 404, Duration::from_millis(20));
        m.record("POST", "/b", 42, Duration::from_secs(11));
        m.record_reload(false);
        let text = m.render(Some(&ModelGauges {
            version: "v1".into(),
            bundle_age_seconds: 60.4,
        }));
        for line in [
            "kindred_http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 2",
            "kindred_http_requests_total{method=\"GET\",route=\"/a\",status=\"404\"} 1",
            "kindred_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"0.0005\"} 1",
            "kindred_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"0.005\"} 2",
            "kindred_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"0.025\"} 3",
            "kindred_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"+Inf\"} 3",
            "kindred_http_request_duration_seconds_sum{method=\"GET\",route=\"/a\"} 0.0233",
            "kindred_http_request_duration_seconds_count{method=\"GET\",route=\"/a\"} 3",
            "kindred_http_requests_total{method=\"POST\",route=\"/b\",status=\"42\"} 1",
            "kindred_http_request_duration_seconds_bucket{method=\"POST\",route=\"/b\",le=\"10\"} 0",
            "kindred_http_request_duration_seconds_bucket{method=\"POST\",route=\"/b\",le=\"+Inf\"} 1",
            "kindred_model_loaded 1",
            "kindred_model_info{version=\"v1\"} 1",
            "kindred_model_bundle_age_seconds 60",
            "kindred_reloads_total{result=\"ok\"} 0",
            "kindred_reloads_total{result=\"failed\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(m.render(None).contains("kindred_model_loaded 0\n"));
    }
}
