//! The YAML configuration: types, defaults, validation, and the redacted view printed by
//! `--check-config`.
//!
//! The file is read into raw types that keep the position of each value (`Spanned`), then
//! validated in one pass, so every error names the key and its line and column.

mod duration;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use serde_saphyr::{Location, Spanned};

use crate::cloud::literal;
pub use crate::cloud::{Cloud, Credentials};
use crate::credentials::sts::AssumeRole;
use crate::credentials::{self, Origin, Source};
use crate::files;
use crate::providers::{self, Provider};
use crate::secret::Secret;

pub use duration::{format as format_duration, parse as parse_duration};

/// Where the config is read from when `--config.file` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "cloud-task-exporter.yaml";

/// Histogram buckets of `cloud_task_duration_seconds` unless configured: 10 s to a day.
pub const DEFAULT_BUCKETS: [f64; 12] = [
    10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0,
];

/// The lookback window: at least a minute, at most a year (no task API keeps more, and
/// dates must stay far from the ends of the calendar).
pub const LOOKBACK_RANGE: (Duration, Duration) = (
    Duration::from_secs(60),
    Duration::from_secs(365 * 24 * 3600),
);
/// The configured scrape timeout; the same maximum bounds Prometheus's header.
pub const SCRAPE_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(600));
pub const MIN_INTERVAL_RANGE: (Duration, Duration) =
    (Duration::ZERO, Duration::from_secs(24 * 3600));
/// Requests per second: from one every 1,000 s to far beyond any provider's limit.
pub const RATE_LIMIT_RANGE: std::ops::RangeInclusive<f64> = 0.001..=100_000.0;
/// Each bucket is a series per instance, task type and status.
pub const MAX_BUCKETS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read config file: {source}")]
    Read {
        path: PathBuf,
        source: crate::files::FileError,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The validated configuration. It is built only by [`Config::load`] and [`Config::parse`], so
/// a `Config` that exists is valid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub global: Global,
    pub accounts: Vec<Account>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = files::read_text(path, files::MAX_CONFIG_BYTES).map_err(|source| {
            ConfigError::Read {
                path: path.to_owned(),
                source,
            }
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses and validates config text. The error names the key and says where (`at line L,
    /// column C`), on one line.
    pub fn parse(text: &str) -> Result<Config, String> {
        let raw: RawConfig =
            serde_saphyr::from_str(text).map_err(|e| e.without_snippet().to_string())?;
        raw.validate().map_err(|e| e.to_string())
    }

    /// The effective config as YAML, defaults filled in and every secret redacted.
    pub fn to_redacted_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_else(|e| format!("# cannot print config: {e}\n"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Global {
    /// Tasks that started within this window are reported.
    #[serde(serialize_with = "serialize_duration")]
    pub lookback: Duration,
    /// The scrape deadline when Prometheus sends no `X-Prometheus-Scrape-Timeout-Seconds`.
    #[serde(serialize_with = "serialize_duration")]
    pub scrape_timeout: Duration,
    /// A sweep younger than this is reused.
    #[serde(serialize_with = "serialize_duration")]
    pub min_interval: Duration,
    pub histogram_buckets: Vec<f64>,
    pub labels: LabelOptions,
    pub series: SeriesBudget,
}

/// `global.series`: how many series the exporter may show, for users who pay per series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesBudget {
    /// At most this many per-task series (`cloud_task_progress_ratio` and
    /// `cloud_task_start_timestamp_seconds` of unfinished tasks) per target.
    #[serde(default = "default_per_target")]
    pub per_target: u64,
    /// And at most this many over all targets.
    #[serde(default = "default_total")]
    pub total: u64,
    /// `false` leaves out the `cloud_task_tasks` series whose value is 0.
    #[serde(default = "yes")]
    pub zero_statuses: bool,
}

fn default_per_target() -> u64 {
    10_000
}

fn default_total() -> u64 {
    100_000
}

impl Default for SeriesBudget {
    fn default() -> Self {
        SeriesBudget {
            per_target: default_per_target(),
            total: default_total(),
            zero_statuses: true,
        }
    }
}

impl Default for Global {
    fn default() -> Self {
        Global {
            lookback: Duration::from_secs(24 * 3600),
            scrape_timeout: Duration::from_secs(20),
            min_interval: Duration::from_secs(10),
            histogram_buckets: DEFAULT_BUCKETS.to_vec(),
            labels: LabelOptions::default(),
            series: SeriesBudget::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelOptions {
    /// `false` drops `instance_id` from the duration histogram, whose cardinality is
    /// instances x task types x statuses x buckets.
    #[serde(default = "yes")]
    pub instance_id: bool,
}

impl Default for LabelOptions {
    fn default() -> Self {
        LabelOptions { instance_id: true }
    }
}

fn yes() -> bool {
    true
}

/// One cloud account: its credentials and the task APIs and regions to watch with them.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The `account` label.
    pub name: String,
    pub provider: Cloud,
    /// Where the credentials come from (`credentials.source`, `assume_role`).
    pub source: Origin,
    /// The keys of a static or environment source; for a temporary source, the settings that
    /// go with the keys it issues (Huawei's projects), with the keys themselves empty.
    pub credentials: Credentials,
    pub targets: Vec<Target>,
}

impl Serialize for Account {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut account = serializer.serialize_struct("Account", 4)?;
        account.serialize_field("name", &self.name)?;
        account.serialize_field("provider", &self.provider)?;
        account.serialize_field(
            "credentials",
            &CredentialsView {
                source: &self.source,
                credentials: &self.credentials,
            },
        )?;
        account.serialize_field("targets", &self.targets)?;
        account.end()
    }
}

/// An account's `credentials` as the config spells them: the keys of a static source (secrets
/// redacted), else the source with its settings and never the keys it gives.
struct CredentialsView<'a> {
    source: &'a Origin,
    credentials: &'a Credentials,
}

impl Serialize for CredentialsView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if !self.source.is_temporary() && self.source.source == Source::Static {
            return self.credentials.serialize(serializer);
        }
        let mut map = serializer.serialize_map(None)?;
        if self.source.source != Source::Static {
            map.serialize_entry("source", self.source.source.name())?;
        }
        match &self.source.source {
            Source::InstanceRole {
                role_name,
                metadata_endpoint,
            } => {
                if let Some(role) = role_name {
                    map.serialize_entry("role_name", role)?;
                }
                map.serialize_entry("metadata_endpoint", &literal(metadata_endpoint))?;
            }
            Source::WebIdentity {
                provider_id,
                role_arn,
                token_file,
            } => {
                for (name, value) in [
                    ("provider_id", provider_id),
                    ("role_arn", role_arn),
                    ("token_file", token_file),
                ] {
                    if let Some(value) = value {
                        map.serialize_entry(name, &literal(value))?;
                    }
                }
            }
            Source::Static => {
                // Static keys under an assumed role: the keys, secrets redacted.
                let keys =
                    serde_json::to_value(self.credentials).map_err(serde::ser::Error::custom)?;
                if let serde_json::Value::Object(keys) = keys {
                    for (name, value) in keys {
                        map.serialize_entry(&name, &value)?;
                    }
                }
            }
            Source::Environment => {}
        }
        if let Some(role) = &self.source.assume_role {
            map.serialize_entry(
                "assume_role",
                &BTreeMap::from([
                    ("role_arn", literal(&role.role_arn)),
                    ("session_name", role.session_name.clone()),
                    ("duration", duration::format(role.duration)),
                ]),
            )?;
        }
        if let Some(endpoint) = &self.source.sts_endpoint {
            map.serialize_entry("sts_endpoint", &literal(endpoint))?;
        }
        if let Credentials::Huawei {
            project_id,
            project_ids,
            ..
        } = self.credentials
        {
            if let Some(id) = project_id {
                map.serialize_entry("project_id", &literal(id))?;
            }
            if !project_ids.is_empty() {
                let ids: BTreeMap<&String, String> =
                    project_ids.iter().map(|(r, id)| (r, literal(id))).collect();
                map.serialize_entry("project_ids", &ids)?;
            }
        }
        map.end()
    }
}

/// One task API (`kind`) of an account, swept in each of its regions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub kind: Kind,
    pub regions: Vec<String>,
    /// Overrides the provider's endpoint; `{region}` is replaced by the region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Requests per second for this account and API, shared by all its regions.
    pub rate_limit: f64,
    /// Only these database instances (all when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_ids: Vec<String>,
    /// Only these task types (all when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub task_types: Vec<String>,
}

/// A provider kind from the registry (`tencent_postgres`, ...).
#[derive(Clone, Copy)]
pub struct Kind(&'static dyn Provider);

impl Kind {
    pub fn provider(self) -> &'static dyn Provider {
        self.0
    }

    pub fn name(self) -> &'static str {
        self.0.kind()
    }
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A validation error: where, which key, what is wrong.
#[derive(Debug)]
pub(crate) struct Invalid {
    at: Location,
    key: String,
    message: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} at line {}, column {}",
            self.key,
            self.message,
            self.at.line(),
            self.at.column()
        )
    }
}

pub(crate) fn invalid<T>(
    value: &Spanned<T>,
    key: impl Into<String>,
    message: impl Into<String>,
) -> Invalid {
    invalid_at(value.referenced, key, message)
}

pub(crate) fn invalid_at(
    at: Location,
    key: impl Into<String>,
    message: impl Into<String>,
) -> Invalid {
    Invalid {
        at,
        key: key.into(),
        message: message.into(),
    }
}

// The raw file, as written. `Spanned` keeps the position of every value that validation may
// reject, so the error points at it.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: RawGlobal,
    accounts: Spanned<Vec<RawAccount>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGlobal {
    lookback: Option<Spanned<String>>,
    scrape_timeout: Option<Spanned<String>>,
    min_interval: Option<Spanned<String>>,
    histogram_buckets: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    labels: LabelOptions,
    #[serde(default)]
    series: SeriesBudget,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    name: Spanned<String>,
    provider: Cloud,
    credentials: Spanned<RawCredentials>,
    targets: Spanned<Vec<RawTarget>>,
}

/// Every credential key of every provider; which ones apply is checked against `provider`.
/// Each value may use `${VAR}`; each secret may come from a `*_file` instead.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    secret_id: Option<Spanned<String>>,
    secret_id_file: Option<Spanned<String>>,
    secret_key: Option<Spanned<String>>,
    secret_key_file: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
    token_file: Option<Spanned<String>>,
    access_key: Option<Spanned<String>>,
    access_key_file: Option<Spanned<String>>,
    project_id: Option<Spanned<String>>,
    project_ids: Option<Spanned<BTreeMap<String, String>>>,
    access_key_id: Option<Spanned<String>>,
    access_key_id_file: Option<Spanned<String>>,
    access_key_secret: Option<Spanned<String>>,
    access_key_secret_file: Option<Spanned<String>>,
    security_token: Option<Spanned<String>>,
    security_token_file: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    role_name: Option<Spanned<String>>,
    metadata_endpoint: Option<Spanned<String>>,
    provider_id: Option<Spanned<String>>,
    role_arn: Option<Spanned<String>>,
    assume_role: Option<Spanned<RawAssumeRole>>,
    sts_endpoint: Option<Spanned<String>>,
}

/// `credentials.assume_role`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssumeRole {
    role_arn: Spanned<String>,
    session_name: Option<Spanned<String>>,
    duration: Option<Spanned<String>>,
}

impl RawAssumeRole {
    /// The role, checked by `provider`'s STS rules (tencentcloud-sdk-python-sts
    /// `AssumeRoleRequest`: session 2-128 of `[\w+=,.@_-]`, at most 43200 s, default 7200;
    /// alibabacloud-sts20150401 `AssumeRoleRequest`: session 2-64 of letters, digits and
    /// `.@-_`, 900 to 43200 s, default 3600).
    fn validate(self, provider: Cloud, key: &str) -> Result<AssumeRole, Invalid> {
        let key = format!("{key}.assume_role");
        // Tencent documents no minimum; 15 minutes, Alibaba's, keeps refreshes sparse.
        let (max_session, extra, default, min) = match provider {
            Cloud::Tencent => (128, "+=,", 7200, 900),
            Cloud::Alibaba => (64, "", 3600, 900),
            Cloud::Huawei => {
                return Err(invalid(
                    &self.role_arn,
                    key,
                    "is not available for provider huawei (use source: instance_role for an ECS agency)",
                ));
            }
        };
        let role_arn = expand_env(&self.role_arn.value)
            .map_err(|e| invalid(&self.role_arn, format!("{key}.role_arn"), e))?;
        if role_arn.is_empty() || role_arn.len() > 1024 {
            return Err(invalid(
                &self.role_arn,
                format!("{key}.role_arn"),
                "must be a role ARN of 1 to 1024 characters",
            ));
        }
        let session_name = match self.session_name {
            None => "cloud-task-exporter".to_owned(),
            Some(name) => {
                let ok = (2..=max_session).contains(&name.value.len())
                    && name.value.chars().all(|c| {
                        c.is_ascii_alphanumeric() || "._@-".contains(c) || extra.contains(c)
                    });
                if !ok {
                    return Err(invalid(
                        &name,
                        format!("{key}.session_name"),
                        format!(
                            "must be 2 to {max_session} letters, digits and .@-_{extra} for provider {provider}"
                        ),
                    ));
                }
                name.value
            }
        };
        let duration = match self.duration {
            None => Duration::from_secs(default),
            Some(text) => {
                let value = duration::parse(&text.value)
                    .map_err(|e| invalid(&text, format!("{key}.duration"), e))?;
                if value.subsec_nanos() != 0 || !(min..=43_200).contains(&value.as_secs()) {
                    return Err(invalid(
                        &text,
                        format!("{key}.duration"),
                        format!(
                            "must be whole seconds from {} to 12h for provider {provider}",
                            duration::format(Duration::from_secs(min))
                        ),
                    ));
                }
                value
            }
        };
        Ok(AssumeRole {
            role_arn,
            session_name,
            duration,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    kind: Spanned<String>,
    regions: Spanned<Vec<String>>,
    endpoint: Option<Spanned<String>>,
    rate_limit: Option<Spanned<f64>>,
    #[serde(default)]
    instance_ids: Vec<String>,
    #[serde(default)]
    task_types: Vec<String>,
}

impl RawConfig {
    fn validate(self) -> Result<Config, Invalid> {
        let global = self.global.validate()?;
        if self.accounts.value.is_empty() {
            return Err(invalid(
                &self.accounts,
                "accounts",
                "at least one account is required",
            ));
        }
        let mut names = std::collections::HashSet::new();
        let mut accounts = Vec::with_capacity(self.accounts.value.len());
        for (index, raw) in self.accounts.value.into_iter().enumerate() {
            let key = format!("accounts[{index}]");
            if !names.insert(raw.name.value.clone()) {
                return Err(invalid(
                    &raw.name,
                    format!("{key}.name"),
                    format!(
                        "account name {:?} is used twice; it becomes the `account` label and must be unique",
                        raw.name.value
                    ),
                ));
            }
            accounts.push(raw.validate(&key, global.lookback)?);
        }
        Ok(Config { global, accounts })
    }
}

impl RawGlobal {
    fn validate(self) -> Result<Global, Invalid> {
        let defaults = Global::default();
        let duration = |value: Option<Spanned<String>>,
                        key: &str,
                        default: Duration,
                        (min, max): (Duration, Duration)| {
            let Some(value) = value else {
                return Ok(default);
            };
            let parsed = duration::parse(&value.value)
                .map_err(|e| invalid(&value, format!("global.{key}"), e))?;
            if parsed < min || parsed > max {
                return Err(invalid(
                    &value,
                    format!("global.{key}"),
                    format!(
                        "must be at least {} and at most {}",
                        duration::format(min),
                        duration::format(max)
                    ),
                ));
            }
            Ok(parsed)
        };
        let histogram_buckets = match self.histogram_buckets {
            None => defaults.histogram_buckets,
            Some(buckets) => {
                let b = &buckets.value;
                if b.len() > MAX_BUCKETS {
                    return Err(invalid(
                        &buckets,
                        "global.histogram_buckets",
                        format!("has {} buckets; at most {MAX_BUCKETS} are allowed", b.len()),
                    ));
                }
                if b.is_empty()
                    || b.iter().any(|x| !x.is_finite() || *x <= 0.0)
                    || b.windows(2).any(|w| matches!(w, [a, b] if a >= b))
                {
                    return Err(invalid(
                        &buckets,
                        "global.histogram_buckets",
                        format!("{b:?} must be positive finite seconds in increasing order"),
                    ));
                }
                buckets.value
            }
        };
        Ok(Global {
            lookback: duration(self.lookback, "lookback", defaults.lookback, LOOKBACK_RANGE)?,
            scrape_timeout: duration(
                self.scrape_timeout,
                "scrape_timeout",
                defaults.scrape_timeout,
                SCRAPE_TIMEOUT_RANGE,
            )?,
            min_interval: duration(
                self.min_interval,
                "min_interval",
                defaults.min_interval,
                MIN_INTERVAL_RANGE,
            )?,
            histogram_buckets,
            labels: self.labels,
            series: self.series,
        })
    }
}

impl RawAccount {
    fn validate(self, key: &str, lookback: Duration) -> Result<Account, Invalid> {
        if self.name.value.trim().is_empty() {
            return Err(invalid(
                &self.name,
                format!("{key}.name"),
                "must not be empty",
            ));
        }
        let (source, credentials) = self.credentials.value.resolve(
            self.provider,
            self.credentials.referenced,
            &format!("{key}.credentials"),
        )?;
        if self.targets.value.is_empty() {
            return Err(invalid(
                &self.targets,
                format!("{key}.targets"),
                "at least one target is required",
            ));
        }
        // A target is (account, kind, region): the same twice would be one series for two
        // sweeps.
        let mut taken: std::collections::HashMap<(String, String), usize> =
            std::collections::HashMap::new();
        let targets = self
            .targets
            .value
            .into_iter()
            .enumerate()
            .map(|(index, target)| {
                let key = format!("{key}.targets[{index}]");
                for region in &target.regions.value {
                    if let Some(first) =
                        taken.insert((target.kind.value.clone(), region.clone()), index)
                        && first != index
                    {
                        return Err(invalid(
                            &target.regions,
                            format!("{key}.regions"),
                            format!(
                                "{region} of {} is already watched by targets[{first}] of this account; merge the two (their instance_ids and task_types filters too)",
                                target.kind.value
                            ),
                        ));
                    }
                }
                if let Credentials::Huawei {
                    project_id: None,
                    project_ids,
                    ..
                } = &credentials
                {
                    let missing = target.regions.value.iter().find(|r| !project_ids.contains_key(*r));
                    if let Some(region) = missing {
                        return Err(invalid(
                            &target.regions,
                            format!("{key}.regions"),
                            format!(
                                "{region} has no project: add it to credentials.project_ids, or set credentials.project_id"
                            ),
                        ));
                    }
                }
                target.validate(self.provider, &key, lookback)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Account {
            name: self.name.value,
            provider: self.provider,
            source,
            credentials,
            targets,
        })
    }
}

/// A credential of `credentials`, given inline or as `<name>_file`.
struct CredentialField<'a> {
    parent: &'a str,
    name: &'a str,
    value: Option<Spanned<String>>,
    file: Option<Spanned<String>>,
}

impl CredentialField<'_> {
    fn key(&self) -> String {
        format!("{}.{}", self.parent, self.name)
    }

    fn is_set(&self) -> bool {
        self.value.is_some() || self.file.is_some()
    }

    /// The value, with `${VAR}` expanded, or the contents of the file (a trailing newline
    /// dropped).
    fn resolve(self) -> Result<Option<String>, Invalid> {
        match (self.value.as_ref(), self.file.as_ref()) {
            (Some(_), Some(file)) => Err(invalid(
                file,
                format!("{}_file", self.key()),
                format!("set either {0} or {0}_file, not both", self.name),
            )),
            (Some(value), None) => {
                let expanded =
                    expand_env(&value.value).map_err(|e| invalid(value, self.key(), e))?;
                if expanded.is_empty() {
                    return Err(invalid(value, self.key(), "is empty"));
                }
                Ok(Some(expanded))
            }
            (None, Some(file)) => {
                let key = format!("{}_file", self.key());
                let path = expand_env(&file.value).map_err(|e| invalid(file, &key, e))?;
                let contents = files::read_text(Path::new(&path), files::MAX_SECRET_BYTES)
                    .map_err(|e| invalid(file, &key, format!("cannot read {path}: {e}")))?;
                warn_if_world_readable(&path, &key);
                let secret = contents.trim_end_matches(['\r', '\n']).to_owned();
                if secret.is_empty() {
                    return Err(invalid(file, &key, format!("{path} is empty")));
                }
                Ok(Some(secret))
            }
            (None, None) => Ok(None),
        }
    }

    fn require(self, at: Location) -> Result<String, Invalid> {
        let missing = invalid_at(
            at,
            self.key(),
            format!("missing; set {0} or {0}_file", self.name),
        );
        self.resolve()?.ok_or(missing)
    }
}

/// A secret file that every user of the machine can read is worth a warning: the exporter
/// cannot fix it, but its operator can. Group-readable files are left alone, since a group
/// shared with the exporter's user is a normal way to hand it a secret.
fn warn_if_world_readable(path: &str, key: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o004 != 0 {
                tracing::warn!(
                    key,
                    file = path,
                    mode = format!("{mode:04o}"),
                    "secret file is readable by every user; restrict it, e.g. chmod 600 {path}"
                );
            }
        }
    }
}

impl RawCredentials {
    /// Where the account's credentials come from, and its credentials (for a temporary
    /// source, the settings that go with the keys it will issue).
    fn resolve(
        mut self,
        provider: Cloud,
        at: Location,
        key: &str,
    ) -> Result<(Origin, Credentials), Invalid> {
        let assume_role = self.assume_role.take();
        let sts_endpoint = self.sts_endpoint.take();
        let (source, credentials) = self.resolve_source(provider, at, key)?;
        let assume_role = assume_role
            .map(|role| role.value.validate(provider, key))
            .transpose()?;
        let sts_endpoint = match sts_endpoint {
            None => None,
            Some(endpoint)
                if assume_role.is_none() && !matches!(source, Source::WebIdentity { .. }) =>
            {
                return Err(invalid(
                    &endpoint,
                    format!("{key}.sts_endpoint"),
                    "only goes with assume_role or source: web_identity",
                ));
            }
            Some(endpoint) => Some(http_url(&endpoint, &format!("{key}.sts_endpoint"))?),
        };
        Ok((
            Origin {
                source,
                assume_role,
                sts_endpoint,
            },
            credentials,
        ))
    }

    fn resolve_source(
        mut self,
        provider: Cloud,
        at: Location,
        key: &str,
    ) -> Result<(Source, Credentials), Invalid> {
        let source_key = format!("{key}.source");
        let source = match self.source.take() {
            None => "static".to_owned(),
            Some(source) => match source.value.as_str() {
                "static" | "environment" | "instance_role" => source.value,
                "web_identity" if provider == Cloud::Tencent => source.value,
                "web_identity" => {
                    return Err(invalid(
                        &source,
                        source_key,
                        format!(
                            "web_identity is Tencent's TKE workload identity; provider {provider} takes static, environment or instance_role"
                        ),
                    ));
                }
                other => {
                    return Err(invalid(
                        &source,
                        source_key,
                        format!(
                            "unknown source {other:?}: static (the default), environment, instance_role or web_identity"
                        ),
                    ));
                }
            },
        };
        let provider_id = self.provider_id.take();
        let role_arn = self.role_arn.take();
        if source != "web_identity"
            && let Some((name, spanned)) = [("provider_id", &provider_id), ("role_arn", &role_arn)]
                .into_iter()
                .find_map(|(name, v)| v.as_ref().map(|v| (name, v)))
        {
            return Err(invalid(
                spanned,
                format!("{key}.{name}"),
                format!(
                    "only goes with source: web_identity (this account's source is {source}); an assumed role goes in assume_role.role_arn"
                ),
            ));
        }
        // The web identity's token file is the OIDC token's, read on every refresh.
        let web_token_file = if source == "web_identity" {
            self.token_file.take()
        } else {
            None
        };
        let role_name = self.role_name.take();
        let metadata_endpoint = self.metadata_endpoint.take();
        if source != "instance_role"
            && let Some((name, spanned)) = [
                ("role_name", &role_name),
                ("metadata_endpoint", &metadata_endpoint),
            ]
            .into_iter()
            .find_map(|(name, v)| v.as_ref().map(|v| (name, v)))
        {
            return Err(invalid(
                spanned,
                format!("{key}.{name}"),
                format!("only goes with source: instance_role (this account's source is {source})"),
            ));
        }
        if source == "static" {
            return self
                .resolve_keys(provider, at, key)
                .map(|c| (Source::Static, c));
        }
        // The keys come from the source: none may be given.
        let given = [
            (
                "secret_id",
                self.secret_id.is_some() || self.secret_id_file.is_some(),
            ),
            (
                "secret_key",
                self.secret_key.is_some() || self.secret_key_file.is_some(),
            ),
            ("token", self.token.is_some() || self.token_file.is_some()),
            (
                "access_key",
                self.access_key.is_some() || self.access_key_file.is_some(),
            ),
            (
                "access_key_id",
                self.access_key_id.is_some() || self.access_key_id_file.is_some(),
            ),
            (
                "access_key_secret",
                self.access_key_secret.is_some() || self.access_key_secret_file.is_some(),
            ),
            (
                "security_token",
                self.security_token.is_some() || self.security_token_file.is_some(),
            ),
        ];
        if let Some((name, _)) = given.iter().find(|(_, set)| *set) {
            return Err(invalid_at(
                at,
                format!("{key}.{name}"),
                format!("source {source} gives the keys: remove {name}"),
            ));
        }
        let projects = if provider == Cloud::Huawei {
            Some(self.projects(key, at)?)
        } else if let Some(ids) = self
            .project_id
            .as_ref()
            .map(|_| "project_id")
            .or(self.project_ids.as_ref().map(|_| "project_ids"))
        {
            return Err(invalid_at(
                at,
                format!("{key}.{ids}"),
                format!("is not a credential of provider {provider}"),
            ));
        } else {
            None
        };
        let (project_id, project_ids) = projects.unwrap_or_default();
        if source == "web_identity" {
            let text = |v: Option<Spanned<String>>, name: &str| {
                v.map(|v| {
                    let value = expand_env(&v.value)
                        .map_err(|e| invalid(&v, format!("{key}.{name}"), e))?;
                    if value.is_empty() {
                        return Err(invalid(
                            &v,
                            format!("{key}.{name}"),
                            "is empty; leave it out to use the TKE_* variable",
                        ));
                    }
                    Ok(value)
                })
                .transpose()
            };
            let token_file = text(web_token_file, "token_file")?;
            return Ok((
                Source::WebIdentity {
                    provider_id: text(provider_id, "provider_id")?,
                    role_arn: text(role_arn, "role_arn")?,
                    token_file,
                },
                credentials::Keys::default().into_credentials(provider, project_id, project_ids),
            ));
        }
        if source == "environment" {
            let keys = credentials::environment::read(provider)
                .map_err(|e| invalid_at(at, source_key, e))?;
            return Ok((
                Source::Environment,
                keys.into_credentials(provider, project_id, project_ids),
            ));
        }
        let metadata_endpoint = match metadata_endpoint {
            None => credentials::instance_role::default_endpoint(provider).to_owned(),
            Some(endpoint) => http_url(&endpoint, &format!("{key}.metadata_endpoint"))?,
        };
        let role_name = match role_name {
            None => None,
            Some(role) if provider == Cloud::Huawei => {
                return Err(invalid(
                    &role,
                    format!("{key}.role_name"),
                    "is not used by Huawei's metadata service, which gives the ECS agency's credentials: remove it",
                ));
            }
            Some(role) if credentials::is_role_name(&role.value) => Some(role.value),
            Some(role) => {
                return Err(invalid(
                    &role,
                    format!("{key}.role_name"),
                    "must be 1 to 128 letters, digits and _+=,.@-, with a letter or digit",
                ));
            }
        };
        let keys = credentials::Keys::default();
        Ok((
            Source::InstanceRole {
                role_name,
                metadata_endpoint,
            },
            keys.into_credentials(provider, project_id, project_ids),
        ))
    }

    /// Huawei's `project_id` and `project_ids`, `${VAR}` expanded; one of them is required.
    fn projects(
        &mut self,
        key: &str,
        at: Location,
    ) -> Result<(Option<String>, BTreeMap<String, String>), Invalid> {
        let project_id = self
            .project_id
            .take()
            .map(|id| {
                expand_env(&id.value).map_err(|e| invalid(&id, format!("{key}.project_id"), e))
            })
            .transpose()?;
        let project_ids = match self.project_ids.take() {
            None => BTreeMap::new(),
            Some(ids) => {
                let mut out = BTreeMap::new();
                for (region, id) in &ids.value {
                    let id = expand_env(id)
                        .map_err(|e| invalid(&ids, format!("{key}.project_ids.{region}"), e))?;
                    out.insert(region.clone(), id);
                }
                out
            }
        };
        if project_id.is_none() && project_ids.is_empty() {
            return Err(invalid_at(
                at,
                format!("{key}.project_id"),
                "missing; set project_id, or project_ids per region",
            ));
        }
        Ok((project_id, project_ids))
    }

    fn resolve_keys(
        mut self,
        provider: Cloud,
        at: Location,
        key: &str,
    ) -> Result<Credentials, Invalid> {
        let field = |name, value, file| CredentialField {
            parent: key,
            name,
            value,
            file,
        };
        let secret_id = field(
            "secret_id",
            self.secret_id.take(),
            self.secret_id_file.take(),
        );
        let access_key = field(
            "access_key",
            self.access_key.take(),
            self.access_key_file.take(),
        );
        let secret_key = field(
            "secret_key",
            self.secret_key.take(),
            self.secret_key_file.take(),
        );
        let token = field("token", self.token.take(), self.token_file.take());
        let access_key_id = field(
            "access_key_id",
            self.access_key_id.take(),
            self.access_key_id_file.take(),
        );
        let access_key_secret = field(
            "access_key_secret",
            self.access_key_secret.take(),
            self.access_key_secret_file.take(),
        );
        let security_token = field(
            "security_token",
            self.security_token.take(),
            self.security_token_file.take(),
        );
        let rules = provider.credential_rules();
        let given = [
            ("secret_id", secret_id.is_set()),
            ("access_key", access_key.is_set()),
            ("secret_key", secret_key.is_set()),
            ("token", token.is_set()),
            ("project_id", self.project_id.is_some()),
            ("project_ids", self.project_ids.is_some()),
            ("access_key_id", access_key_id.is_set()),
            ("access_key_secret", access_key_secret.is_set()),
            ("security_token", security_token.is_set()),
        ];
        if let Some((name, _)) = given
            .iter()
            .find(|(name, set)| *set && !rules.keys.contains(name))
        {
            return Err(invalid_at(
                at,
                format!("{key}.{name}"),
                format!(
                    "is not a credential of provider {provider}, which takes {}",
                    rules.takes
                ),
            ));
        }
        match provider {
            Cloud::Alibaba => Ok(Credentials::Alibaba {
                access_key_id: access_key_id.require(at)?,
                access_key_secret: Secret::new(access_key_secret.require(at)?),
                security_token: security_token.resolve()?.map(Secret::new),
            }),
            Cloud::Tencent => Ok(Credentials::Tencent {
                secret_id: secret_id.require(at)?,
                secret_key: Secret::new(secret_key.require(at)?),
                token: token.resolve()?.map(Secret::new),
            }),
            Cloud::Huawei => {
                let (project_id, project_ids) = self.projects(key, at)?;
                Ok(Credentials::Huawei {
                    access_key: access_key.require(at)?,
                    secret_key: Secret::new(secret_key.require(at)?),
                    token: token.resolve()?.map(Secret::new),
                    project_id,
                    project_ids,
                })
            }
        }
    }
}

/// An `http(s)` address (scheme, host, port: no path or query, since the services' paths are
/// appended), `${VAR}` expanded, without a trailing `/`. The error quotes the value as
/// written, never what a variable held.
fn http_url(value: &Spanned<String>, key: &str) -> Result<String, Invalid> {
    let text = expand_env(&value.value).map_err(|e| invalid(value, key, e))?;
    match reqwest::Url::parse(&text) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.path() == "/"
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Ok(text.trim_end_matches('/').to_owned())
        }
        _ => Err(invalid(
            value,
            key,
            format!(
                "{:?} is not an http:// or https:// address (scheme, host and port only)",
                value.value
            ),
        )),
    }
}

/// Replaces each `${NAME}` with the environment variable `NAME`; `$$` is a literal `$`.
/// The error names the variable, never a value.
fn expand_env(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or("unterminated ${ in a variable reference")?;
            let name = &after[..end];
            let value = std::env::var(name)
                .map_err(|_| format!("environment variable {name} is not set"))?;
            out.push_str(&value);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

impl RawTarget {
    fn validate(self, cloud: Cloud, key: &str, lookback: Duration) -> Result<Target, Invalid> {
        let provider = providers::lookup(&self.kind.value).ok_or_else(|| {
            invalid(
                &self.kind,
                format!("{key}.kind"),
                format!(
                    "unknown kind {:?}, expected one of: {}",
                    self.kind.value,
                    providers::names().join(", ")
                ),
            )
        })?;
        if provider.cloud() != cloud {
            return Err(invalid(
                &self.kind,
                format!("{key}.kind"),
                format!(
                    "{} is a {} API, but this account's provider is {cloud}",
                    provider.kind(),
                    provider.cloud()
                ),
            ));
        }
        if let Some(history) = provider.history()
            && lookback > history
        {
            return Err(invalid(
                &self.kind,
                format!("{key}.kind"),
                format!(
                    "{} keeps tasks for {} days, but global.lookback is {}: set it to at most {}",
                    provider.kind(),
                    history.as_secs() / 86_400,
                    duration::format(lookback),
                    duration::format(history)
                ),
            ));
        }
        let regions = &self.regions;
        let regions_key = format!("{key}.regions");
        if regions.value.is_empty() {
            return Err(invalid(
                regions,
                regions_key,
                "at least one region is required",
            ));
        }
        // A region goes into hostnames and URLs: only what region names are made of.
        let is_region = |r: &str| {
            (1..=64).contains(&r.len())
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !r.starts_with('-')
        };
        if let Some(region) = regions.value.iter().find(|r| !is_region(r)) {
            return Err(invalid(
                regions,
                regions_key,
                format!(
                    "{region:?} is not a region (lowercase letters, digits and '-', like ap-guangzhou or cn-north-4)"
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = regions.value.iter().find(|r| !seen.insert(*r)) {
            return Err(invalid(
                regions,
                regions_key,
                format!("{dup} is listed twice"),
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            let url_ok = reqwest::Url::parse(&endpoint.value.replace("{region}", "region"))
                .is_ok_and(|url| {
                    matches!(url.scheme(), "http" | "https") && url.host_str().is_some()
                });
            if !url_ok {
                return Err(invalid(
                    endpoint,
                    format!("{key}.endpoint"),
                    format!(
                        "{:?} is not an http:// or https:// URL with a host",
                        endpoint.value
                    ),
                ));
            }
        }
        let rate_limit = match &self.rate_limit {
            None => provider.default_rate_limit(),
            Some(limit) if RATE_LIMIT_RANGE.contains(&limit.value) => limit.value,
            Some(limit) => {
                return Err(invalid(
                    limit,
                    format!("{key}.rate_limit"),
                    format!(
                        "{} must be between {} and {} requests per second",
                        limit.value,
                        RATE_LIMIT_RANGE.start(),
                        RATE_LIMIT_RANGE.end()
                    ),
                ));
            }
        };
        Ok(Target {
            kind: Kind(provider),
            regions: self.regions.value,
            endpoint: self.endpoint.map(|e| e.value),
            rate_limit,
            instance_ids: self.instance_ids,
            task_types: self.task_types,
        })
    }
}

fn serialize_duration<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&duration::format(*value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "
accounts:
  - name: prod
    provider: tencent
    credentials: {secret_id: AKIDx, secret_key: k}
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
";

    #[test]
    fn defaults_fill_what_is_left_out() {
        let config = Config::parse(MINIMAL).unwrap();
        assert_eq!(config.global, Global::default());
        let target = &config.accounts[0].targets[0];
        assert_eq!(target.kind.name(), "tencent_postgres");
        assert_eq!(target.rate_limit, 20.0);
    }

    #[test]
    fn expands_environment_variables() {
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expand_env("a${PATH}b$$c$").unwrap(), format!("a{path}b$c$"));
        let err = expand_env("${CLOUD_TASK_EXPORTER_SURELY_UNSET}").unwrap_err();
        assert_eq!(
            err,
            "environment variable CLOUD_TASK_EXPORTER_SURELY_UNSET is not set"
        );
    }

    #[test]
    fn redacted_view_hides_secrets_and_shows_defaults() {
        let yaml = Config::parse(MINIMAL).unwrap().to_redacted_yaml();
        assert!(yaml.contains("secret_key: <redacted>"), "{yaml}");
        assert!(yaml.contains("lookback: 24h"), "{yaml}");
        assert!(!yaml.contains("secret_key: k"), "{yaml}");
        let reparsed = Config::parse(&yaml.replace("<redacted>", "k")).unwrap();
        assert_eq!(reparsed, Config::parse(MINIMAL).unwrap());
    }
}
