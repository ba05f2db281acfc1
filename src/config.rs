//! Server configuration: a TOML file (every key optional), then `KINDRED_…` environment
//! overrides, validated once at start-up so that a bad value stops the server with a clear
//! message instead of failing a request later.
//!
//! | key | env | default |
//! |---|---|---|
//! | `addr` | `KINDRED_ADDR` | `127.0.0.1:8080` |
//! | `models_dir` | `KINDRED_MODELS_DIR` | `models` |
//! | `request_timeout_ms` | `KINDRED_REQUEST_TIMEOUT_MS` | `5000` |
//! | `body_limit_bytes` | `KINDRED_BODY_LIMIT_BYTES` | `1048576` (1 MiB) |
//! | `default_k` | `KINDRED_DEFAULT_K` | `10` |
//! | `max_k` | `KINDRED_MAX_K` | `1000` |
//! | `data_dir` | `KINDRED_DATA_DIR` | `data` (the event store) |
//! | `max_batch_events` | `KINDRED_MAX_BATCH_EVENTS` | `1000` |
//! | `live_recent_items` | `KINDRED_LIVE_RECENT_ITEMS` | `50` |
//! | `live_intent_weight` | `KINDRED_LIVE_INTENT_WEIGHT` | `1.0` |
//! | `[[api_keys]]` | a key's `key_env` names the variable holding it | none: the API is open |
//! | `[landing]` | — | a built-in `home` page, no campaigns ([`crate::landing::config`]) |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why the configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}={value:?}: {message}")]
    Env {
        var: String,
        value: String,
        message: String,
    },
    #[error("configuration key {key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error(transparent)]
    Landing(#[from] crate::landing::LandingConfigError),
}

/// The server's settings; see the module docs for keys, variables and defaults.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Folder of model bundles; the newest is served.
    pub models_dir: PathBuf,
    /// A request that takes longer is answered 503 `timeout`.
    pub request_timeout_ms: u64,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// `k` when a request gives none.
    pub default_k: usize,
    /// Largest `k` a request may ask for.
    pub max_k: usize,
    /// Folder of the event store (`events.sqlite3`), created when missing.
    pub data_dir: PathBuf,
    /// Most events accepted in one `POST /v1/events`.
    pub max_batch_events: usize,
    /// Item events kept per visitor in the live profile.
    pub live_recent_items: usize,
    /// How strongly personal recommendations follow the visitor's latest live clicks
    /// (0 = not at all; 1 = as much as the trained model's best score).
    pub live_intent_weight: f32,
    /// API keys and their scopes; with none, every route is open.
    pub api_keys: Vec<ApiKey>,
    /// Landing-page templates and segment campaigns (`[landing]`, see
    /// [`crate::landing::config`]).
    pub landing: crate::landing::LandingConfig,
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Send events and identify visitors.
    Ingest,
    /// Read recommendations, profiles, segments and pages.
    Read,
    /// Erase customers, export, reload models.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// One API key: `Authorization: Bearer <key>` (or `X-Api-Key: <key>`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Who holds the key (shown in logs, never the key itself).
    pub name: String,
    /// The key; or leave it out and name an environment variable in `key_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
    pub scopes: Vec<Scope>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            models_dir: PathBuf::from("models"),
            request_timeout_ms: 5_000,
            body_limit_bytes: 1 << 20,
            default_k: 10,
            max_k: 1_000,
            data_dir: PathBuf::from("data"),
            max_batch_events: 1_000,
            live_recent_items: 50,
            live_intent_weight: 1.0,
            api_keys: Vec::new(),
            landing: crate::landing::LandingConfig::default(),
        }
    }
}

fn env_value<T: std::str::FromStr>(var: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.trim().parse::<T>().map_err(|e| ConfigError::Env {
        var: var.to_owned(),
        value: value.to_owned(),
        message: e.to_string(),
    })
}

impl Config {
    /// Parses TOML text (every key optional).
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Reads `path` (when given), applies `KINDRED_…` overrides from `env` and validates.
    /// `env` is `std::env::var(..).ok()` in `main`; tests pass their own.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?;
                Config::from_toml(&text, p)?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// Applies the `KINDRED_…` environment overrides.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("KINDRED_ADDR") {
            self.addr = env_value("KINDRED_ADDR", &v)?;
        }
        if let Some(v) = env("KINDRED_MODELS_DIR") {
            self.models_dir = PathBuf::from(v);
        }
        if let Some(v) = env("KINDRED_REQUEST_TIMEOUT_MS") {
            self.request_timeout_ms = env_value("KINDRED_REQUEST_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = env("KINDRED_BODY_LIMIT_BYTES") {
            self.body_limit_bytes = env_value("KINDRED_BODY_LIMIT_BYTES", &v)?;
        }
        if let Some(v) = env("KINDRED_DEFAULT_K") {
            self.default_k = env_value("KINDRED_DEFAULT_K", &v)?;
        }
        if let Some(v) = env("KINDRED_MAX_K") {
            self.max_k = env_value("KINDRED_MAX_K", &v)?;
        }
        if let Some(v) = env("KINDRED_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("KINDRED_MAX_BATCH_EVENTS") {
            self.max_batch_events = env_value("KINDRED_MAX_BATCH_EVENTS", &v)?;
        }
        if let Some(v) = env("KINDRED_LIVE_RECENT_ITEMS") {
            self.live_recent_items = env_value("KINDRED_LIVE_RECENT_ITEMS", &v)?;
        }
        if let Some(v) = env("KINDRED_LIVE_INTENT_WEIGHT") {
            self.live_intent_weight = env_value("KINDRED_LIVE_INTENT_WEIGHT", &v)?;
        }
        for k in &mut self.api_keys {
            if let Some(var) = &k.key_env {
                match env(var) {
                    Some(v) => k.key = Some(v.trim().to_owned()),
                    None => {
                        return Err(ConfigError::Invalid {
                            key: "api_keys.key_env",
                            message: format!(
                                "key {:?} names environment variable {var}, which is not set",
                                k.name
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks every rule, returning the first that fails.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=600_000).contains(&self.request_timeout_ms) {
            return Err(ConfigError::Invalid {
                key: "request_timeout_ms",
                message: format!(
                    "must be between 1 and 600000, got {}",
                    self.request_timeout_ms
                ),
            });
        }
        if !(1_024..=(1 << 30)).contains(&self.body_limit_bytes) {
            return Err(ConfigError::Invalid {
                key: "body_limit_bytes",
                message: format!(
                    "must be between 1024 and 1073741824, got {}",
                    self.body_limit_bytes
                ),
            });
        }
        if !(1..=100_000).contains(&self.max_k) {
            return Err(ConfigError::Invalid {
                key: "max_k",
                message: format!("must be between 1 and 100000, got {}", self.max_k),
            });
        }
        if self.default_k == 0 || self.default_k > self.max_k {
            return Err(ConfigError::Invalid {
                key: "default_k",
                message: format!(
                    "must be between 1 and max_k ({}), got {}",
                    self.max_k, self.default_k
                ),
            });
        }
        if !(1..=100_000).contains(&self.max_batch_events) {
            return Err(ConfigError::Invalid {
                key: "max_batch_events",
                message: format!(
                    "must be between 1 and 100000, got {}",
                    self.max_batch_events
                ),
            });
        }
        if !(1..=10_000).contains(&self.live_recent_items) {
            return Err(ConfigError::Invalid {
                key: "live_recent_items",
                message: format!(
                    "must be between 1 and 10000, got {}",
                    self.live_recent_items
                ),
            });
        }
        if !(0.0..=10.0).contains(&self.live_intent_weight) {
            return Err(ConfigError::Invalid {
                key: "live_intent_weight",
                message: format!("must be between 0 and 10, got {}", self.live_intent_weight),
            });
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "data_dir",
                message: "must not be empty".into(),
            });
        }
        let mut seen = std::collections::HashSet::new();
        for k in &self.api_keys {
            let bad = |message: String| ConfigError::Invalid {
                key: "api_keys",
                message: format!("key {:?}: {message}", k.name),
            };
            let key = k
                .key
                .as_deref()
                .ok_or_else(|| bad("needs `key` or `key_env`".into()))?;
            if key.len() < 16 || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad(
                    "the key must be at least 16 characters without white space".into(),
                ));
            }
            if k.scopes.is_empty() {
                return Err(bad("needs at least one scope (ingest, read, admin)".into()));
            }
            if !seen.insert(key) {
                return Err(bad("the same key is configured twice".into()));
            }
        }
        if self.models_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "models_dir",
                message: "must not be empty".into(),
            });
        }
        self.landing.check()?;
        Ok(())
    }

    /// The request timeout as a [`Duration`].
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn sample_config_parses_and_equals_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("kindred.toml.sample");
        let text = std::fs::read_to_string(&path).unwrap();
        // Every setting is shown commented out at its default (except the `[landing]`
        // section at the end, a live sample page and campaigns: see `crate::landing::config`) ...
        let without_landing = |c: Config| Config {
            landing: crate::landing::LandingConfig::default(),
            ..c
        };
        let sample = Config::from_toml(&text, &path).unwrap();
        sample.validate().unwrap();
        assert_ne!(sample.landing, crate::landing::LandingConfig::default());
        assert_eq!(without_landing(sample), Config::default());
        // ... and uncommenting them gives a valid configuration equal to the defaults.
        let uncommented: String = text
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|r| r.contains(" = "))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert_ne!(uncommented, text);
        let c = Config::from_toml(&uncommented, &path).unwrap();
        c.validate().unwrap();
        assert_eq!(without_landing(c), Config::default());
    }

    #[test]
    fn env_overrides_the_file_and_is_validated() {
        let c =
            Config::from_toml("max_k = 50\naddr = \"0.0.0.0:9000\"", Path::new("x.toml")).unwrap();
        assert_eq!(c.max_k, 50);
        assert_eq!(c.addr.port(), 9000);
        let mut c2 = c.clone();
        c2.apply_env(|v| (v == "KINDRED_MAX_K").then(|| "70".to_owned()))
            .unwrap();
        assert_eq!(c2.max_k, 70);
        let err = c2
            .clone()
            .apply_env(|v| (v == "KINDRED_ADDR").then(|| "nowhere".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment variable KINDRED_ADDR=\"nowhere\""),
            "{err}"
        );
        let mut bad = Config::default();
        bad.apply_env(|v| (v == "KINDRED_DEFAULT_K").then(|| "2000".to_owned()))
            .unwrap();
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "configuration key default_k: must be between 1 and max_k (1000), got 2000"
        );
        assert_eq!(Config::load(None, no_env).unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::from_toml("max_kk = 5", Path::new("k.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("k.toml:") && err.contains("max_kk"),
            "{err}"
        );
    }
}
