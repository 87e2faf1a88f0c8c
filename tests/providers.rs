//! Every provider end to end over loopback: one config with every kind (CDB in two
//! regions, one per response shape), a known task set per target, and exact series back.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use cloud_task_simulator::{CdbShape, SimAccount, SimOutcome, SimTask, Simulator};
use common::{find, parse, promtool_check_metrics, scrape, start_exporter, value};

const SECRET_ID: &str = "AKIDprovidersEXAMPLE000000000000";
const SECRET_KEY: &str = "canary-tencent-key-5d41402abc4b2a76";
const ACCESS_KEY: &str = "HPUAPROVIDERSEXAMPLE";
const HUAWEI_KEY: &str = "canary-huawei-key-7215ee9c7d9dc229";
const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const ACCESS_KEY_ID: &str = "LTAIprovidersEXAMPLE";
const ALIBABA_SECRET: &str = "canary-alibaba-secret-9e107d9d372bb682";
const TASKS: u64 = 120;

/// One target of the test: the simulated API and what its raw values become.
struct Case {
    kind: &'static str,
    region: &'static str,
    account: &'static str,
    /// Raw task types as the API writes them, and the `task_type` each must become.
    task_types: [(&'static str, &'static str); 2],
    instances: [&'static str; 2],
    /// The status a task the simulator pauses is reported as (not every API can pause).
    paused_as: &'static str,
    /// Whether some tasks name both instances (CDB batch tasks).
    multi_instance: bool,
    /// The task id label of simulated task `id`.
    task_id: fn(u64) -> String,
    /// The API documents only its success status (TDSQL-C): every other is `unknown`, and
    /// so unfinished, with a progress.
    only_success_documented: bool,
}

fn decimal(id: u64) -> String {
    id.to_string()
}

fn huawei_id(id: u64) -> String {
    format!("{id:032x}")
}

/// GaussDB's and TaurusDB's task ids are UUIDs; the simulator writes its id in the last
/// groups, under a fixed prefix.
fn huawei_uuid(id: u64) -> String {
    let hex = format!("{:016x}", id);
    format!("00000000-0000-abcd-{}-{}", &hex[..4], &hex[4..])
}

/// A Huawei database's case: they differ in kind, types, instances and ids.
const fn huawei(
    kind: &'static str,
    task_types: [(&'static str, &'static str); 2],
    instances: [&'static str; 2],
    task_id: fn(u64) -> String,
) -> Case {
    Case {
        kind,
        region: "cn-north-4",
        account: "huawei",
        task_types,
        instances,
        // No pause: the simulator writes `Running`.
        paused_as: "running",
        multi_instance: false,
        task_id,
        only_success_documented: false,
    }
}

fn alibaba_id(id: u64) -> String {
    format!("t-{id:016x}")
}

/// An Alibaba product's case: they differ in kind and region only.
const fn alibaba(kind: &'static str, region: &'static str, instances: [&'static str; 2]) -> Case {
    Case {
        kind,
        region,
        account: "alibaba",
        task_types: [("ModifyInsSpec", "ModifyInsSpec"), ("HaSwitch", "HaSwitch")],
        instances,
        // The API has no pause: the simulator writes `Waiting`.
        paused_as: "pending",
        multi_instance: false,
        task_id: alibaba_id,
        only_success_documented: false,
    }
}

const CASES: [Case; 13] = [
    Case {
        kind: "tencent_postgres",
        region: "ap-guangzhou",
        account: "tencent",
        task_types: [
            ("RestoreDatabase", "RestoreDatabase"),
            ("CreateInstance", "CreateInstance"),
        ],
        instances: ["postgres-aaaa0001", "postgres-bbbb0002"],
        paused_as: "paused",
        multi_instance: false,
        task_id: decimal,
        only_success_documented: false,
    },
    Case {
        kind: "tencent_mysql",
        region: "ap-guangzhou",
        account: "tencent",
        task_types: [
            ("MODIFY PARAM", "MODIFY_PARAM"),
            ("BATCH ROLLBACK", "BATCH_ROLLBACK"),
        ],
        instances: ["cdb-names001", "cdb-names002"],
        paused_as: "paused",
        multi_instance: true,
        task_id: decimal,
        only_success_documented: false,
    },
    Case {
        kind: "tencent_mysql",
        region: "ap-shanghai",
        account: "tencent",
        task_types: [
            ("MODIFY PARAM", "MODIFY_PARAM"),
            ("BATCH ROLLBACK", "BATCH_ROLLBACK"),
        ],
        instances: ["cdb-codes001", "cdb-codes002"],
        paused_as: "paused",
        multi_instance: true,
        task_id: decimal,
        only_success_documented: false,
    },
    Case {
        kind: "tencent_redis",
        region: "ap-beijing",
        account: "tencent",
        task_types: [
            ("012", "FLOW_BACKUPINSTANCE"),
            ("034", "FLOW_MODIFYINSTANCEPARAMS"),
        ],
        instances: ["crs-aaaa0001", "crs-bbbb0002"],
        paused_as: "pending",
        multi_instance: false,
        task_id: decimal,
        only_success_documented: false,
    },
    Case {
        kind: "tencent_cynosdb",
        region: "ap-nanjing",
        account: "tencent",
        task_types: [
            ("taskCreateCluster", "taskCreateCluster"),
            ("taskRollback", "taskRollback"),
        ],
        instances: ["cynosdbmysql-ins-aaaa0001", "cynosdbmysql-ins-bbbb0002"],
        paused_as: "unknown",
        multi_instance: false,
        task_id: decimal,
        only_success_documented: true,
    },
    Case {
        kind: "huawei_rds",
        region: "cn-north-4",
        account: "huawei",
        task_types: [
            ("CreateManualBackup", "CreateManualBackup"),
            ("RestoreMysqlInInstance", "RestoreMysqlInInstance"),
        ],
        instances: [
            "4d00c7e9d22145deb889937a72b59c8ein01",
            "9f3e1b2a6c7d4e8f9a0b1c2d3e4f5a6bin01",
        ],
        paused_as: "running",
        multi_instance: false,
        task_id: huawei_id,
        only_success_documented: false,
    },
    // 120 tasks: two pages of 100.
    huawei(
        "huawei_gaussdb",
        [
            (
                "BackupSnapshotGaussDBV5InInstance",
                "BackupSnapshotGaussDBV5InInstance",
            ),
            ("ResizeGaussDBV5Flavor", "ResizeGaussDBV5Flavor"),
        ],
        [
            "ce2dce50f365430abe161bab79495a6ein14",
            "20ba433bd7ee40da9cf35064f04f9e4cin14",
        ],
        huawei_uuid,
    ),
    // Three pages of 50, asked for by page number.
    huawei(
        "huawei_taurusdb",
        [
            (
                "RestoreGaussDBforMySQLNewInstance",
                "RestoreGaussDBforMySQLNewInstance",
            ),
            (
                "RebootGaussDBforMySQLInstance",
                "RebootGaussDBforMySQLInstance",
            ),
        ],
        [
            "ede953923f06448d9be8686ef0c1378ein07",
            "3c1f0e2d9b8a47c6a5e4d3c2b1a09f8ein07",
        ],
        huawei_uuid,
    ),
    // The simulated DDS states no total: two pages of 100, the second not full.
    huawei(
        "huawei_dds",
        [
            ("MongodbSnapshotBackup", "MongodbSnapshotBackup"),
            ("RestartReplicaSetInstance", "RestartReplicaSetInstance"),
        ],
        [
            "1f311e6a299345d7bbc878874844e233in02",
            "6a7b8c9d0e1f42a3b4c5d6e7f8091a2bin02",
        ],
        huawei_id,
    ),
    alibaba("alibaba_rds", "cn-hangzhou", ["rm-aaaa0001", "rm-bbbb0002"]),
    alibaba("alibaba_redis", "cn-shanghai", ["r-aaaa0001", "r-bbbb0002"]),
    alibaba(
        "alibaba_mongodb",
        "cn-shenzhen",
        ["dds-aaaa0001", "dds-bbbb0002"],
    ),
    // PolarDB writes TotalCount as a string.
    alibaba(
        "alibaba_polardb",
        "cn-qingdao",
        ["pc-aaaa0001", "pc-bbbb0002"],
    ),
];

/// What the test plans for task `i` of a case: raw type, instances, and outcome.
struct Planned {
    raw_type: &'static str,
    task_type: &'static str,
    instances: Vec<&'static str>,
    /// `failed`, `running`, `paused` or `succeeded`, as the simulator plays it.
    plan: &'static str,
}

fn plan(case: &Case, i: u64) -> Planned {
    let (raw_type, task_type) = case.task_types[i.is_multiple_of(3) as usize];
    let first = case.instances[(i % 2) as usize];
    let instances = if case.multi_instance && i.is_multiple_of(7) {
        vec![first, case.instances[((i + 1) % 2) as usize]]
    } else {
        vec![first]
    };
    let plan = match i % 10 {
        0 => "failed",
        1 => "running",
        2 => "paused",
        _ => "succeeded",
    };
    Planned {
        raw_type,
        task_type,
        instances,
        plan,
    }
}

/// The `status` label a planned task must show.
fn expected_status(case: &Case, planned: &Planned) -> &'static str {
    if case.only_success_documented && planned.plan != "succeeded" {
        return "unknown";
    }
    match planned.plan {
        "paused" => case.paused_as,
        other => other,
    }
}

fn tasks(case: &Case, base_id: u64, now: DateTime<Utc>) -> Vec<SimTask> {
    (0..TASKS)
        .map(|i| {
            let planned = plan(case, i);
            let (duration, outcome, stuck_progress) = match planned.plan {
                "failed" => (Some(Duration::from_secs(60)), SimOutcome::Fail, 0.0),
                "running" => (None, SimOutcome::Succeed, 0.25),
                "paused" => (None, SimOutcome::Pause, 0.5),
                _ => (Some(Duration::from_secs(60)), SimOutcome::Succeed, 0.0),
            };
            SimTask {
                id: base_id + i,
                task_type: planned.raw_type.into(),
                instance_ids: planned.instances.iter().map(|s| (*s).to_owned()).collect(),
                start: now - chrono::Duration::hours(2) + chrono::Duration::seconds(10 * i as i64),
                duration,
                outcome,
                stuck_progress,
                message: (planned.plan == "failed").then(|| "simulated failure".into()),
            }
        })
        .collect()
}

async fn simulator() -> (Simulator, std::net::SocketAddr) {
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent(SECRET_ID, SECRET_KEY));
    sim.add_account(SimAccount::huawei(
        ACCESS_KEY,
        HUAWEI_KEY,
        &[("cn-north-4", PROJECT)],
    ));
    sim.add_account(SimAccount::alibaba(ACCESS_KEY_ID, ALIBABA_SECRET));
    sim.set_cdb_shape("ap-shanghai", CdbShape::Codes);
    let now = Utc::now().with_nanosecond(0).unwrap();
    for (n, case) in CASES.iter().enumerate() {
        sim.world().add(
            case.kind,
            case.region,
            tasks(case, 10_000 * (n as u64 + 1), now),
        );
    }
    (sim.clone(), sim.start().await.unwrap())
}

fn config(
    sim: std::net::SocketAddr,
    tencent_key: &str,
    huawei_key: &str,
    alibaba_secret: &str,
) -> String {
    format!(
        r#"
global:
  min_interval: 0s
accounts:
  - name: tencent
    provider: tencent
    credentials: {{secret_id: {SECRET_ID}, secret_key: "{tencent_key}"}}
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
        endpoint: http://{sim}
      - kind: tencent_mysql
        regions: [ap-guangzhou, ap-shanghai]
        endpoint: http://{sim}
      - kind: tencent_redis
        regions: [ap-beijing]
        endpoint: http://{sim}
      - kind: tencent_cynosdb
        regions: [ap-nanjing]
        endpoint: http://{sim}
  - name: huawei
    provider: huawei
    credentials:
      access_key: {ACCESS_KEY}
      secret_key: "{huawei_key}"
      project_ids: {{cn-north-4: {PROJECT}}}
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
  - name: alibaba
    provider: alibaba
    credentials: {{access_key_id: {ACCESS_KEY_ID}, access_key_secret: "{alibaba_secret}"}}
    targets:
      - kind: alibaba_rds
        regions: [cn-hangzhou]
        endpoint: http://{sim}
      - kind: alibaba_redis
        regions: [cn-shanghai]
        endpoint: http://{sim}
      - kind: alibaba_mongodb
        regions: [cn-shenzhen]
        endpoint: http://{sim}
      - kind: alibaba_polardb
        regions: [cn-qingdao]
        endpoint: http://{sim}
"#
    )
}

fn target(case: &Case) -> [(&'static str, &'static str); 3] {
    [
        ("account", case.account),
        ("provider", case.kind),
        ("region", case.region),
    ]
}

fn labels<'a>(case: &Case, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    target(case)
        .into_iter()
        .chain(extra.iter().copied())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_gives_exact_series_for_a_known_task_set() {
    let (_sim, sim_addr) = simulator().await;
    let exporter = start_exporter(&config(sim_addr, SECRET_KEY, HUAWEI_KEY, ALIBABA_SECRET)).await;
    let body = scrape(exporter).await;
    let samples = parse(&body);
    promtool_check_metrics(&body);

    let statuses = [
        "pending",
        "running",
        "paused",
        "succeeded",
        "failed",
        "cancelled",
        "unknown",
    ];
    for case in &CASES {
        let t = target(case);
        assert_eq!(value(&samples, "cloud_task_up", &t), 1.0, "{t:?}");
        assert_eq!(
            value(
                &samples,
                "cloud_task_api_requests_total",
                &labels(case, &[("outcome", "ok")])
            ),
            // 120 tasks: pages of 100, or of 50 for RDS and TaurusDB.
            if matches!(case.kind, "huawei_rds" | "huawei_taurusdb") {
                3.0
            } else {
                2.0
            },
            "{t:?}"
        );
        assert_eq!(
            value(&samples, "cloud_task_skipped_entries_total", &t),
            0.0,
            "{t:?}"
        );

        // Expected counts, from the plan alone: one per (instance named, task).
        let mut expected: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
        for i in 0..TASKS {
            let planned = plan(case, i);
            for instance in &planned.instances {
                *expected
                    .entry((instance, planned.task_type, expected_status(case, &planned)))
                    .or_default() += 1;
            }
        }
        let series = find(&samples, "cloud_task_tasks", &t);
        assert_eq!(series.len(), 2 * 2 * statuses.len(), "{t:?}");
        for instance in case.instances {
            for (_, task_type) in case.task_types {
                for status in statuses {
                    let want = expected
                        .get(&(instance, task_type, status))
                        .copied()
                        .unwrap_or(0);
                    let l = labels(
                        case,
                        &[
                            ("instance_id", instance),
                            ("task_type", task_type),
                            ("status", status),
                        ],
                    );
                    assert_eq!(
                        value(&samples, "cloud_task_tasks", &l),
                        want as f64,
                        "{l:?}"
                    );
                }
            }
        }

        // Progress of every unfinished task, by task id and instance.
        let base = 10_000 * (CASES.iter().position(|c| std::ptr::eq(c, case)).unwrap() as u64 + 1);
        let mut unfinished = 0;
        for i in 0..TASKS {
            let planned = plan(case, i);
            let progress = match planned.plan {
                "running" => 0.25,
                "paused" => 0.5,
                // An `unknown` failure is not known to be finished: it shows its progress.
                "failed" if case.only_success_documented => 0.0,
                _ => continue,
            };
            let id = (case.task_id)(base + i);
            for instance in &planned.instances {
                unfinished += 1;
                let l = labels(
                    case,
                    &[
                        ("task_id", &id),
                        ("instance_id", instance),
                        ("task_type", planned.task_type),
                    ],
                );
                assert_eq!(
                    value(&samples, "cloud_task_progress_ratio", &l),
                    progress,
                    "{l:?}"
                );
            }
        }
        assert_eq!(
            find(&samples, "cloud_task_progress_ratio", &t).len(),
            unfinished,
            "{t:?}"
        );
    }
    assert!(!body.contains(SECRET_KEY) && !body.contains(HUAWEI_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_auth_errors_for_every_provider() {
    let (_sim, sim_addr) = simulator().await;
    let exporter = start_exporter(&config(
        sim_addr,
        "wrong-tencent-key",
        "wrong-huawei-key",
        "wrong-alibaba-secret",
    ))
    .await;
    let body = scrape(exporter).await;
    let samples = parse(&body);
    for case in &CASES {
        let t = target(case);
        assert_eq!(value(&samples, "cloud_task_up", &t), 0.0, "{t:?}");
        assert_eq!(
            value(
                &samples,
                "cloud_task_api_requests_total",
                &labels(case, &[("outcome", "auth_error")])
            ),
            1.0,
            "{t:?}: not retried"
        );
        assert!(find(&samples, "cloud_task_tasks", &t).is_empty(), "{t:?}");
    }
    promtool_check_metrics(&body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alibaba_error_answers_count_under_their_outcome() {
    use common::upstream::{Reply, Upstream};
    // (HTTP status, Code, outcome): by code first, then by status.
    let cases = [
        (400, "Throttling.User", "throttled"),
        (404, "InvalidAccessKeyId.NotFound", "auth_error"),
        (400, "SignatureDoesNotMatch", "auth_error"),
        (403, "Forbidden.RAM", "auth_error"),
        (500, "InternalError", "server_error"),
        (503, "ServiceUnavailable", "server_error"),
        (400, "InvalidParameter", "client_error"),
    ];
    let mut accounts = String::new();
    let mut upstreams = Vec::new();
    for (i, (status, code, _)) in cases.iter().enumerate() {
        let body = format!(
            r#"{{"RequestId": "R-{i}", "HostId": "rds.aliyuncs.com", "Code": "{code}", "Message": "m", "Recommend": "r"}}"#
        );
        let status = *status;
        let (addr, upstream) = Upstream::start(move |_| Reply::Json(status, body.clone())).await;
        upstreams.push(upstream);
        accounts.push_str(&format!(
            r#"
  - name: case{i}
    provider: alibaba
    credentials: {{access_key_id: LTAIcase{i}, access_key_secret: s}}
    targets:
      - kind: alibaba_rds
        regions: [cn-hangzhou]
        endpoint: http://{addr}
"#
        ));
    }
    let exporter =
        start_exporter(&format!("global:\n  min_interval: 0s\naccounts:{accounts}")).await;
    let samples = parse(
        &common::scrape_with(exporter, &[("X-Prometheus-Scrape-Timeout-Seconds", "10")]).await,
    );
    for (i, (status, code, outcome)) in cases.iter().enumerate() {
        let account = format!("case{i}");
        let target = [
            ("account", account.as_str()),
            ("provider", "alibaba_rds"),
            ("region", "cn-hangzhou"),
        ];
        assert_eq!(value(&samples, "cloud_task_up", &target), 0.0, "{code}");
        let counted = value(
            &samples,
            "cloud_task_api_requests_total",
            &[target.as_slice(), &[("outcome", outcome)]].concat(),
        );
        assert!(counted >= 1.0, "{status} {code}: {counted} under {outcome}");
        // Retried only when worth it: throttling and server errors.
        let retried = matches!(*outcome, "throttled" | "server_error");
        assert_eq!(
            counted > 1.0,
            retried,
            "{status} {code}: {counted} requests"
        );
    }
}

/// Every kind sweeps incrementally: after a cold sweep of 250 finished tasks and one running,
/// the next sweep asks only from the running task on (one page), sees it finish and sees a
/// task that started since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_sweeps_incrementally() {
    const FINISHED: u64 = 250;
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent(SECRET_ID, SECRET_KEY));
    sim.add_account(SimAccount::huawei(
        ACCESS_KEY,
        HUAWEI_KEY,
        &[("cn-north-4", PROJECT)],
    ));
    sim.add_account(SimAccount::alibaba(ACCESS_KEY_ID, ALIBABA_SECRET));
    sim.set_cdb_shape("ap-shanghai", CdbShape::Codes);
    let now = Utc::now().with_nanosecond(0).unwrap();
    let task = |id: u64, ago_minutes: i64, duration: Option<Duration>| SimTask {
        id,
        task_type: "ModifyInsSpec".into(),
        instance_ids: vec!["instance-1".into()],
        start: now - chrono::Duration::minutes(ago_minutes),
        duration,
        outcome: SimOutcome::Succeed,
        stuck_progress: 0.5,
        message: None,
    };
    for (n, case) in CASES.iter().enumerate() {
        let base = 10_000 * (n as u64 + 1);
        let mut tasks: Vec<SimTask> = (0..FINISHED)
            .map(|i| task(base + i, 300 - i as i64, Some(Duration::from_secs(30))))
            .collect();
        // Running, until the test finishes it.
        tasks.push(task(base + FINISHED, 20, None));
        sim.world().add(case.kind, case.region, tasks);
    }
    let sim_addr = sim.start().await.unwrap();
    let exporter = start_exporter(&config(sim_addr, SECRET_KEY, HUAWEI_KEY, ALIBABA_SECRET)).await;

    let totals = |samples: &[common::Sample], case: &Case| {
        let mut by_status = BTreeMap::new();
        for sample in find(samples, "cloud_task_tasks", &target(case)) {
            *by_status
                .entry(sample.labels["status"].clone())
                .or_insert(0.0) += sample.value;
        }
        by_status
    };
    // TDSQL-C documents only its success status: a running task is `unknown` there.
    let unfinished = |case: &Case| {
        if case.only_success_documented {
            "unknown"
        } else {
            "running"
        }
    };
    let samples = parse(&scrape(exporter).await);
    let cold: Vec<usize> = CASES.iter().map(|c| sim.requests_of(c.kind)).collect();
    for case in &CASES {
        let t = target(case);
        assert_eq!(value(&samples, "cloud_task_up", &t), 1.0, "{t:?}");
        let by_status = totals(&samples, case);
        assert_eq!(by_status["succeeded"], FINISHED as f64, "{t:?}");
        assert_eq!(by_status[unfinished(case)], 1.0, "{t:?}");
    }

    // The running task finishes; another starts.
    for (n, case) in CASES.iter().enumerate() {
        let base = 10_000 * (n as u64 + 1);
        let mut world = sim.world();
        assert!(world.update(case.kind, case.region, base + FINISHED, |t| {
            t.duration = Some(Duration::from_secs(60));
        }));
        world.add(case.kind, case.region, [task(base + FINISHED + 1, 1, None)]);
    }
    let samples = parse(&scrape(exporter).await);
    for (n, case) in CASES.iter().enumerate() {
        let t = target(case);
        assert_eq!(value(&samples, "cloud_task_up", &t), 1.0, "{t:?}");
        let by_status = totals(&samples, case);
        assert_eq!(by_status["succeeded"], FINISHED as f64 + 1.0, "{t:?}");
        assert_eq!(by_status[unfinished(case)], 1.0, "{t:?}");
        // One page per target of the kind (CDB has two regions here).
        let targets = CASES.iter().filter(|c| c.kind == case.kind).count();
        assert_eq!(
            sim.requests_of(case.kind) - cold[n],
            targets,
            "{t:?}: the second sweep asks only for what can still change"
        );
        assert!(
            cold[n] > targets,
            "{t:?}: the cold sweep took several pages"
        );
    }
}
