//! Serves the simulator on 127.0.0.1 for clients other than the exporter (the official SDKs in
//! `sim/sdk-check/`): one Huawei account and a generated world of every Huawei API in
//! `cn-north-4`. Prints the bound address as one line, then serves until killed.
//!
//! `cargo run -p cloud-task-simulator --example serve -- [PORT]` (0 or none: any free port);
//! the account is `SIM_HUAWEI_AK`, `SIM_HUAWEI_SK` and `SIM_HUAWEI_PROJECT`, or the defaults
//! below.

use std::io::Write;
use std::time::Duration;

use cloud_task_simulator::{Generator, Scenario, SimAccount, Simulator};

const REGION: &str = "cn-north-4";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(port) => port.parse()?,
        None => 0,
    };
    let project = env_or("SIM_HUAWEI_PROJECT", "0123456789abcdef0123456789abcdef");
    let simulator = Simulator::new();
    simulator.add_account(SimAccount::huawei(
        &env_or("SIM_HUAWEI_AK", "SIMHUAWEIAK0000000001"),
        &env_or("SIM_HUAWEI_SK", "sim-huawei-secret-key"),
        &[(REGION, &project)],
    ));
    let mut generator = Generator::new(7);
    let now = chrono::Utc::now();
    let huawei = cloud_task_simulator::kinds()
        .into_iter()
        .filter(|kind| kind.starts_with("huawei_"));
    for kind in huawei {
        let Some(sample) = cloud_task_simulator::sample(kind) else {
            continue;
        };
        generator.populate(
            &mut simulator.world(),
            &Scenario {
                kind,
                region: REGION,
                task_types: sample.task_types,
                instance_prefix: sample.instance_prefix,
                instances: 3,
                history: Duration::from_secs(6 * 3600),
                horizon: Duration::from_secs(3600),
                mean_gap_seconds: 900.0,
                multi_instance_one_in: 0,
            },
            now,
        );
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", listener.local_addr()?)?;
    stdout.flush()?;
    simulator.serve(listener).await;
    Ok(())
}
