//! The command line, with the flag names of the Prometheus exporters (`--config.file`,
//! `--web.listen-address`, ...).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::config::DEFAULT_CONFIG_FILE;

#[derive(Debug, Parser)]
#[command(
    name = "cloud-task-exporter",
    version,
    about = "Prometheus exporter for the asynchronous tasks of managed cloud databases"
)]
pub struct Cli {
    /// The YAML configuration file.
    #[arg(long = "config.file", value_name = "PATH", default_value = DEFAULT_CONFIG_FILE)]
    pub config_file: PathBuf,

    /// Address to listen on; `:9874` means every interface.
    #[arg(
        long = "web.listen-address",
        value_name = "ADDRESS",
        default_value = ":9874"
    )]
    pub listen_address: String,

    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        value_name = "PATH",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,

    /// A web config in the Prometheus exporter-toolkit format: TLS (`tls_server_config`) and
    /// basic auth (`basic_auth_users`). Read again on reload.
    #[arg(long = "web.config.file", value_name = "PATH")]
    pub web_config_file: Option<PathBuf>,

    /// Connections served at once; more wait to be accepted. Keep it below the process's
    /// file-descriptor limit (systemd's default is 1,024).
    #[arg(
        long = "web.max-connections",
        value_name = "N",
        default_value_t = crate::server::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub max_connections: u32,

    /// Only log messages with this severity or above.
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,

    /// Output format of log messages.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,

    /// Validate the configuration, print it with secrets redacted, and exit (0 valid, 1 not).
    #[arg(long = "check-config")]
    pub check_config: bool,

    /// Run against a built-in simulated cloud on loopback: no account or config file needed.
    #[arg(long = "demo")]
    pub demo: bool,

    /// Serve only the targets whose stable hash falls in this shard (from 0).
    #[arg(long = "shard", value_name = "N", default_value_t = 0)]
    pub shard: u32,

    /// How many shards the targets are split into (replicas of the exporter).
    #[arg(long = "total-shards", value_name = "M", default_value_t = 1)]
    pub total_shards: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

/// Sends logs to standard error in the chosen format and level.
pub fn init_logging(level: LogLevel, format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, filter::LevelFilter};

    let filter = match level {
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    };
    let layer = match format {
        LogFormat::Logfmt => tracing_logfmt::builder()
            .with_span_name(false)
            .with_span_path(false)
            .layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // Only the first initialisation in a process takes effect, which is what tests want.
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_the_prometheus_style_names() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "cloud-task-exporter",
            "--config.file=/etc/cte.yaml",
            "--web.listen-address=127.0.0.1:1",
            "--web.telemetry-path=/m",
            "--log.level=debug",
            "--log.format=json",
            "--check-config",
        ])
        .unwrap();
        assert_eq!(cli.config_file, PathBuf::from("/etc/cte.yaml"));
        assert_eq!(cli.listen_address, "127.0.0.1:1");
        assert_eq!(cli.telemetry_path, "/m");
        assert_eq!(cli.log_level, LogLevel::Debug);
        assert_eq!(cli.log_format, LogFormat::Json);
        assert!(cli.check_config && !cli.demo);
    }
}
