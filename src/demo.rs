//! `--demo`: the simulated cloud in-process on an ephemeral loopback port, with generated
//! credentials and tasks, and a config pointing the exporter at it.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;

use crate::config::Config;
use crate::simulator::{Generator, Scenario, SimAccount, Simulator};

/// The demo's regions, per provider kind.
const POSTGRES_REGIONS: [&str; 2] = ["ap-guangzhou", "ap-shanghai"];

const POSTGRES_TASK_TYPES: &[&str] = &[
    "RestoreDatabase",
    "CreateInstance",
    "DestroyInstance",
    "ModifyDBInstanceSpec",
    "UpgradeDBInstanceKernelVersion",
    "CloneDBInstance",
];

pub struct Demo {
    pub simulator: Simulator,
    pub address: SocketAddr,
    pub config: Config,
}

/// Starts the simulator with a generated world (the same one for the same seed) and returns
/// the config that watches it.
pub async fn start(seed: u64) -> Result<Demo, String> {
    let simulator = Simulator::new();
    let secret_id = format!("AKIDdemo{:016x}", fastrand::u64(..));
    let secret_key = format!("demo{:032x}", fastrand::u128(..));
    simulator.add_account(SimAccount {
        id: secret_id.clone(),
        secret: secret_key.clone(),
        token: None,
        rate_limit: 20.0,
    });
    {
        let mut generator = Generator::new(seed);
        let mut world = simulator.world();
        let now = Utc::now();
        for (index, region) in POSTGRES_REGIONS.iter().enumerate() {
            generator.populate(
                &mut world,
                &Scenario {
                    kind: "tencent_postgres",
                    region,
                    task_types: POSTGRES_TASK_TYPES,
                    instance_prefix: &format!("postgres-demo{index}"),
                    instances: 4,
                    history: Duration::from_secs(6 * 3600),
                    horizon: Duration::from_secs(24 * 3600),
                    mean_gap_seconds: 90.0,
                },
                now,
            );
        }
    }
    let address = simulator
        .start()
        .await
        .map_err(|e| format!("cannot start the simulated cloud on loopback: {e}"))?;
    let yaml = format!(
        r#"
global:
  lookback: 24h
  min_interval: 5s
accounts:
  - name: demo-tencent
    provider: tencent
    credentials:
      secret_id: {secret_id}
      secret_key: {secret_key}
    targets:
      - kind: tencent_postgres
        regions: [{regions}]
        endpoint: http://{address}
"#,
        regions = POSTGRES_REGIONS.join(", "),
    );
    let config = Config::parse(&yaml).map_err(|e| format!("demo config: {e}"))?;
    Ok(Demo {
        simulator,
        address,
        config,
    })
}
