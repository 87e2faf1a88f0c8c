use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use cloud_task_exporter::cli::{Cli, init_logging};
use cloud_task_exporter::config::Config;
use cloud_task_exporter::exporter::{ConfigSource, Exporter};
use cloud_task_exporter::sweep::Shard;
use cloud_task_exporter::{demo, server};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level, cli.log_format);
    log_panics();
    // Before anything else, in case the kernel's own figure is hidden (see the function).
    cloud_task_exporter::process::start_time_seconds();

    if cli.check_config {
        return match Config::load(&cli.config_file) {
            Ok(config) => {
                print!("{}", config.to_redacted_yaml());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    // First, since a signal that comes before its handler is installed ends the process:
    // a `systemctl reload` just after `systemctl start` (`Type=exec`) would kill the
    // exporter instead of reloading it. One that comes before the server is up waits for it.
    let (hangup, shutdown) = (Hangup::listen(), Shutdown::listen());
    let (source, _demo) = if cli.demo {
        let demo = demo::start(fastrand::u64(..)).await?;
        tracing::info!(simulator = %demo.address, "demo: simulated cloud started on loopback");
        let source = ConfigSource::Fixed {
            config: demo.config.clone(),
            description: format!("demo (simulated cloud at {})", demo.address),
        };
        (source, Some(demo))
    } else {
        (ConfigSource::File(cli.config_file.clone()), None)
    };
    let shard = Shard::new(cli.shard, cli.total_shards)?;
    let exporter = Exporter::start(
        source,
        cli.web_config_file.clone(),
        cli.telemetry_path.clone(),
        shard,
    )
    .map_err(|e| e.to_string())?;
    let exporter = Arc::new(exporter);
    let listener = server::bind(&cli.listen_address).await?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let generation = exporter.current();
    let scheme = if generation.web.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        address = %address,
        targets = generation.engine.targets().len(),
        tls = generation.web.tls.is_some(),
        basic_auth = generation.web.requires_auth(),
        "listening; metrics at {scheme}://{address}{}", cli.telemetry_path
    );
    drop(generation);
    tokio::spawn(reload_on_sighup(hangup, exporter.clone()));
    let limits = server::Limits {
        max_connections: cli.max_connections,
    };
    server::serve(listener, exporter, limits, shutdown.recv()).await;
    tracing::info!("shut down");
    Ok(())
}

/// A panic is a bug: log it, with where it happened, through the same logger as everything
/// else, before the thread (or the process) goes down.
fn log_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = cloud_task_exporter::exporter::panic_message(info.payload());
        let thread = std::thread::current();
        tracing::error!(
            thread = thread.name().unwrap_or("unnamed"),
            location,
            "panic: {message}"
        );
        if tracing::dispatcher::has_been_set() {
            return;
        }
        default_hook(info);
    }));
}

#[cfg(unix)]
use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGHUP, if it can be listened for.
#[cfg(unix)]
struct Hangup(Option<Signal>);

#[cfg(unix)]
impl Hangup {
    fn listen() -> Hangup {
        match signal(SignalKind::hangup()) {
            Ok(hangup) => Hangup(Some(hangup)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; reload with POST /-/reload");
                Hangup(None)
            }
        }
    }
}

#[cfg(not(unix))]
struct Hangup;

#[cfg(not(unix))]
impl Hangup {
    fn listen() -> Hangup {
        Hangup
    }
}

/// SIGTERM and SIGINT, those that can be listened for.
#[cfg(unix)]
struct Shutdown {
    terminate: Option<Signal>,
    interrupt: Option<Signal>,
}

#[cfg(unix)]
impl Shutdown {
    fn listen() -> Shutdown {
        let listen = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for {name}; it ends the exporter at once");
                None
            }
        };
        Shutdown {
            terminate: listen(SignalKind::terminate(), "SIGTERM"),
            interrupt: listen(SignalKind::interrupt(), "SIGINT"),
        }
    }

    /// Completes on the first SIGTERM or SIGINT (never, if neither can be listened for).
    async fn recv(mut self) {
        async fn next(signal: &mut Option<Signal>) {
            match signal {
                Some(signal) => drop(signal.recv().await),
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.interrupt) => tracing::info!("SIGINT: shutting down"),
            () = next(&mut self.terminate) => tracing::info!("SIGTERM: shutting down"),
        }
    }
}

#[cfg(not(unix))]
struct Shutdown;

#[cfg(not(unix))]
impl Shutdown {
    fn listen() -> Shutdown {
        Shutdown
    }

    async fn recv(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// SIGHUP reloads the configuration, as `POST /-/reload` does.
#[cfg(unix)]
async fn reload_on_sighup(hangup: Hangup, exporter: Arc<Exporter>) {
    let Some(mut hangup) = hangup.0 else {
        return;
    };
    while hangup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the configuration");
        let exporter = exporter.clone();
        // The outcome is logged by reload itself.
        let _ = tokio::task::spawn_blocking(move || exporter.reload()).await;
    }
}

#[cfg(not(unix))]
async fn reload_on_sighup(_hangup: Hangup, _exporter: Arc<Exporter>) {}
