//! `--demo`: the simulated cloud in-process on an ephemeral loopback port, with generated
//! credentials and tasks for every provider in two regions, and a config pointing the exporter
//! at it.

#![allow(
    clippy::indexing_slicing,
    reason = "test and demo infrastructure, indexing its own tables; it moves to its own crate"
)]

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;

use crate::config::Config;
use crate::simulator::{CdbShape, Generator, Scenario, SimAccount, Simulator};

/// What the demo simulates for one provider kind.
struct DemoKind {
    kind: &'static str,
    regions: [&'static str; 2],
    /// The provider's own task type vocabulary.
    task_types: &'static [&'static str],
    instance_prefix: &'static str,
    multi_instance_one_in: usize,
}

const KINDS: [DemoKind; 4] = [
    DemoKind {
        kind: "tencent_postgres",
        regions: ["ap-guangzhou", "ap-shanghai"],
        task_types: &[
            "RestoreDatabase",
            "CreateInstance",
            "DestroyInstance",
            "ModifyDBInstanceSpec",
            "UpgradeDBInstanceKernelVersion",
            "CloneDBInstance",
        ],
        instance_prefix: "postgres-demo",
        multi_instance_one_in: 0,
    },
    // ap-guangzhou answers in CDB's string shape, ap-shanghai in the integer-code shape.
    DemoKind {
        kind: "tencent_mysql",
        regions: ["ap-guangzhou", "ap-shanghai"],
        task_types: &[
            "ROLLBACK",
            "IMPORT DATA",
            "MODIFY PARAM",
            "REBOOT",
            "UPGRADE MASTER",
            "BATCH ROLLBACK",
        ],
        instance_prefix: "cdb-demo",
        multi_instance_one_in: 10,
    },
    DemoKind {
        kind: "tencent_redis",
        regions: ["ap-guangzhou", "ap-beijing"],
        task_types: &["012", "017", "010", "028", "034", "043"],
        instance_prefix: "crs-demo",
        multi_instance_one_in: 0,
    },
    DemoKind {
        kind: "huawei_rds",
        regions: ["cn-north-4", "cn-east-3"],
        task_types: &[
            "CreateMysqlInstance",
            "RestoreMysqlInInstance",
            "CreateManualBackup",
            "ResizeFlavor",
            "RebootInstance",
            "ModifyParameters",
        ],
        instance_prefix: "rds-demo",
        multi_instance_one_in: 0,
    },
];

pub struct Demo {
    pub simulator: Simulator,
    pub address: SocketAddr,
    pub config: Config,
    /// The text `config` was parsed from, for a separate exporter process (the soak benchmark).
    pub config_yaml: String,
}

fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
        .collect()
}

/// Starts the simulator with a generated world (the same one for the same seed) and returns
/// the config that watches it.
pub async fn start(seed: u64) -> Result<Demo, String> {
    let simulator = Simulator::new();
    let secret_id = format!("AKIDdemo{}", random_hex(24));
    let secret_key = format!("demo{}", random_hex(28));
    simulator.add_account(SimAccount::tencent(&secret_id, &secret_key).with_rate_limit(100.0));
    let access_key = format!("HWDEMO{}", random_hex(14).to_uppercase());
    let huawei_key = format!("demo{}", random_hex(36));
    let [north, east] = KINDS[3].regions;
    let (north_project, east_project) = (random_hex(32), random_hex(32));
    simulator.add_account(
        SimAccount::huawei(
            &access_key,
            &huawei_key,
            &[(north, &north_project), (east, &east_project)],
        )
        .with_rate_limit(100.0),
    );
    simulator.set_cdb_shape("ap-shanghai", CdbShape::Codes);
    {
        let mut generator = Generator::new(seed);
        let mut world = simulator.world();
        let now = Utc::now();
        for demo in &KINDS {
            for (index, region) in demo.regions.iter().enumerate() {
                generator.populate(
                    &mut world,
                    &Scenario {
                        kind: demo.kind,
                        region,
                        task_types: demo.task_types,
                        instance_prefix: &format!("{}{index}", demo.instance_prefix),
                        instances: 4,
                        history: Duration::from_secs(6 * 3600),
                        horizon: Duration::from_secs(24 * 3600),
                        mean_gap_seconds: 90.0,
                        multi_instance_one_in: demo.multi_instance_one_in,
                    },
                    now,
                );
            }
        }
    }
    let address = simulator
        .start()
        .await
        .map_err(|e| format!("cannot start the simulated cloud on loopback: {e}"))?;
    let regions = |kind: usize| KINDS[kind].regions.join(", ");
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
        regions: [{postgres}]
        endpoint: http://{address}
      - kind: tencent_mysql
        regions: [{mysql}]
        endpoint: http://{address}
      - kind: tencent_redis
        regions: [{redis}]
        endpoint: http://{address}
  - name: demo-huawei
    provider: huawei
    credentials:
      access_key: {access_key}
      secret_key: {huawei_key}
      project_ids:
        {north}: {north_project}
        {east}: {east_project}
    targets:
      - kind: huawei_rds
        regions: [{huawei}]
        endpoint: http://{address}
"#,
        postgres = regions(0),
        mysql = regions(1),
        redis = regions(2),
        huawei = regions(3),
    );
    let config = Config::parse(&yaml).map_err(|e| format!("demo config: {e}"))?;
    Ok(Demo {
        simulator,
        address,
        config,
        config_yaml: yaml,
    })
}
