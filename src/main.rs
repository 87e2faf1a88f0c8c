use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use cloud_task_exporter::cli::{Cli, init_logging};
use cloud_task_exporter::config::Config;
use cloud_task_exporter::{demo, server};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level, cli.log_format);

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
    let (config, source, _demo) = if cli.demo {
        let demo = demo::start(fastrand::u64(..)).await?;
        tracing::info!(simulator = %demo.address, "demo: simulated cloud started on loopback");
        (
            demo.config.clone(),
            format!("demo (simulated cloud at {})", demo.address),
            Some(demo),
        )
    } else {
        let config = Config::load(&cli.config_file).map_err(|e| e.to_string())?;
        (config, cli.config_file.display().to_string(), None)
    };
    let app =
        server::App::new(&config, cli.telemetry_path.clone(), source).map_err(|e| e.to_string())?;
    let listener = server::bind(&cli.listen_address).await?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        address = %address,
        targets = app.engine.targets().len(),
        "listening; metrics at http://{}{}", address, cli.telemetry_path
    );
    server::serve(listener, Arc::new(app), shutdown_signal()).await;
    tracing::info!("shut down");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return interrupt.await.unwrap_or_default(),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
