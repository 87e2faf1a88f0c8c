//! `--demo`: the simulated cloud in-process on an ephemeral loopback port, with a generated
//! world for every registered provider kind (in the two regions of the simulator's sample of
//! it), one account per cloud with generated credentials, and a config pointing the exporter
//! at it. A new provider appears here by itself once the simulator serves it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use cloud_task_simulator::{Generator, Scenario, SimAccount, Simulator};
use serde_json::{Value, json};

use crate::cloud::Cloud;
use crate::config::Config;
use crate::providers::{self, Provider};

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

/// Requests per second the simulated accounts allow, per API.
const SIMULATED_RATE_LIMIT: f64 = 100.0;

/// One account of one cloud: the simulator's side of its credentials and the config's.
struct DemoAccount {
    sim: SimAccount,
    credentials: Value,
}

/// Generated credentials for an account of `cloud` that can reach `regions`.
fn account(cloud: Cloud, regions: &[&str]) -> DemoAccount {
    match cloud {
        Cloud::Tencent => {
            let secret_id = format!("AKIDdemo{}", random_hex(24));
            let secret_key = format!("demo{}", random_hex(28));
            DemoAccount {
                sim: SimAccount::tencent(&secret_id, &secret_key),
                credentials: json!({ "secret_id": secret_id, "secret_key": secret_key }),
            }
        }
        Cloud::Alibaba => {
            let access_key_id = format!("LTAIdemo{}", random_hex(16));
            let access_key_secret = format!("demo{}", random_hex(26));
            DemoAccount {
                sim: SimAccount::alibaba(&access_key_id, &access_key_secret),
                credentials: json!({
                    "access_key_id": access_key_id,
                    "access_key_secret": access_key_secret,
                }),
            }
        }
        Cloud::Huawei => {
            let access_key = format!("HWDEMO{}", random_hex(14).to_uppercase());
            let secret_key = format!("demo{}", random_hex(36));
            let projects: BTreeMap<&str, String> =
                regions.iter().map(|r| (*r, random_hex(32))).collect();
            let pairs: Vec<(&str, &str)> = projects.iter().map(|(r, p)| (*r, p.as_str())).collect();
            DemoAccount {
                sim: SimAccount::huawei(&access_key, &secret_key, &pairs),
                credentials: json!({
                    "access_key": access_key,
                    "secret_key": secret_key,
                    "project_ids": projects,
                }),
            }
        }
    }
}

/// Starts the simulator with a generated world (the same one for the same seed) and returns
/// the config that watches it.
pub async fn start(seed: u64) -> Result<Demo, String> {
    let simulator = Simulator::new();
    // Every registered kind, with the simulator's sample of its API, grouped by cloud in
    // registration order.
    let mut by_cloud: Vec<(Cloud, Vec<(&dyn Provider, _)>)> = Vec::new();
    for provider in providers::registry() {
        let sample = cloud_task_simulator::sample(provider.kind()).ok_or_else(|| {
            format!(
                "demo: the simulator serves no API for provider kind {}",
                provider.kind()
            )
        })?;
        let cloud = provider.cloud();
        match by_cloud.iter_mut().find(|(c, _)| *c == cloud) {
            Some((_, kinds)) => kinds.push((*provider, sample)),
            None => by_cloud.push((cloud, vec![(*provider, sample)])),
        }
    }
    let mut generator = Generator::new(seed);
    let now = Utc::now();
    let mut accounts = Vec::new();
    for (cloud, kinds) in &by_cloud {
        let regions: Vec<&str> = kinds.iter().flat_map(|(_, s)| s.regions).collect();
        let demo_account = account(*cloud, &regions);
        simulator.add_account(demo_account.sim.with_rate_limit(SIMULATED_RATE_LIMIT));
        let mut targets = Vec::new();
        for (provider, sample) in kinds {
            for (index, region) in sample.regions.iter().enumerate() {
                if index == 1
                    && let Some(prepare) = sample.second_region
                {
                    prepare(&simulator, region);
                }
                generator.populate(
                    &mut simulator.world(),
                    &Scenario {
                        kind: provider.kind(),
                        region,
                        task_types: sample.task_types,
                        instance_prefix: &format!("{}{index}", sample.instance_prefix),
                        instances: 4,
                        history: Duration::from_secs(6 * 3600),
                        horizon: Duration::from_secs(24 * 3600),
                        mean_gap_seconds: 90.0,
                        multi_instance_one_in: sample.multi_instance_one_in,
                    },
                    now,
                );
            }
            targets.push((provider.kind(), sample.regions));
        }
        accounts.push((
            format!("demo-{}", cloud.name()),
            demo_account.credentials,
            cloud.name(),
            targets,
        ));
    }
    let address = simulator
        .start()
        .await
        .map_err(|e| format!("cannot start the simulated cloud on loopback: {e}"))?;
    let endpoint = format!("http://{address}");
    // JSON is YAML, and the config is read by the same parser either way.
    let config_value = json!({
        "global": { "lookback": "24h", "min_interval": "5s" },
        "accounts": accounts
            .into_iter()
            .map(|(name, credentials, provider, targets)| json!({
                "name": name,
                "provider": provider,
                "credentials": credentials,
                "targets": targets
                    .into_iter()
                    .map(|(kind, regions)| json!({
                        "kind": kind,
                        "regions": regions,
                        "endpoint": endpoint,
                    }))
                    .collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>(),
    });
    let config_yaml =
        serde_json::to_string_pretty(&config_value).map_err(|e| format!("demo config: {e}"))?;
    let config = Config::parse(&config_yaml).map_err(|e| format!("demo config: {e}"))?;
    Ok(Demo {
        simulator,
        address,
        config,
        config_yaml,
    })
}
