//! Prometheus metrics: requests and latency histograms per route, the model version and
//! the bundle's age, reload outcomes. Kept in the server state (not a global recorder), so
//! every server in a process — and every test — has its own figures.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct RouteStats {
    statuses: Mutex<BTreeMap<u16, u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// Request and reload counters of one server.
#[derive(Debug, Default)]
pub struct Metrics {
    routes: RwLock<HashMap<(String, String), Arc<RouteStats>>>,
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
        let key = (method.to_owned(), route.to_owned());
        let stats = {
            let read = self.routes.read().ok().and_then(|m| m.get(&key).cloned());
            match read {
                Some(s) => s,
                None => match self.routes.write() {
                    Ok(mut m) => m.entry(key).or_default().clone(),
                    Err(_) => return,
                },
            }
        };
        if let Ok(mut s) = stats.statuses.lock() {
            *s.entry(status).or_default() += 1;
        }
        let secs = elapsed.as_secs_f64();
        for (b, le) in stats.buckets.iter().zip(BUCKETS) {
            if secs <= le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        stats.count.fetch_add(1, Ordering::Relaxed);
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
        let routes: Vec<((String, String), Arc<RouteStats>)> = self
            .routes
            .read()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mut routes = routes;
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        out.push_str(
            "# HELP kindred_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE kindred_http_requests_total counter\n");
        for ((method, route), s) in &routes {
            let statuses = s.statuses.lock().map(|m| m.clone()).unwrap_or_default();
            for (status, n) in statuses {
                let _ = writeln!(
                    out,
                    "kindred_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(method),
                    escape(route)
                );
            }
        }
        out.push_str("# HELP kindred_http_request_duration_seconds HTTP request latency by method and route.\n");
        out.push_str("# TYPE kindred_http_request_duration_seconds histogram\n");
        for ((method, route), s) in &routes {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            for (b, le) in s.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "kindred_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    b.load(Ordering::Relaxed)
                );
            }
            let count = s.count.load(Ordering::Relaxed);
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
