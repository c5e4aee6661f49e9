//! Typed configuration, layered: defaults → optional TOML file → `ATTEST_*` environment
//! → command-line flags (SPEC §9). Bad values stop start-up with a message that names
//! the setting. Secrets are wrapped so they never print.

use app::state::Environment;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// A setting that could not be used; `Display` names it the way the operator set it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

fn bad(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { setting: setting.to_string(), message: message.into() }
}

/// The optional TOML file; every key is optional, unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub addr: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub env: Option<String>,
    pub database_url: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub mfa_required: Option<bool>,
    pub site_root: Option<PathBuf>,
    pub master_key: Option<String>,
    pub public_url: Option<String>,
    pub lockout_threshold: Option<i64>,
    pub lockout_minutes: Option<i64>,
    pub webhook_timeout_secs: Option<u64>,
    pub webhook_retry_schedule: Option<String>,
    pub workers: Option<bool>,
    pub models_dir: Option<PathBuf>,
    pub job_lease_secs: Option<u64>,
    pub session_idle_minutes: Option<i64>,
    pub trusted_proxies: Option<String>,
    pub metrics_token: Option<String>,
    pub ip_throttle_failures: Option<i64>,
    pub ip_slowdown_secs: Option<i64>,
    pub sandbox_mailbox: Option<bool>,
    pub blob_store: Option<String>,
}

/// What the flags said (already merged with their `ATTEST_*` variables by clap).
#[derive(Debug, Default, Clone)]
pub struct FlagConfig {
    pub config_file: Option<PathBuf>,
    pub addr: Option<String>,
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub environment: Environment,
    pub database_url: SecretString,
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
    pub mfa_required: bool,
    /// Where the built dashboard assets live (`target/site` after `xtask build`).
    pub site_root: PathBuf,
    /// Base64 of 32 bytes; wraps every document's file key. Generated into the data
    /// directory in sandbox when not given; required in production.
    pub master_key: Option<SecretString>,
    /// Base of links in emails (invitations).
    pub public_url: String,
    pub lockout: app::auth::lockout::LockoutPolicy,
    pub webhook_timeout: std::time::Duration,
    /// Delay before each webhook attempt (the first is normally 0).
    pub webhook_retry_schedule: Vec<std::time::Duration>,
    /// `attest serve` runs job workers too (default).
    pub in_process_workers: bool,
    /// The extraction models (`scripts/models` installs them): `ocrb.traineddata`,
    /// `face/*.dat`. Default: `~/.cache/attest/models`, where `scripts/models` puts them.
    pub models_dir: PathBuf,
    /// How long a worker holds a job before another may take it over.
    pub job_lease: std::time::Duration,
    /// A signed-in session ends after this much inactivity (it slides with use).
    pub session_idle: std::time::Duration,
    /// Load balancers whose `X-Forwarded-For` is believed (`ATTEST_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Bearer credential for `/metrics` (`ATTEST_METRICS_TOKEN`); without it `/metrics`
    /// answers loopback clients only, and nobody in production.
    pub metrics_token: Option<SecretString>,
    /// `ATTEST_SANDBOX_MAILBOX`: `Some(true)` offers the sandbox mailbox page even on a
    /// non-loopback address or with SMTP configured, `Some(false)` never; `None`: see
    /// [`Config::sandbox_mailbox_enabled`].
    pub sandbox_mailbox: Option<bool>,
    /// Where document files live (`ATTEST_BLOB_STORE`).
    pub blob_store: BlobStoreSetting,
}

/// `ATTEST_BLOB_STORE`: `fs` (default: `<data-dir>/documents`) or `s3://bucket[/prefix]`
/// with the standard `AWS_*` variables.
#[derive(Debug, Clone)]
pub enum BlobStoreSetting {
    Fs,
    S3(app::documents::s3::S3Settings),
}

impl BlobStoreSetting {
    /// Parses `fs` or `s3://bucket[/prefix]`; the `AWS_*` entries of `env` go with S3.
    pub fn parse(text: &str, env: &HashMap<String, String>) -> Result<BlobStoreSetting, ConfigError> {
        if text == "fs" {
            return Ok(BlobStoreSetting::Fs);
        }
        let mut aws: Vec<(String, String)> = env.iter().filter(|(k, v)| k.starts_with("AWS_") && !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect();
        aws.sort();
        app::documents::s3::S3Settings::parse(text, aws).map(BlobStoreSetting::S3).map_err(|e| bad("ATTEST_BLOB_STORE", e))
    }
}

/// `$XDG_CACHE_HOME/attest/models`, else `$HOME/.cache/attest/models` (where
/// `scripts/models` puts them), else `./models`.
fn default_models_dir(env: &HashMap<String, String>) -> PathBuf {
    let cache = env
        .get("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")));
    cache.map(|c| c.join("attest/models")).unwrap_or_else(|| PathBuf::from("models"))
}

impl Config {
    /// Loads the configuration from the process environment and `flags`.
    pub fn load(flags: &FlagConfig) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Config::from_sources(flags, &env)
    }

    /// The layering itself, over an explicit environment (tests pass their own).
    pub fn from_sources(flags: &FlagConfig, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let file = match &flags.config_file {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let var = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();

        let addr_text = flags.addr.clone().or(file.addr).unwrap_or_else(|| "127.0.0.1:8080".into());
        let addr: SocketAddr =
            addr_text.parse().map_err(|_| bad("ATTEST_ADDR (--addr)", format!("'{addr_text}' is not a socket address like 127.0.0.1:8080")))?;

        let data_dir = flags.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("./data"));
        if data_dir.as_os_str().is_empty() {
            return Err(bad("ATTEST_DATA_DIR (--data-dir)", "must not be empty"));
        }

        let environment: Environment = var("ATTEST_ENV").or(file.env).unwrap_or_else(|| "sandbox".into()).parse().map_err(|e: String| bad("ATTEST_ENV", e))?;

        let database_url = match var("DATABASE_URL").or(file.database_url) {
            Some(url) if url.starts_with("sqlite:") || url.starts_with("postgres:") || url.starts_with("postgresql:") => url,
            Some(_) => return Err(bad("DATABASE_URL", "must start with sqlite: or postgres:")),
            None => format!("sqlite://{}?mode=rwc", data_dir.join("attest.db").display()),
        };

        let smtp_url = var("ATTEST_SMTP_URL").or(file.smtp_url);
        if let Some(url) = &smtp_url {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(bad("ATTEST_SMTP_URL", "must look like smtp://user:pass@host:port or smtps://…"));
            }
            if environment.is_production() && !app::mail::requires_tls(url) {
                return Err(bad(
                    "ATTEST_SMTP_URL",
                    "production sends sign-in codes and SMTP credentials only over TLS: use smtps://user:pass@host:465 or smtp://user:pass@host:587?tls=required (STARTTLS)",
                ));
            }
        } else if environment.is_production() {
            return Err(bad("ATTEST_SMTP_URL", "production requires a real SMTP server for sign-in codes"));
        }

        let mail_from = var("ATTEST_MAIL_FROM").or(file.mail_from).unwrap_or_else(|| "Attest <no-reply@attest.invalid>".into());
        if !mail_from.contains('@') {
            return Err(bad("ATTEST_MAIL_FROM", format!("'{mail_from}' is not an email address")));
        }

        let mfa_required = match var("ATTEST_MFA_REQUIRED") {
            Some(v) => parse_bool(&v).ok_or_else(|| bad("ATTEST_MFA_REQUIRED", format!("'{v}' is not true or false")))?,
            None => file.mfa_required.unwrap_or(true),
        };
        if environment.is_production() && !mfa_required {
            return Err(bad("ATTEST_MFA_REQUIRED", "MFA cannot be turned off in production"));
        }

        let site_root = var("ATTEST_SITE_ROOT").map(PathBuf::from).or(file.site_root).unwrap_or_else(|| PathBuf::from("target/site"));

        let master_key = var("ATTEST_MASTER_KEY").or(file.master_key);
        match &master_key {
            Some(key) => {
                app::documents::crypto::MasterKey::from_base64(key).map_err(|e| bad("ATTEST_MASTER_KEY", e))?;
            }
            None if environment.is_production() => {
                return Err(bad("ATTEST_MASTER_KEY", "production requires a master key for document encryption (base64 of 32 random bytes)"))
            }
            None => {}
        }

        let public_url = var("ATTEST_PUBLIC_URL").or(file.public_url).unwrap_or_else(|| format!("http://{addr}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(bad("ATTEST_PUBLIC_URL", "must start with http:// or https://"));
        }
        let number = |name: &str, file_value: Option<i64>, default: i64, range: std::ops::RangeInclusive<i64>| -> Result<i64, ConfigError> {
            let value = match var(name) {
                Some(v) => v.parse::<i64>().map_err(|_| bad(name, format!("'{v}' is not a whole number")))?,
                None => file_value.unwrap_or(default),
            };
            if range.contains(&value) {
                Ok(value)
            } else {
                Err(bad(name, format!("must be between {} and {}", range.start(), range.end())))
            }
        };
        let lockout = app::auth::lockout::LockoutPolicy {
            max_failures: number("ATTEST_LOCKOUT_THRESHOLD", file.lockout_threshold, 5, 1..=100)?,
            lock_minutes: number("ATTEST_LOCKOUT_MINUTES", file.lockout_minutes, 15, 1..=24 * 60)?,
            ip_max_failures: number("ATTEST_IP_THROTTLE_FAILURES", file.ip_throttle_failures, 50, 1..=100_000)?,
            ip_slow_secs: number("ATTEST_IP_SLOWDOWN_SECS", file.ip_slowdown_secs, 10, 1..=3600)?,
            ..Default::default()
        };
        let session_idle_minutes = number("ATTEST_SESSION_IDLE_MINUTES", file.session_idle_minutes, 30, 1..=12 * 60)?;
        let trusted_proxies = match var("ATTEST_TRUSTED_PROXIES").or(file.trusted_proxies) {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<ipnet::IpNet>().or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| bad("ATTEST_TRUSTED_PROXIES", "must be comma-separated addresses or CIDR blocks, e.g. 10.0.0.0/8,192.0.2.7"))?,
            None => Vec::new(),
        };
        let metrics_token = var("ATTEST_METRICS_TOKEN").or(file.metrics_token).filter(|t| !t.is_empty());
        if metrics_token.as_ref().is_some_and(|t| t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic())) {
            return Err(bad("ATTEST_METRICS_TOKEN", "must be at least 16 visible ASCII characters"));
        }

        let webhook_timeout = match var("ATTEST_WEBHOOK_TIMEOUT_SECS") {
            Some(v) => v.parse::<u64>().ok().filter(|s| (1..=120).contains(s)).ok_or_else(|| bad("ATTEST_WEBHOOK_TIMEOUT_SECS", "must be 1–120 seconds"))?,
            None => file.webhook_timeout_secs.unwrap_or(15),
        };
        let schedule_text = var("ATTEST_WEBHOOK_RETRY_SCHEDULE").or(file.webhook_retry_schedule);
        let webhook_retry_schedule = match schedule_text {
            Some(text) => text
                .split(',')
                .map(|s| s.trim().parse::<f64>().ok().filter(|v| *v >= 0.0 && *v <= 86_400.0).map(std::time::Duration::from_secs_f64))
                .collect::<Option<Vec<_>>>()
                .filter(|v| !v.is_empty() && v.len() <= 20)
                .ok_or_else(|| bad("ATTEST_WEBHOOK_RETRY_SCHEDULE", "must be 1–20 comma-separated delays in seconds, e.g. 0,5,300"))?,
            None => app::webhooks::deliver::DEFAULT_SCHEDULE_SECS.iter().map(|s| std::time::Duration::from_secs(*s)).collect(),
        };

        let in_process_workers = match var("ATTEST_WORKERS") {
            Some(v) => parse_bool(&v).ok_or_else(|| bad("ATTEST_WORKERS", format!("'{v}' is not true or false")))?,
            None => file.workers.unwrap_or(true),
        };

        // The same place scripts/models installs them, so `attest serve` started by hand
        // finds what `scripts/run` installed.
        let models_dir = var("ATTEST_MODELS_DIR").map(PathBuf::from).or(file.models_dir).unwrap_or_else(|| default_models_dir(env));
        let job_lease_secs = match var("ATTEST_JOB_LEASE_SECS") {
            Some(v) => v.parse::<u64>().ok().filter(|s| (1..=3600).contains(s)).ok_or_else(|| bad("ATTEST_JOB_LEASE_SECS", "must be 1–3600 seconds"))?,
            None => file.job_lease_secs.unwrap_or(120),
        };

        let sandbox_mailbox = match var("ATTEST_SANDBOX_MAILBOX") {
            Some(v) => Some(parse_bool(&v).ok_or_else(|| bad("ATTEST_SANDBOX_MAILBOX", format!("'{v}' is not true or false")))?),
            None => file.sandbox_mailbox,
        };
        if sandbox_mailbox == Some(true) && environment.is_production() {
            return Err(bad("ATTEST_SANDBOX_MAILBOX", "the sandbox mailbox shows every sign-in code: it cannot be turned on in production"));
        }
        let blob_store = BlobStoreSetting::parse(&var("ATTEST_BLOB_STORE").or(file.blob_store).unwrap_or_else(|| "fs".into()), env)?;
        Ok(Config {
            blob_store,
            sandbox_mailbox,
            session_idle: std::time::Duration::from_secs(session_idle_minutes as u64 * 60),
            trusted_proxies,
            metrics_token: metrics_token.map(SecretString::from),
            models_dir,
            job_lease: std::time::Duration::from_secs(job_lease_secs),
            in_process_workers,
            webhook_timeout: std::time::Duration::from_secs(webhook_timeout),
            webhook_retry_schedule,
            public_url: public_url.trim_end_matches('/').to_string(),
            lockout,
            master_key: master_key.map(SecretString::from),
            addr,
            data_dir,
            environment,
            database_url: SecretString::from(database_url),
            smtp_url: smtp_url.map(SecretString::from),
            mail_from,
            mfa_required,
            site_root,
        })
    }

    /// Whether `/sandbox/mailbox` is offered: never in production; by default only when
    /// mail goes to the local outbox (no SMTP) and the server listens on loopback, since
    /// whoever reaches the page reads every sign-in code.
    pub fn sandbox_mailbox_enabled(&self) -> bool {
        if self.environment.is_production() {
            return false;
        }
        self.sandbox_mailbox.unwrap_or(self.smtp_url.is_none() && self.addr.ip().is_loopback())
    }

    pub fn database_url(&self) -> &str {
        self.database_url.expose_secret()
    }

    /// The document master key: configured, or (sandbox) read from / generated into
    /// `<data-dir>/master.key`.
    pub fn master_key(&self) -> Result<app::documents::crypto::MasterKey, ConfigError> {
        use app::documents::crypto::MasterKey;
        if let Some(key) = &self.master_key {
            return MasterKey::from_base64(key.expose_secret()).map_err(|e| bad("ATTEST_MASTER_KEY", e));
        }
        let path = self.data_dir.join("master.key");
        let setting = "ATTEST_MASTER_KEY (generated master.key)";
        match std::fs::read_to_string(&path) {
            Ok(text) => MasterKey::from_base64(&text).map_err(|e| bad(setting, format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = MasterKey::generate();
                write_private(&path, key.to_base64().as_bytes()).map_err(|e| bad(setting, format!("cannot write {}: {e}", path.display())))?;
                Ok(key)
            }
            Err(e) => Err(bad(setting, format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Creates the data directory (documents, SQLite file, mail outbox) if missing.
    pub fn ensure_data_dir(&self) -> Result<(), ConfigError> {
        std::fs::create_dir_all(&self.data_dir).map_err(|e| bad("ATTEST_DATA_DIR (--data-dir)", format!("cannot create {}: {e}", self.data_dir.display())))
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| bad("ATTEST_CONFIG (--config)", format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| bad(&format!("{} (config file)", path.display()), e.to_string()))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_the_embedded_sandbox() {
        let config = Config::from_sources(&FlagConfig::default(), &env(&[])).unwrap();
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.environment, Environment::Sandbox);
        assert_eq!(config.database_url(), "sqlite://./data/attest.db?mode=rwc");
        assert!(config.mfa_required);
    }

    #[test]
    fn flags_beat_the_file_and_env_beats_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attest.toml");
        std::fs::write(&path, "addr = \"127.0.0.1:9000\"\nenv = \"production\"\nmfa_required = true\n").unwrap();
        let flags = FlagConfig { config_file: Some(path.clone()), addr: Some("127.0.0.1:9100".into()), data_dir: None };
        let config = Config::from_sources(&flags, &env(&[("ATTEST_ENV", "sandbox")])).unwrap();
        assert_eq!(config.addr.port(), 9100);
        assert_eq!(config.environment, Environment::Sandbox);

        let flags = FlagConfig { config_file: Some(path), ..FlagConfig::default() };
        let key = app::documents::crypto::MasterKey::generate().to_base64();
        let config = Config::from_sources(&flags, &env(&[("ATTEST_SMTP_URL", "smtp://mail:587?tls=required"), ("ATTEST_MASTER_KEY", &key)])).unwrap();
        assert_eq!(config.addr.port(), 9000);
        assert_eq!(config.environment, Environment::Production);
    }

    #[test]
    fn bad_values_name_their_setting() {
        // (flags, environment, the setting the error must name)
        type Case<'a> = (FlagConfig, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (FlagConfig { addr: Some("nowhere".into()), ..Default::default() }, &[], "ATTEST_ADDR"),
            (FlagConfig::default(), &[("ATTEST_ENV", "staging")], "ATTEST_ENV"),
            (FlagConfig::default(), &[("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
            (FlagConfig::default(), &[("ATTEST_MFA_REQUIRED", "maybe")], "ATTEST_MFA_REQUIRED"),
            (FlagConfig::default(), &[("ATTEST_ENV", "production")], "ATTEST_SMTP_URL"),
            (
                FlagConfig::default(),
                &[("ATTEST_ENV", "production"), ("ATTEST_SMTP_URL", "smtps://m:465"), ("ATTEST_MFA_REQUIRED", "false")],
                "ATTEST_MFA_REQUIRED",
            ),
            (FlagConfig::default(), &[("ATTEST_SMTP_URL", "http://mail")], "ATTEST_SMTP_URL"),
            (FlagConfig::default(), &[("ATTEST_MASTER_KEY", "c2hvcnQ=")], "ATTEST_MASTER_KEY"),
            (FlagConfig::default(), &[("ATTEST_BLOB_STORE", "gs://documents")], "ATTEST_BLOB_STORE"),
            (FlagConfig::default(), &[("ATTEST_BLOB_STORE", "s3://Not_A_Bucket")], "ATTEST_BLOB_STORE"),
            (FlagConfig::default(), &[("ATTEST_LOCKOUT_THRESHOLD", "zero")], "ATTEST_LOCKOUT_THRESHOLD"),
            (FlagConfig::default(), &[("ATTEST_LOCKOUT_MINUTES", "0")], "ATTEST_LOCKOUT_MINUTES"),
            (FlagConfig::default(), &[("ATTEST_PUBLIC_URL", "attest.example.com")], "ATTEST_PUBLIC_URL"),
            (FlagConfig::default(), &[("ATTEST_ENV", "production"), ("ATTEST_SMTP_URL", "smtp://m:587?tls=required")], "ATTEST_MASTER_KEY"),
        ];
        for (flags, vars, setting) in cases {
            let err = Config::from_sources(flags, &env(vars)).unwrap_err();
            assert!(err.to_string().contains(setting), "{err} should name {setting}");
        }
    }

    #[test]
    fn production_refuses_clear_text_smtp() {
        let key = app::documents::crypto::MasterKey::generate().to_base64();
        for url in [
            "smtp://user:pass@mail.example.com:25",
            "smtp://mail.example.com:587?tls=opportunistic",
            "smtp://mail.example.com?tls=none",
            "smtp://mail.example.com?tls=required&tls=none",
            "smtp://127.0.0.1:25",
        ] {
            let err =
                Config::from_sources(&FlagConfig::default(), &env(&[("ATTEST_ENV", "production"), ("ATTEST_SMTP_URL", url), ("ATTEST_MASTER_KEY", &key)]))
                    .unwrap_err();
            assert!(err.to_string().contains("ATTEST_SMTP_URL") && err.to_string().contains("TLS"), "{url}: {err}");
        }
        for url in ["smtps://user:pass@mail.example.com:465", "smtp://user:pass@mail.example.com:587?tls=required"] {
            let config =
                Config::from_sources(&FlagConfig::default(), &env(&[("ATTEST_ENV", "production"), ("ATTEST_SMTP_URL", url), ("ATTEST_MASTER_KEY", &key)]));
            assert!(config.is_ok(), "{url}: {config:?}");
        }
        // Sandbox may still use a plain local sink.
        assert!(Config::from_sources(&FlagConfig::default(), &env(&[("ATTEST_SMTP_URL", "smtp://127.0.0.1:1025")])).is_ok());
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attest.toml");
        std::fs::write(&path, "adress = \"127.0.0.1:9000\"\n").unwrap();
        let flags = FlagConfig { config_file: Some(path), ..Default::default() };
        let err = Config::from_sources(&flags, &env(&[])).unwrap_err();
        assert!(err.to_string().contains("adress"), "{err}");
    }

    #[test]
    fn secrets_do_not_print() {
        let config = Config::from_sources(&FlagConfig::default(), &env(&[("DATABASE_URL", "postgres://attest:hunter2@db/attest")])).unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
