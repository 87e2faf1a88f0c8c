//! Two exporter shards and a real Prometheus that finds every target through HTTP service
//! discovery (`/sd` of each shard) and scrapes each through `/probe`: every target is scraped,
//! exactly once, and up; the shards report themselves consistent; and the simulated cloud sees
//! exactly the requests one exporter would send.
//!
//! Needs `prometheus` on the PATH: skipped without it, except under `CI=true`, where it fails.

mod common;
mod monitoring;

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use cloud_task_exporter::sweep::Shard;
use cloud_task_simulator::{SimAccount, SimOutcome, SimTask, Simulator};
use common::start_exporter_sharded;
use monitoring::prometheus::{Api, Processes, free_port};

const REGIONS: [&str; 8] = [
    "ap-guangzhou",
    "ap-shanghai",
    "ap-beijing",
    "ap-chengdu",
    "ap-nanjing",
    "ap-hongkong",
    "ap-singapore",
    "ap-tokyo",
];
const BUDGET: Duration = Duration::from_secs(60);
/// What the replicas' own job keeps of their `/metrics`, as `dashboards/scrape-configs.yml`
/// does: the targets' series come from `/probe`.
const SELF_METRICS: &str =
    "cloud_task_exporter_.*|cloud_task_config_.*|cloud_task_credentials_.*|process_.*";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_behind_http_service_discovery() {
    if !monitoring::tool_available("prometheus") {
        return;
    }
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent("AKIDshards", "shards-key"));
    let now = Utc::now();
    for (n, region) in REGIONS.iter().enumerate() {
        sim.world().add(
            "tencent_postgres",
            region,
            (0..3).map(|i| SimTask {
                id: 10 * n as u64 + i,
                task_type: "RestoreDatabase".into(),
                instance_ids: vec![format!("postgres-{n}")],
                start: now - chrono::Duration::minutes(10 + i as i64),
                duration: Some(Duration::from_secs(60)),
                outcome: SimOutcome::Succeed,
                stuck_progress: 0.0,
                message: None,
            }),
        );
    }
    let sim_addr = sim.start().await.unwrap();
    // min_interval 1h: one sweep per target for the whole test, however often it is scraped.
    let yaml = format!(
        "global:\n  min_interval: 1h\naccounts:\n  - name: prod\n    provider: tencent\n    credentials: {{secret_id: AKIDshards, secret_key: shards-key}}\n    targets:\n      - kind: tencent_postgres\n        regions: [{}]\n        endpoint: http://{sim_addr}\n",
        REGIONS.join(", ")
    );
    let shards = [
        start_exporter_sharded(&yaml, Shard::new(0, 2).unwrap()).await,
        start_exporter_sharded(&yaml, Shard::new(1, 2).unwrap()).await,
    ];

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let alerts = monitoring::path("dashboards/alerts.yml");
    let sd: String = shards
        .iter()
        .map(|s| format!("      - url: http://{s}/sd\n        refresh_interval: 1s\n"))
        .collect();
    let replicas: String = shards.iter().map(|s| format!("'{s}', ")).collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {}\n\
         scrape_configs:\n  - job_name: cloud-tasks\n    http_sd_configs:\n{sd}\
         \x20 - job_name: cloud-task-exporter\n    static_configs:\n      - targets: [{replicas}]\n\
         \x20   metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: '{SELF_METRICS}'\n        action: keep\n",
        alerts.display()
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, &config).unwrap();
    let mut processes = Processes::default();
    processes.start(
        "prometheus",
        Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}")),
        dir.path().join("prometheus.log"),
    );
    let api = Api {
        client: reqwest::Client::new(),
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + BUDGET;
    let targets = REGIONS.len() as f64;
    let mut last = String::new();
    loop {
        if api.ready().await {
            // Every target discovered and scraped through /probe, once: one series per target.
            let up = api
                .query("count(cloud_task_up{job=\"cloud-tasks\"} == 1)")
                .await;
            let series = api
                .query("count(count by (account, provider, region) (cloud_task_up))")
                .await;
            // Over every job: the replicas' own job keeps none of the targets' series.
            let all = api.query("count(cloud_task_up)").await;
            let scraped = api.query("count(up{job=\"cloud-tasks\"} == 1)").await;
            // Both replicas' own job scraped too (its first scrape may come a moment later).
            let own = api.query("count(cloud_task_exporter_shard_ordinal)").await;
            last = format!(
                "up {up:?}, distinct {series:?}, series {all:?}, scraped {scraped:?}, replicas {own:?}"
            );
            if up == Ok(vec![targets])
                && series == Ok(vec![targets])
                && all == Ok(vec![targets])
                && scraped == Ok(vec![targets])
                && own == Ok(vec![2.0])
            {
                break;
            }
        }
        assert!(
            processes.try_again(deadline).await,
            "Prometheus did not see every target up once: {last}\n{}",
            processes.logs()
        );
    }
    // Each target is its own scrape, labelled by the discovery.
    let targets_api = api
        .get("/api/v1/targets", &[("state", "active")])
        .await
        .unwrap();
    let probes: Vec<&serde_json::Value> = targets_api["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["labels"]["job"] == "cloud-tasks")
        .collect();
    assert_eq!(probes.len(), REGIONS.len());
    for probe in &probes {
        assert!(
            probe["scrapeUrl"]
                .as_str()
                .unwrap()
                .contains("/probe?target=prod%2Ftencent_postgres%2F"),
            "{probe}"
        );
        assert_eq!(probe["labels"]["account"], "prod");
    }
    // The replicas see themselves as a complete set of shards: the alert's condition is empty.
    let rule = monitoring::rules()
        .into_iter()
        .find(|rule| rule.alert.as_deref() == Some("CloudTaskExporterShardsInconsistent"))
        .unwrap();
    assert_eq!(api.query(&rule.expr).await, Ok(vec![]));
    // What one exporter would have sent: one page per target, however many scrapes.
    assert_eq!(sim.request_count(), REGIONS.len() as u64);
}
