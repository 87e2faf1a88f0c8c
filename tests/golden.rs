//! The whole exposition, golden: a fixed simulated world for every provider kind, scraped
//! three times (the first-sweep baseline, a task finished, its histogram shown a scrape later),
//! the first and the third in the text format, and once more in OpenMetrics, compared line by line with the files in `tests/fixtures/golden/`.
//!
//! The world is anchored at a clock `T0` (now, to the whole minute): every task in it has
//! either ended or is stuck at a fixed progress, so nothing in the output depends on when the
//! test runs except absolute times, which are written relative to `T0` (`T0-7200`), and what
//! depends on how long things took (sweep and request durations, the reload time, the process'
//! own figures), whose values are written `<varies>`: their series are still compared.
//!
//! After a deliberate change of the output, regenerate and review the diff:
//! `GOLDEN_UPDATE=1 cargo test --test golden`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use cloud_task_simulator::{CdbShape, SimAccount, SimOutcome, SimTask, Simulator};
use common::{scrape_with, start_exporter};

const SECRET_ID: &str = "AKIDgoldenEXAMPLE000000000000000";
const SECRET_KEY: &str = "golden-secret-key";
const ACCESS_KEY: &str = "HWGOLDENEXAMPLE00000";
const HUAWEI_KEY: &str = "golden-huawei-secret";
const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const ACCESS_KEY_ID: &str = "LTAIgoldenEXAMPLE";
const ALIBABA_SECRET: &str = "golden-alibaba-secret";

/// Metrics whose values depend on timing, not on the world.
const VARYING: [&str; 8] = [
    "cloud_task_sweep_duration_seconds",
    "cloud_task_last_sweep_success_timestamp_seconds",
    "cloud_task_api_request_duration_seconds_bucket",
    "cloud_task_api_request_duration_seconds_sum",
    "cloud_task_rate_limit_wait_seconds",
    "cloud_task_config_last_reload_success_timestamp_seconds",
    "process_",
    "cloud_task_exporter_build_info",
];

/// Metrics whose values are absolute times of the world.
const WORLD_TIMES: [&str; 1] = ["cloud_task_start_timestamp_seconds"];

struct Planned {
    id: u64,
    task_type: &'static str,
    instances: Vec<&'static str>,
    /// Start, seconds before T0.
    ago: i64,
    /// `None`: stuck (running, or paused for `SimOutcome::Pause`) at `progress`.
    seconds: Option<u64>,
    outcome: SimOutcome,
    progress: f64,
}

/// One API kind's share of the world: finished tasks of two types on two instances, one
/// failed, one stuck running (id ending in 9, finished between scrapes), one paused where the
/// API has pausing.
fn plan(types: [&'static str; 2], instances: [&'static str; 2], pause: bool) -> Vec<Planned> {
    let [a, b] = types;
    let [one, two] = instances;
    let mut tasks = vec![
        Planned {
            id: 1,
            task_type: a,
            instances: vec![one],
            ago: 5 * 3600,
            seconds: Some(95),
            outcome: SimOutcome::Succeed,
            progress: 0.0,
        },
        Planned {
            id: 2,
            task_type: a,
            instances: vec![two],
            ago: 4 * 3600,
            seconds: Some(1800),
            outcome: SimOutcome::Succeed,
            progress: 0.0,
        },
        Planned {
            id: 3,
            task_type: b,
            instances: vec![one],
            ago: 3 * 3600 + 120,
            seconds: Some(42),
            outcome: SimOutcome::Fail,
            progress: 0.0,
        },
        Planned {
            id: 9,
            task_type: b,
            instances: vec![two],
            ago: 2 * 3600,
            seconds: None,
            outcome: SimOutcome::Succeed,
            progress: 0.4,
        },
    ];
    if pause {
        tasks.push(Planned {
            id: 5,
            task_type: a,
            instances: vec![one],
            ago: 3 * 3600,
            seconds: None,
            outcome: SimOutcome::Pause,
            progress: 0.5,
        });
    }
    tasks
}

fn tasks(t0: DateTime<Utc>, plan: Vec<Planned>) -> Vec<SimTask> {
    plan.into_iter()
        .map(|p| SimTask {
            id: 100 + p.id,
            task_type: p.task_type.into(),
            instance_ids: p.instances.into_iter().map(String::from).collect(),
            start: t0 - chrono::Duration::seconds(p.ago),
            duration: p.seconds.map(Duration::from_secs),
            outcome: p.outcome,
            stuck_progress: p.progress,
            message: None,
        })
        .collect()
}

/// (kind, region, tasks): every provider kind, CDB in both of its answer shapes.
fn world(t0: DateTime<Utc>) -> Vec<(&'static str, &'static str, Vec<SimTask>)> {
    let mut cdb_batch = tasks(
        t0,
        plan(
            ["ROLLBACK", "MODIFY PARAM"],
            ["cdb-aaaa0001", "cdb-bbbb0002"],
            false,
        ),
    );
    cdb_batch.push(SimTask {
        id: 120,
        task_type: "BATCH ROLLBACK".into(),
        instance_ids: vec!["cdb-aaaa0001".into(), "cdb-bbbb0002".into()],
        start: t0 - chrono::Duration::seconds(6 * 3600),
        duration: Some(Duration::from_secs(300)),
        outcome: SimOutcome::Succeed,
        stuck_progress: 0.0,
        message: None,
    });
    vec![
        (
            "tencent_postgres",
            "ap-guangzhou",
            tasks(
                t0,
                plan(
                    ["RestoreDatabase", "ModifyDBInstanceSpec"],
                    ["postgres-aaaa0001", "postgres-bbbb0002"],
                    true,
                ),
            ),
        ),
        ("tencent_mysql", "ap-guangzhou", cdb_batch),
        (
            "tencent_mysql",
            "ap-shanghai",
            tasks(
                t0,
                plan(
                    ["IMPORT DATA", "REBOOT"],
                    ["cdb-cccc0003", "cdb-dddd0004"],
                    false,
                ),
            ),
        ),
        (
            "tencent_redis",
            "ap-guangzhou",
            tasks(
                t0,
                plan(["012", "034"], ["crs-aaaa0001", "crs-bbbb0002"], false),
            ),
        ),
        (
            "alibaba_rds",
            "cn-hangzhou",
            tasks(
                t0,
                plan(
                    ["RestartDBInstance", "ModifyDBInstanceSpec"],
                    ["rm-aaaa0001", "rm-bbbb0002"],
                    false,
                ),
            ),
        ),
        (
            "alibaba_polardb",
            "cn-qingdao",
            tasks(
                t0,
                plan(
                    ["ChangeVariable", "RestartDBNode"],
                    ["pc-aaaa0001", "pc-bbbb0002"],
                    false,
                ),
            ),
        ),
        (
            "huawei_rds",
            "cn-north-4",
            tasks(
                t0,
                plan(
                    ["CreateManualBackup", "RestoreMysqlInInstance"],
                    ["rds-aaaa0001", "rds-bbbb0002"],
                    false,
                ),
            ),
        ),
        (
            "huawei_gaussdb",
            "cn-north-4",
            tasks(
                t0,
                plan(
                    ["BackupSnapshotGaussDBV5InInstance", "ResizeGaussDBV5Flavor"],
                    ["gauss-aaaa0001", "gauss-bbbb0002"],
                    false,
                ),
            ),
        ),
        (
            "huawei_taurusdb",
            "cn-north-4",
            tasks(
                t0,
                plan(
                    ["AddGaussDBforMySQLNodes", "RebootGaussDBforMySQLInstance"],
                    ["taurus-aaaa0001", "taurus-bbbb0002"],
                    false,
                ),
            ),
        ),
        (
            "huawei_dds",
            "cn-north-4",
            tasks(
                t0,
                plan(
                    ["MongodbSnapshotBackup", "RestartReplicaSetInstance"],
                    ["dds-aaaa0001", "dds-bbbb0002"],
                    false,
                ),
            ),
        ),
    ]
}

fn config(sim: std::net::SocketAddr) -> String {
    format!(
        r#"
global:
  min_interval: 0s
accounts:
  - name: golden-tencent
    provider: tencent
    credentials: {{secret_id: {SECRET_ID}, secret_key: {SECRET_KEY}}}
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
        endpoint: http://{sim}
      - kind: tencent_mysql
        regions: [ap-guangzhou, ap-shanghai]
        endpoint: http://{sim}
      - kind: tencent_redis
        regions: [ap-guangzhou]
        endpoint: http://{sim}
  - name: golden-huawei
    provider: huawei
    credentials: {{access_key: {ACCESS_KEY}, secret_key: {HUAWEI_KEY}, project_id: {PROJECT}}}
    targets:
      - kind: huawei_rds
        regions: [cn-north-4]
        endpoint: http://{sim}
      - kind: huawei_gaussdb
        regions: [cn-north-4]
        endpoint: http://{sim}
      - kind: huawei_taurusdb
        regions: [cn-north-4]
        endpoint: http://{sim}
      - kind: huawei_dds
        regions: [cn-north-4]
        endpoint: http://{sim}
  - name: golden-alibaba
    provider: alibaba
    credentials: {{access_key_id: {ACCESS_KEY_ID}, access_key_secret: {ALIBABA_SECRET}}}
    targets:
      - kind: alibaba_rds
        regions: [cn-hangzhou]
        endpoint: http://{sim}
      - kind: alibaba_polardb
        regions: [cn-qingdao]
        endpoint: http://{sim}
"#
    )
}

/// The exposition with timing-dependent values written `<varies>`, world times relative to
/// `t0`, and the samples of each family sorted (the exporter does not promise an order).
fn normalise(exposition: &str, t0: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(exposition.len());
    let mut family: Vec<String> = Vec::new();
    let flush = |family: &mut Vec<String>, out: &mut String| {
        family.sort();
        for line in family.drain(..) {
            out.push_str(&line);
            out.push('\n');
        }
    };
    for line in exposition.lines() {
        if line.starts_with('#') {
            flush(&mut family, &mut out);
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        family.push(match line.rsplit_once(' ') {
            Some((series, _)) if VARYING.iter().any(|v| name.starts_with(v)) => {
                format!("{series} <varies>")
            }
            Some((series, value)) if WORLD_TIMES.contains(&name) => {
                let at: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
                format!("{series} T0{:+}", (at - t0.timestamp() as f64).round())
            }
            _ => line.to_owned(),
        });
    }
    flush(&mut family, &mut out);
    out
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(name)
}

/// Compares `actual` with the golden file `name` (or rewrites it with `GOLDEN_UPDATE=1`),
/// naming the first line that differs.
fn check(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("GOLDEN_UPDATE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; write it with GOLDEN_UPDATE=1 cargo test --test golden",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let (expected_lines, actual_lines): (Vec<_>, Vec<_>) =
        (expected.lines().collect(), actual.lines().collect());
    let first = expected_lines
        .iter()
        .zip(&actual_lines)
        .position(|(e, a)| e != a)
        .unwrap_or(expected_lines.len().min(actual_lines.len()));
    panic!(
        "{} differs from the output at line {}:\n  golden: {:?}\n  output: {:?}\n\
         ({} lines golden, {} output; if the change is meant, regenerate with \
         GOLDEN_UPDATE=1 cargo test --test golden and review the diff)",
        path.display(),
        first + 1,
        expected_lines.get(first),
        actual_lines.get(first),
        expected_lines.len(),
        actual_lines.len(),
    );
}

const OPENMETRICS: &str =
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exposition_of_a_fixed_world_is_unchanged() {
    let t0 = Utc::now()
        .with_nanosecond(0)
        .unwrap()
        .with_second(0)
        .unwrap();
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent(SECRET_ID, SECRET_KEY));
    sim.add_account(SimAccount::huawei(
        ACCESS_KEY,
        HUAWEI_KEY,
        &[("cn-north-4", PROJECT)],
    ));
    sim.add_account(SimAccount::alibaba(ACCESS_KEY_ID, ALIBABA_SECRET));
    sim.set_cdb_shape("ap-shanghai", CdbShape::Codes);
    let world = world(t0);
    {
        let mut sim_world = sim.world();
        for (kind, region, tasks) in &world {
            sim_world.add(kind, region, tasks.clone());
        }
    }
    let sim_addr = sim.start().await.unwrap();
    let exporter = start_exporter(&config(sim_addr)).await;

    let baseline = scrape_with(exporter, &[]).await;
    // Each stuck running task (id 109) succeeds after an hour.
    {
        let mut sim_world = sim.world();
        for (kind, region, _) in &world {
            assert!(sim_world.update(kind, region, 109, |task| {
                task.duration = Some(Duration::from_secs(3600));
            }));
        }
    }
    scrape_with(exporter, &[]).await;
    let shown = scrape_with(exporter, &[]).await;
    let openmetrics = scrape_with(exporter, &[("Accept", OPENMETRICS)]).await;

    check(
        "exposition.txt",
        &format!(
            "# first scrape: the baseline\n{}# third scrape: task 109 of each target finished, its duration observed\n{}",
            normalise(&baseline, t0),
            normalise(&shown, t0),
        ),
    );
    check("exposition.openmetrics.txt", &normalise(&openmetrics, t0));
}
