//! The exporter against the simulated cloud over real HTTP on loopback: exact series for a
//! known task set (paged), the first-sweep baseline and deduplicated counters, and the ways a
//! target fails without failing the scrape.

mod common;

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use cloud_task_simulator::{SimAccount, SimOutcome, SimTask, Simulator};
use common::{find, parse, promtool_check_metrics, scrape, scrape_with, start_exporter, value};

const SECRET_ID: &str = "AKIDtestEXAMPLE0000000000000000000";
const SECRET_KEY: &str = "canary-secret-key-d41d8cd98f00b204";
const REGION: &str = "ap-guangzhou";
const TASKS: u64 = 150;

/// What the test expects of task `i`, decided here and nowhere else.
fn plan(i: u64) -> (&'static str, &'static str, &'static str) {
    let instance = if i.is_multiple_of(2) {
        "postgres-aaaa0001"
    } else {
        "postgres-bbbb0002"
    };
    let task_type = if i.is_multiple_of(3) {
        "RestoreDatabase"
    } else {
        "CreateInstance"
    };
    let status = match i % 10 {
        0 => "failed",
        1 => "running",
        2 => "paused",
        _ => "succeeded",
    };
    (instance, task_type, status)
}

fn now_whole_seconds() -> DateTime<Utc> {
    Utc::now().with_nanosecond(0).unwrap()
}

fn known_tasks(now: DateTime<Utc>) -> Vec<SimTask> {
    (0..TASKS)
        .map(|i| {
            let (instance, task_type, status) = plan(i);
            let (duration, outcome, stuck_progress) = match status {
                "failed" => (Some(Duration::from_secs(60)), SimOutcome::Fail, 0.0),
                "running" => (None, SimOutcome::Succeed, 0.25),
                "paused" => (None, SimOutcome::Pause, 0.5),
                _ => (Some(Duration::from_secs(60)), SimOutcome::Succeed, 0.0),
            };
            SimTask {
                id: 1000 + i,
                task_type: task_type.into(),
                instance_ids: vec![instance.into()],
                start: now - chrono::Duration::hours(2) + chrono::Duration::seconds(10 * i as i64),
                duration,
                outcome,
                stuck_progress,
                message: None,
            }
        })
        .collect()
}

async fn simulator_with_known_tasks(
    rate_limit: f64,
) -> (Simulator, std::net::SocketAddr, DateTime<Utc>) {
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent(SECRET_ID, SECRET_KEY).with_rate_limit(rate_limit));
    let now = now_whole_seconds();
    sim.world()
        .add("tencent_postgres", REGION, known_tasks(now));
    let addr = sim.start().await.unwrap();
    (sim, addr, now)
}

fn config(sim_addr: std::net::SocketAddr, secret_key: &str) -> String {
    format!(
        r#"
global:
  min_interval: 0s
accounts:
  - name: test
    provider: tencent
    credentials: {{secret_id: {SECRET_ID}, secret_key: "{secret_key}"}}
    targets:
      - kind: tencent_postgres
        regions: [{REGION}]
        endpoint: http://{sim_addr}
"#
    )
}

const TARGET: [(&str, &str); 3] = [
    ("account", "test"),
    ("provider", "tencent_postgres"),
    ("region", REGION),
];

fn with_target<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    TARGET
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

/// `cloud_task_api_requests_total` of the test target for one outcome.
fn requests(samples: &[common::Sample], outcome: &str) -> f64 {
    value(
        samples,
        "cloud_task_api_requests_total",
        &with_target(&[("outcome", outcome)]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_task_set_gives_exact_series_across_pages() {
    let (sim, sim_addr, now) = simulator_with_known_tasks(100.0).await;
    let exporter = start_exporter(&config(sim_addr, SECRET_KEY)).await;

    let body = scrape(exporter).await;
    let samples = parse(&body);
    assert_eq!(value(&samples, "cloud_task_up", &TARGET), 1.0);
    // 150 tasks at 100 a page: two pages, two requests.
    assert_eq!(sim.request_count(), 2);
    assert_eq!(requests(&samples, "ok"), 2.0);
    assert_eq!(value(&samples, "cloud_task_api_pages_total", &TARGET), 2.0);
    for outcome in [
        "throttled",
        "auth_error",
        "client_error",
        "server_error",
        "timeout",
        "network_error",
        "bad_response",
    ] {
        assert_eq!(requests(&samples, outcome), 0.0, "{outcome}");
    }

    // Every status of every (instance, task type), counted independently from the plan.
    let instances = ["postgres-aaaa0001", "postgres-bbbb0002"];
    let types = ["RestoreDatabase", "CreateInstance"];
    let statuses = [
        "pending",
        "running",
        "paused",
        "succeeded",
        "failed",
        "cancelled",
        "unknown",
    ];
    assert_eq!(
        find(&samples, "cloud_task_tasks", &[]).len(),
        instances.len() * types.len() * statuses.len()
    );
    for instance in instances {
        for task_type in types {
            for status in statuses {
                let expected = (0..TASKS)
                    .filter(|i| plan(*i) == (instance, task_type, status))
                    .count();
                let labels = with_target(&[
                    ("instance_id", instance),
                    ("task_type", task_type),
                    ("status", status),
                ]);
                assert_eq!(
                    value(&samples, "cloud_task_tasks", &labels),
                    expected as f64,
                    "{labels:?}"
                );
            }
        }
    }

    // Progress and start time of each unfinished task, by task id.
    let unfinished: Vec<u64> = (0..TASKS)
        .filter(|i| matches!(plan(*i).2, "running" | "paused"))
        .collect();
    assert_eq!(
        find(&samples, "cloud_task_progress_ratio", &[]).len(),
        unfinished.len()
    );
    assert_eq!(
        find(&samples, "cloud_task_start_timestamp_seconds", &[]).len(),
        unfinished.len()
    );
    for i in &unfinished {
        let id = (1000 + i).to_string();
        let expected_progress = if plan(*i).2 == "running" { 0.25 } else { 0.5 };
        assert_eq!(
            value(&samples, "cloud_task_progress_ratio", &[("task_id", &id)]),
            expected_progress
        );
        let start = now - chrono::Duration::hours(2) + chrono::Duration::seconds(10 * *i as i64);
        assert_eq!(
            value(
                &samples,
                "cloud_task_start_timestamp_seconds",
                &[("task_id", &id)]
            ),
            start.timestamp() as f64
        );
    }

    // The first sweep is the baseline: nothing has finished "since the exporter started", but
    // each (instance, task type, finished status) counter exists at 0 for increase() to see.
    let finished = find(&samples, "cloud_task_finished_total", &[]);
    assert_eq!(finished.len(), instances.len() * types.len() * 3, "{body}");
    assert!(finished.iter().all(|s| s.value == 0.0), "{body}");
    assert!(!body.contains(SECRET_KEY));
    promtool_check_metrics(&body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_finishes_is_counted_once() {
    let (sim, sim_addr, _) = simulator_with_known_tasks(100.0).await;
    let exporter = start_exporter(&config(sim_addr, SECRET_KEY)).await;
    scrape(exporter).await;

    // Task 1001 (instance bbbb, CreateInstance) has been running; it fails now.
    let finished_after = {
        let mut world = sim.world();
        let mut seconds = 0;
        assert!(world.update("tencent_postgres", REGION, 1001, |task| {
            seconds = (now_whole_seconds() - task.start).num_seconds() - 1;
            task.duration = Some(Duration::from_secs(seconds as u64));
            task.outcome = SimOutcome::Fail;
        }));
        seconds as f64
    };
    let labels = with_target(&[
        ("instance_id", "postgres-bbbb0002"),
        ("task_type", "CreateInstance"),
        ("status", "failed"),
    ]);
    // The failed-duration histogram of this instance and type is new: it is shown empty first
    // and gets the observation one scrape later, so rate() sees it (the counter existed at 0
    // since the baseline, so it counts at once).
    for round in 0..3 {
        let observed = if round == 0 { 0.0 } else { 1.0 };
        let body = scrape(exporter).await;
        let samples = parse(&body);
        assert_eq!(
            value(&samples, "cloud_task_finished_total", &labels),
            1.0,
            "{body}"
        );
        assert_eq!(
            value(&samples, "cloud_task_duration_seconds_count", &labels),
            observed,
            "{body}"
        );
        assert_eq!(
            value(&samples, "cloud_task_duration_seconds_sum", &labels),
            finished_after * observed
        );
        let total: f64 = find(&samples, "cloud_task_finished_total", &[])
            .iter()
            .map(|s| s.value)
            .sum();
        assert_eq!(total, 1.0);
        let mut le_labels = labels.clone();
        le_labels.push(("le", "+Inf"));
        assert_eq!(
            value(&samples, "cloud_task_duration_seconds_bucket", &le_labels),
            observed
        );
        assert!(
            find(
                &samples,
                "cloud_task_progress_ratio",
                &[("task_id", "1001")]
            )
            .is_empty()
        );
        promtool_check_metrics(&body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_key_is_an_auth_error_and_spares_the_other_targets() {
    let (_sim, sim_addr, _) = simulator_with_known_tasks(100.0).await;
    let yaml = format!(
        r#"{good}
  - name: wrong-key
    provider: tencent
    credentials: {{secret_id: {SECRET_ID}, secret_key: not-the-key}}
    targets:
      - kind: tencent_postgres
        regions: [{REGION}]
        endpoint: http://{sim_addr}
"#,
        good = config(sim_addr, SECRET_KEY)
    );
    let exporter = start_exporter(&yaml).await;
    let body = scrape(exporter).await;
    let samples = parse(&body);
    let bad = [
        ("account", "wrong-key"),
        ("provider", "tencent_postgres"),
        ("region", REGION),
    ];
    assert_eq!(value(&samples, "cloud_task_up", &bad), 0.0);
    let mut auth = bad.to_vec();
    auth.push(("outcome", "auth_error"));
    assert_eq!(value(&samples, "cloud_task_api_requests_total", &auth), 1.0);
    assert!(find(&samples, "cloud_task_tasks", &[("account", "wrong-key")]).is_empty());
    assert!(
        find(
            &samples,
            "cloud_task_last_sweep_success_timestamp_seconds",
            &[("account", "wrong-key")]
        )
        .is_empty()
    );
    // The good account is unaffected.
    assert_eq!(value(&samples, "cloud_task_up", &TARGET), 1.0);
    assert!(!find(&samples, "cloud_task_tasks", &[("account", "test")]).is_empty());
    assert!(
        value(
            &samples,
            "cloud_task_last_sweep_success_timestamp_seconds",
            &TARGET
        ) > 1.7e9
    );
    promtool_check_metrics(&body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_api_is_cut_off_at_the_scrape_deadline() {
    // Accepts connections and never answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_addr = hung.local_addr().unwrap();
    let exporter = start_exporter(&config(hung_addr, SECRET_KEY)).await;
    let started = std::time::Instant::now();
    let body = scrape_with(exporter, &[("X-Prometheus-Scrape-Timeout-Seconds", "1.5")]).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "answered after {took:?}"
    );
    let samples = parse(&body);
    assert_eq!(value(&samples, "cloud_task_up", &TARGET), 0.0);
    assert_eq!(requests(&samples, "timeout"), 1.0);
    drop(hung);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_a_network_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let exporter = start_exporter(&config(closed_addr, SECRET_KEY)).await;
    let samples = parse(&scrape(exporter).await);
    assert_eq!(value(&samples, "cloud_task_up", &TARGET), 0.0);
    // A network error is worth retrying: four attempts, each counted.
    assert_eq!(requests(&samples, "network_error"), 4.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_share_one_sweep() {
    let (sim, sim_addr, _) = simulator_with_known_tasks(100.0).await;
    let exporter = start_exporter(
        &config(sim_addr, SECRET_KEY).replace("min_interval: 0s", "min_interval: 30s"),
    )
    .await;
    let scrapes: Vec<_> = (0..10).map(|_| tokio::spawn(scrape(exporter))).collect();
    for scrape in scrapes {
        let samples = parse(&scrape.await.unwrap());
        assert_eq!(value(&samples, "cloud_task_up", &TARGET), 1.0);
    }
    assert_eq!(
        sim.request_count(),
        2,
        "ten scrapes cost one two-page sweep"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_endpoints() {
    let (_sim, sim_addr, _) = simulator_with_known_tasks(100.0).await;
    let exporter = start_exporter(&config(sim_addr, SECRET_KEY)).await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let get = |path: &str| client.get(format!("http://{exporter}{path}"));

    let gzipped = get("/metrics")
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(
        gzipped.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );

    let prometheus_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let openmetrics = get("/metrics")
        .header("Accept", prometheus_accept)
        .send()
        .await
        .unwrap();
    assert_eq!(
        openmetrics.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(openmetrics.text().await.unwrap().ends_with("# EOF\n"));

    for (path, status) in [("/-/healthy", 200), ("/-/ready", 200), ("/nope", 404)] {
        assert_eq!(get(path).send().await.unwrap().status(), status, "{path}");
    }
    let landing = get("/").send().await.unwrap().text().await.unwrap();
    assert!(
        landing.contains("tencent_postgres") && landing.contains(REGION),
        "{landing}"
    );
    assert!(landing.contains("href=\"/metrics\""));
    assert!(
        landing.contains("DescribeTasks 2017-03-12 (TC3-HMAC-SHA256)"),
        "{landing}"
    );
    assert!(!landing.contains(SECRET_KEY));
}
