//! The exporter's live state: the configuration in force and what was built from it (the
//! sweep engine, the web config), replaced as a whole by a reload, and the metrics, which
//! live as long as the process.
//!
//! SIGHUP and `POST /-/reload` both call [`Exporter::reload`]: the file is read and validated
//! first, so a bad file changes nothing but `cloud_task_config_last_reload_successful`; a file
//! that says what the running config says is a no-op; otherwise a new [`Generation`] is built,
//! takes over the task windows of the targets that did not change, and is swapped in. A scrape
//! holds the generation it started with, so it never sees half a reload.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::config::{Config, ConfigError};
use crate::metrics::Metrics;
use crate::sweep::{Engine, EngineError, Shard, TargetId};
use crate::web_config::{WebConfig, WebConfigError};

/// Where the configuration comes from.
pub enum ConfigSource {
    /// `--config.file`, read again on every reload.
    File(PathBuf),
    /// A config made in-process (`--demo`, tests): a reload finds it unchanged.
    Fixed { config: Config, description: String },
}

impl ConfigSource {
    fn load(&self) -> Result<Config, LoadError> {
        match self {
            ConfigSource::File(path) => Ok(Config::load(path)?),
            ConfigSource::Fixed { config, .. } => Ok(config.clone()),
        }
    }

    /// The file path, or what the config is, for the landing page and logs.
    pub fn describe(&self) -> String {
        match self {
            ConfigSource::File(path) => path.display().to_string(),
            ConfigSource::Fixed { description, .. } => description.clone(),
        }
    }
}

/// Why a configuration could not be put in force.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Web(#[from] WebConfigError),
    /// A bug: building the new configuration panicked. The panic hook logged where.
    #[error("internal error while building the new configuration (a bug; the log says where): {0}")]
    Internal(String),
}

/// One configuration and what was built from it.
pub struct Generation {
    pub config: Config,
    pub engine: Arc<Engine>,
    /// TLS and basic auth, from `--web.config.file`.
    pub web: Arc<WebConfig>,
}

/// What a successful reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    /// The file says what the running config says; nothing was rebuilt.
    Unchanged,
    Applied {
        targets: usize,
        /// Targets whose task windows were kept.
        kept: usize,
        added: usize,
        removed: usize,
    },
}

/// The state the server serves from.
pub struct Exporter {
    source: ConfigSource,
    web_config_file: Option<PathBuf>,
    pub telemetry_path: String,
    /// One set of metrics for the life of the process: counters keep counting across
    /// reloads.
    metrics: Arc<Metrics>,
    current: RwLock<Arc<Generation>>,
    /// One reload at a time: SIGHUP and `POST /-/reload` may race.
    reloading: Mutex<()>,
    /// The part of the targets this exporter serves, for every generation.
    shard: Shard,
}

impl Exporter {
    /// Loads the configuration (and the web config, if any) for the first time; an error here
    /// stops the exporter.
    pub fn start(
        source: ConfigSource,
        web_config_file: Option<PathBuf>,
        telemetry_path: String,
        shard: Shard,
    ) -> Result<Exporter, LoadError> {
        let config = source.load()?;
        let web = load_web_config(web_config_file.as_deref())?;
        let metrics = Arc::new(Metrics::new(
            &config.global.histogram_buckets,
            config.global.labels.instance_id,
        ));
        metrics.set_shard(shard.ordinal, shard.total);
        metrics.set_budget(budget(&config));
        let engine = new_engine(&config, &metrics, shard, None)?;
        metrics.config_reloaded(true, unix_now());
        Ok(Exporter {
            source,
            web_config_file,
            telemetry_path,
            metrics,
            current: RwLock::new(Arc::new(Generation {
                config,
                engine,
                web: Arc::new(web),
            })),
            reloading: Mutex::new(()),
            shard,
        })
    }

    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// The generation in force. A caller keeps it for as long as it works with it.
    pub fn current(&self) -> Arc<Generation> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn source(&self) -> &ConfigSource {
        &self.source
    }

    pub fn web_config_file(&self) -> Option<&Path> {
        self.web_config_file.as_deref()
    }

    /// Reads the configuration again and puts it in force if it is valid; logs what happened
    /// either way. On error the running configuration stays and
    /// `cloud_task_config_last_reload_successful` is 0 until a reload succeeds.
    pub fn reload(&self) -> Result<Reloaded, LoadError> {
        let _one_at_a_time = self
            .reloading
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current();
        // A panic here must not leave the reload unanswered and the metric saying all is well.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.next_generation(&current)
        }))
        .unwrap_or_else(|panic| Err(LoadError::Internal(panic_message(panic.as_ref()))));
        match result {
            Err(error) => {
                self.metrics.config_reloaded(false, unix_now());
                tracing::error!(
                    config = %self.source.describe(),
                    error = %error,
                    "reload failed; the running configuration stays in force"
                );
                Err(error)
            }
            Ok(None) => {
                self.metrics.config_reloaded(true, unix_now());
                tracing::info!(
                    config = %self.source.describe(),
                    "reload: configuration unchanged"
                );
                Ok(Reloaded::Unchanged)
            }
            Ok(Some(next)) => {
                let kept = if Arc::ptr_eq(&next.engine, &current.engine) {
                    // Only the web config changed.
                    next.engine.targets().len()
                } else {
                    next.engine.carry_over_from(&current.engine)
                };
                let removed: Vec<&TargetId> = current
                    .engine
                    .targets()
                    .iter()
                    .map(|t| &t.id)
                    .filter(|old| !next.engine.targets().iter().any(|t| t.id == **old))
                    .collect();
                for target in &removed {
                    self.metrics.forget_target(target);
                }
                let temporary = |engine: &Engine| -> Vec<String> {
                    engine
                        .accounts()
                        .iter()
                        .filter(|a| a.origin().is_temporary())
                        .map(|a| a.account().to_owned())
                        .collect()
                };
                let still = temporary(&next.engine);
                for account in temporary(&current.engine) {
                    if !still.contains(&account) {
                        self.metrics.forget_credentials(&account);
                    }
                }
                let global = &next.config.global;
                self.metrics.set_budget(budget(&next.config));
                if self
                    .metrics
                    .set_duration_layout(&global.histogram_buckets, global.labels.instance_id)
                {
                    tracing::info!(
                        "reload: histogram_buckets or labels.instance_id changed; the duration histograms start again"
                    );
                }
                let targets = next.engine.targets().len();
                let added =
                    (targets + removed.len()).saturating_sub(current.engine.targets().len());
                self.metrics.config_reloaded(true, unix_now());
                *self
                    .current
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(next);
                tracing::info!(
                    config = %self.source.describe(),
                    targets,
                    kept,
                    added,
                    removed = removed.len(),
                    "reload: new configuration in force"
                );
                Ok(Reloaded::Applied {
                    targets,
                    kept,
                    added,
                    removed: removed.len(),
                })
            }
        }
    }

    /// The generation a reload would put in force, or `None` if neither file changed.
    fn next_generation(&self, current: &Generation) -> Result<Option<Generation>, LoadError> {
        let config = self.source.load()?;
        let web = load_web_config(self.web_config_file.as_deref())?;
        let web = if web == *current.web {
            current.web.clone()
        } else {
            Arc::new(web)
        };
        if config == current.config {
            if Arc::ptr_eq(&web, &current.web) {
                return Ok(None);
            }
            return Ok(Some(Generation {
                config,
                engine: current.engine.clone(),
                web,
            }));
        }
        let engine = new_engine(&config, &self.metrics, self.shard, Some(&current.engine))?;
        Ok(Some(Generation {
            config,
            engine,
            web,
        }))
    }
}

/// The engine for `config`, its targets shown in `metrics` (only once it was built whole).
fn new_engine(
    config: &Config,
    metrics: &Arc<Metrics>,
    shard: Shard,
    previous: Option<&Engine>,
) -> Result<Arc<Engine>, EngineError> {
    let engine = match previous {
        Some(previous) => Engine::succeeding(previous, config, metrics.clone(), shard)?,
        None => Engine::new_sharded(config, metrics.clone(), shard)?,
    };
    for target in engine.targets() {
        metrics.register_target(&target.id);
    }
    for account in engine.accounts() {
        if account.origin().is_temporary() {
            metrics.register_credentials(account.account());
        }
    }
    Ok(Arc::new(engine))
}

/// The message of a panic's payload, when it has one.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

fn load_web_config(path: Option<&Path>) -> Result<WebConfig, WebConfigError> {
    path.map_or_else(|| Ok(WebConfig::none()), WebConfig::load)
}

/// The config's `global.series` as the metrics apply it.
fn budget(config: &Config) -> crate::metrics::Budget {
    let series = &config.global.series;
    crate::metrics::Budget {
        per_target: series.per_target,
        total: series.total,
        zero_statuses: series.zero_statuses,
    }
}

fn unix_now() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}
