//! The multi-target pattern: `/probe?target=ACCOUNT/KIND/REGION` answers one target from the
//! same engine as `/metrics` (so mixing them never doubles API calls), `/sd` lists the targets
//! for Prometheus' HTTP service discovery, and `--shard`/`--total-shards` split the targets
//! between replicas.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use cloud_task_exporter::sweep::Shard;
use cloud_task_simulator::{SimAccount, SimOutcome, SimTask, Simulator};
use common::{Sample, parse, scrape, start_exporter_sharded};

const REGIONS: [&str; 6] = [
    "ap-guangzhou",
    "ap-shanghai",
    "ap-beijing",
    "ap-chengdu",
    "ap-nanjing",
    "ap-hongkong",
];

async fn simulator() -> (Simulator, std::net::SocketAddr) {
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent("AKIDprobe", "probe-key"));
    let now = Utc::now();
    for (n, region) in REGIONS.iter().enumerate() {
        sim.world().add(
            "tencent_postgres",
            region,
            (0..4).map(|i| SimTask {
                id: 100 * n as u64 + i,
                task_type: "RestoreDatabase".into(),
                instance_ids: vec![format!("postgres-{n}")],
                start: now - chrono::Duration::minutes(20 + i as i64),
                duration: (i != 0).then_some(Duration::from_secs(60)),
                outcome: SimOutcome::Succeed,
                stuck_progress: 0.3,
                message: None,
            }),
        );
    }
    let addr = sim.start().await.unwrap();
    (sim, addr)
}

fn config(sim: std::net::SocketAddr) -> String {
    format!(
        r#"
global:
  min_interval: 1h
accounts:
  - name: team/a
    provider: tencent
    credentials: {{secret_id: AKIDprobe, secret_key: probe-key}}
    targets:
      - kind: tencent_postgres
        regions: [{}]
        endpoint: http://{sim}
"#,
        REGIONS.join(", ")
    )
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn target_of(sample: &Sample) -> Option<String> {
    Some(format!(
        "{}/{}/{}",
        sample.labels.get("account")?,
        sample.labels.get("provider")?,
        sample.labels.get("region")?
    ))
}

/// Sorted lines of the series of `target` in an exposition, values included.
fn series_of(exposition: &str, target: &str) -> Vec<String> {
    let mut lines: Vec<String> = parse(exposition)
        .iter()
        .filter(|s| target_of(s).as_deref() == Some(target))
        .map(|s| format!("{} {:?} {}", s.name, s.labels, s.value))
        .collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_answers_one_target_from_the_engine_metrics_uses() {
    let (sim, addr) = simulator().await;
    let exporter = start_exporter_sharded(&config(addr), Shard::ALL).await;
    let target = "team/a/tencent_postgres/ap-shanghai";
    let (status, probe) = get(
        exporter,
        &format!("/probe?target={}", target.replace('/', "%2F")),
    )
    .await;
    assert_eq!(status, 200, "{probe}");
    let samples = parse(&probe);
    assert!(!samples.is_empty());
    for sample in &samples {
        assert_eq!(target_of(sample).as_deref(), Some(target), "{sample:?}");
    }
    let names: BTreeSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    for name in [
        "cloud_task_up",
        "cloud_task_tasks",
        "cloud_task_progress_ratio",
        "cloud_task_api_requests_total",
        "cloud_task_sweep_duration_seconds",
    ] {
        assert!(
            names.contains(name),
            "{name} missing from the probe: {names:?}"
        );
    }
    // One sweep of that target only.
    let after_probe = sim.request_count();
    assert_eq!(after_probe, 1);
    // /metrics now sweeps the five others; the probed target's sweep is reused
    // (min_interval), and its series there are the probe's.
    let metrics = scrape(exporter).await;
    assert_eq!(sim.request_count(), 6, "no target swept twice");
    assert_eq!(
        series_of(&metrics, target).len(),
        series_of(&probe, target).len()
    );
    let (_, again) = get(exporter, &format!("/probe?target={target}")).await;
    assert_eq!(
        sim.request_count(),
        6,
        "a probe after /metrics reuses its sweep"
    );
    let timing = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| {
                !l.contains("duration")
                    && !l.contains("last_sweep")
                    && !l.contains("rate_limit_wait")
            })
            .collect()
    };
    assert_eq!(
        timing(series_of(&metrics, target)),
        timing(series_of(&again, target))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_targets_are_400s_naming_them() {
    let (sim, addr) = simulator().await;
    let exporter = start_exporter_sharded(&config(addr), Shard::ALL).await;
    for (query, says) in [
        ("", "give exactly one target"),
        ("?target=a&target=b", "give exactly one target"),
        (
            "?target=team/a/tencent_postgres/ap-tokyo",
            "unknown target \"team/a/tencent_postgres/ap-tokyo\"",
        ),
        (
            "?target=nobody/tencent_postgres/ap-shanghai",
            "unknown target \"nobody/tencent_postgres/ap-shanghai\"",
        ),
        (
            "?target=just-a-name",
            "target \"just-a-name\" is not ACCOUNT/KIND/REGION",
        ),
        ("?target=%0Aevil%20line", "is not ACCOUNT/KIND/REGION"),
    ] {
        let (status, body) = get(exporter, &format!("/probe{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(says), "{query}: {body}");
        assert_eq!(body.lines().count(), 1, "{query}: one line, quoted: {body}");
    }
    assert_eq!(sim.request_count(), 0, "no API call for a bad probe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_discovery_lists_every_target_to_probe() {
    let (_sim, addr) = simulator().await;
    let exporter = start_exporter_sharded(&config(addr), Shard::ALL).await;
    let (status, body) = get(exporter, "/sd").await;
    assert_eq!(status, 200);
    let groups: serde_json::Value = serde_json::from_str(&body).unwrap();
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), REGIONS.len());
    for group in groups {
        assert_eq!(group["targets"], serde_json::json!([exporter.to_string()]));
        let labels = &group["labels"];
        assert_eq!(labels["__metrics_path__"], "/probe");
        assert_eq!(labels["account"], "team/a");
        assert_eq!(labels["provider"], "tencent_postgres");
        let region = labels["region"].as_str().unwrap();
        assert_eq!(
            labels["__param_target"],
            format!("team/a/tencent_postgres/{region}")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_split_the_targets_and_say_so() {
    let (sim, addr) = simulator().await;
    let yaml = config(addr);
    let shards = [
        start_exporter_sharded(&yaml, Shard::new(0, 2).unwrap()).await,
        start_exporter_sharded(&yaml, Shard::new(1, 2).unwrap()).await,
    ];
    let mut seen = BTreeSet::new();
    for (ordinal, exporter) in shards.iter().enumerate() {
        let (_, sd) = get(*exporter, "/sd").await;
        let listed: BTreeSet<String> = serde_json::from_str::<serde_json::Value>(&sd)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["labels"]["__param_target"].as_str().unwrap().to_owned())
            .collect();
        let metrics = scrape(*exporter).await;
        let samples = parse(&metrics);
        let swept: BTreeSet<String> = samples
            .iter()
            .filter(|s| s.name == "cloud_task_up")
            .filter_map(target_of)
            .collect();
        assert_eq!(listed, swept, "shard {ordinal}: /sd and /metrics agree");
        assert!(
            !listed.is_empty() && listed.len() < REGIONS.len(),
            "{listed:?}"
        );
        for name in &listed {
            assert!(seen.insert(name.clone()), "{name} is in two shards");
        }
        let gauge = |name: &str| {
            samples
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.value)
                .unwrap()
        };
        assert_eq!(gauge("cloud_task_exporter_shard_ordinal"), ordinal as f64);
        assert_eq!(gauge("cloud_task_exporter_total_shards"), 2.0);
        // A target of the other shard is not probed here.
        let other = REGIONS
            .iter()
            .map(|r| format!("team/a/tencent_postgres/{r}"))
            .find(|t| !listed.contains(t))
            .unwrap();
        let (status, body) = get(*exporter, &format!("/probe?target={other}")).await;
        assert_eq!(status, 400);
        assert!(body.contains(&format!("shard {ordinal} of 2")), "{body}");
    }
    assert_eq!(seen.len(), REGIONS.len(), "every target is in a shard");
    assert_eq!(
        sim.request_count(),
        REGIONS.len() as u64,
        "each target swept once"
    );
}
