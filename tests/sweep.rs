//! The sweep engine against the simulator: incremental sweeps, retries, the rate limit as the
//! simulator sees it, hangs, parallel pages, and the window forgetting old tasks.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use cloud_task_simulator::{Faults, SimAccount, SimOutcome, SimTask, Simulator};
use common::{find, parse, scrape, scrape_with, start_exporter, value};

const SECRET_ID: &str = "AKIDsweepEXAMPLE000000000000000";
const SECRET_KEY: &str = "sweep-secret-key";
const KIND: &str = "tencent_postgres";
const REGION: &str = "ap-guangzhou";
const TARGET: [(&str, &str); 3] = [("account", "test"), ("provider", KIND), ("region", REGION)];

/// `count` tasks, one every `gap` seconds, the newest starting `newest_ago` seconds ago; the
/// last `running` of them never finish, the others took 10 s and succeeded.
fn tasks(count: u64, gap: i64, newest_ago: i64, running: u64) -> Vec<SimTask> {
    let now = Utc::now();
    (0..count)
        .map(|i| {
            let unfinished = i + running >= count;
            SimTask {
                id: 1 + i,
                task_type: "RestoreDatabase".into(),
                instance_ids: vec!["postgres-1".into()],
                start: now - chrono::Duration::seconds(newest_ago + gap * (count - 1 - i) as i64),
                duration: (!unfinished).then_some(Duration::from_secs(10)),
                outcome: SimOutcome::Succeed,
                stuck_progress: 0.5,
                message: None,
            }
        })
        .collect()
}

async fn simulator(tasks: Vec<SimTask>) -> (Simulator, std::net::SocketAddr) {
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent(SECRET_ID, SECRET_KEY));
    sim.world().add(KIND, REGION, tasks);
    let addr = sim.start().await.unwrap();
    (sim, addr)
}

/// The test account's target on the simulator, with `extra` lines after it (more keys of the
/// target, or more targets).
fn config(sim: std::net::SocketAddr, extra: &str) -> String {
    account(&format!("{}{extra}", target(REGION, sim)))
}

/// The test account with `targets` (YAML list items), swept on every scrape.
fn account(targets: &str) -> String {
    format!(
        r#"
global:
  min_interval: 0s
accounts:
  - name: test
    provider: tencent
    credentials: {{secret_id: {SECRET_ID}, secret_key: {SECRET_KEY}}}
    targets:
{targets}"#
    )
}

/// A target entry of the test kind: `regions` (comma-separated) at `endpoint`.
fn target(regions: &str, endpoint: std::net::SocketAddr) -> String {
    format!(
        "      - kind: {KIND}\n        regions: [{regions}]\n        endpoint: http://{endpoint}\n"
    )
}

fn requests(samples: &[common::Sample], outcome: &str) -> f64 {
    let labels: Vec<_> = TARGET
        .iter()
        .copied()
        .chain([("outcome", outcome)])
        .collect();
    value(samples, "cloud_task_api_requests_total", &labels)
}

fn tasks_by_status(samples: &[common::Sample], status: &str) -> f64 {
    find(samples, "cloud_task_tasks", &[("status", status)])
        .iter()
        .map(|s| s.value)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_first_sweep_one_request_per_sweep() {
    // 450 tasks over the last ~7.5 hours: five pages cold. The 3 newest are still running.
    let (sim, addr) = simulator(tasks(450, 60, 30, 3)).await;
    let exporter = start_exporter(&config(addr, "")).await;
    let samples = parse(&scrape(exporter).await);
    assert_eq!(value(&samples, "cloud_task_up", &TARGET), 1.0);
    assert_eq!(sim.requests_of(KIND), 5);
    assert_eq!(tasks_by_status(&samples, "succeeded"), 447.0);
    for sweep in 1..=3 {
        let samples = parse(&scrape(exporter).await);
        assert_eq!(value(&samples, "cloud_task_up", &TARGET), 1.0);
        assert_eq!(sim.requests_of(KIND), 5 + sweep, "sweep {sweep}");
        // The window still shows every task, though only the recent ones were asked for.
        assert_eq!(tasks_by_status(&samples, "succeeded"), 447.0);
        assert_eq!(tasks_by_status(&samples, "running"), 3.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_finishing_outside_the_newest_page_is_still_seen() {
    // The oldest unfinished task sets the mark: a task running for hours keeps being asked for.
    let mut set = tasks(150, 60, 30, 0);
    set[10].duration = None; // started ~140 minutes ago, still running
    let (sim, addr) = simulator(set).await;
    let exporter = start_exporter(&config(addr, "")).await;
    let samples = parse(&scrape(exporter).await);
    assert_eq!(tasks_by_status(&samples, "running"), 1.0);
    sim.world().update(KIND, REGION, 11, |task| {
        task.duration = Some(Duration::from_secs(60));
        task.outcome = SimOutcome::Fail;
    });
    let samples = parse(&scrape(exporter).await);
    assert_eq!(tasks_by_status(&samples, "running"), 0.0);
    assert_eq!(tasks_by_status(&samples, "failed"), 1.0);
    let failed: f64 = find(
        &samples,
        "cloud_task_finished_total",
        &[("status", "failed")],
    )
    .iter()
    .map(|s| s.value)
    .sum();
    assert_eq!(failed, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_requests_are_retried_to_success() {
    let (sim, addr) = simulator(tasks(150, 10, 30, 0)).await;
    sim.set_faults(
        KIND,
        Faults {
            throttle_next: 2,
            ..Faults::default()
        },
    );
    let exporter = start_exporter(&config(addr, "")).await;
    let samples = parse(&scrape(exporter).await);
    assert_eq!(value(&samples, "cloud_task_up", &TARGET), 1.0);
    assert_eq!(requests(&samples, "throttled"), 2.0);
    assert_eq!(requests(&samples, "ok"), 2.0);
    assert_eq!(tasks_by_status(&samples, "succeeded"), 150.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_but_not_forever() {
    let (sim, addr) = simulator(tasks(10, 10, 30, 0)).await;
    sim.set_faults(
        KIND,
        Faults {
            server_errors: 1.0,
            ..Faults::default()
        },
    );
    let exporter = start_exporter(&config(addr, "")).await;
    let samples = parse(&scrape(exporter).await);
    assert_eq!(value(&samples, "cloud_task_up", &TARGET), 0.0);
    assert_eq!(requests(&samples, "server_error"), 4.0, "four attempts");
    // A malformed body is not retried: it would be malformed again.
    sim.set_faults(
        KIND,
        Faults {
            malformed: 1.0,
            ..Faults::default()
        },
    );
    let samples = parse(&scrape(exporter).await);
    assert_eq!(requests(&samples, "bad_response"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_never_sees_more_than_the_rate_limit() {
    // 1000 tasks, ten pages, at 10 requests a second, each answered after 150 ms.
    let (sim, addr) = simulator(tasks(1000, 20, 30, 0)).await;
    sim.set_faults(
        KIND,
        Faults {
            latency: Duration::from_millis(150),
            ..Faults::default()
        },
    );
    let exporter = start_exporter(&config(addr, "        rate_limit: 10\n")).await;
    let started = std::time::Instant::now();
    let samples = parse(&scrape(exporter).await);
    let took = started.elapsed();
    assert_eq!(value(&samples, "cloud_task_up", &TARGET), 1.0);
    let arrivals = sim.arrivals(KIND);
    assert_eq!(arrivals.len(), 10);
    // Evenly spaced at 100 ms; scheduling may delay one request, never bring it early by more
    // than a little.
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(80), "gap {gap:?}");
    }
    let span = arrivals[9] - arrivals[0];
    assert!(
        span >= Duration::from_millis(880),
        "ten requests in {span:?}"
    );
    // Pages 2 to 10 are in flight together: one after another they could not arrive closer
    // than 150 ms apart (9 x 150 ms); in parallel they come every 100 ms (800 ms in all).
    let rest = arrivals[9] - arrivals[1];
    assert!(
        rest < Duration::from_millis(9 * 150),
        "pages 2-10 arrived over {rest:?}: not in parallel (sweep took {took:?})"
    );
    assert!(
        value(
            &samples,
            "cloud_task_rate_limit_wait_seconds_total",
            &TARGET
        ) > 0.5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_bounded_however_high_the_rate_limit() {
    // 300 regions of one account, 3 pages each, a rate limit that never makes anyone wait,
    // and answers that take 300 ms: without a bound, all 300 first pages (and then their
    // 600 others) would be outstanding at once, each holding a connection and a page.
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent(SECRET_ID, SECRET_KEY).with_rate_limit(1_000_000.0));
    let regions: Vec<String> = (0..300).map(|i| format!("r-{i:03}")).collect();
    {
        let mut world = sim.world();
        for region in &regions {
            world.add(KIND, region, tasks(250, 60, 30, 1));
        }
    }
    sim.set_faults(
        KIND,
        Faults {
            latency: Duration::from_millis(300),
            ..Faults::default()
        },
    );
    let addr = sim.start().await.unwrap();
    let config = account(&format!(
        "{}        rate_limit: 100000\n",
        target(&regions.join(", "), addr)
    ))
    .replace("global:", "global:\n  scrape_timeout: 60s");
    let exporter = start_exporter(&config).await;
    let samples = parse(&scrape(exporter).await);
    let up = samples
        .iter()
        .filter(|s| s.name == "cloud_task_up" && s.value == 1.0)
        .count();
    assert_eq!(up, regions.len());
    assert_eq!(sim.requests_of(KIND), 3 * regions.len());
    let peak = sim.peak_in_flight();
    let bound = cloud_task_exporter::sweep::MAX_IN_FLIGHT as u64;
    assert!(
        peak <= bound,
        "{peak} requests in flight at once, more than {bound}"
    );
    // And the bound is a bound, not a queue of one.
    assert!(peak >= bound / 2, "only {peak} requests in flight at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_regions_do_not_take_all_of_an_account_s_turns_in_flight() {
    // 70 regions of an account hang (a listener that accepts and never answers); one more
    // region of the same account and kind is healthy. The hung requests must give back their
    // turns in flight, or the healthy region waits behind them until the deadline.
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_addr = hung.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = hung.accept().await {
            held.push(stream);
        }
    });
    // Three pages: even if the healthy region's first request gets in before the hung ones,
    // its other two come after them.
    let (_sim, addr) = simulator(tasks(250, 60, 30, 1)).await;
    let regions: Vec<String> = (0..70).map(|i| format!("hung-{i:02}")).collect();
    let config = account(&format!(
        "{}        rate_limit: 1000\n{}",
        target(&regions.join(", "), hung_addr),
        target(REGION, addr)
    ));
    let exporter = start_exporter(&config).await;
    let samples =
        parse(&scrape_with(exporter, &[("X-Prometheus-Scrape-Timeout-Seconds", "8")]).await);
    assert_eq!(value(&samples, "cloud_task_up", &TARGET), 1.0);
    let hung_up = samples
        .iter()
        .filter(|s| {
            s.name == "cloud_task_up"
                && s.labels
                    .get("region")
                    .is_some_and(|r| r.starts_with("hung-"))
        })
        .map(|s| s.value)
        .collect::<Vec<_>>();
    assert_eq!(hung_up, vec![0.0; regions.len()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_api_is_down_by_the_deadline_and_spares_the_others() {
    let (sim, addr) = simulator(tasks(10, 10, 30, 0)).await;
    sim.add_account(SimAccount::tencent("AKIDother", "other-key"));
    sim.world()
        .add("tencent_redis", REGION, tasks(5, 10, 30, 0));
    sim.set_faults(
        KIND,
        Faults {
            hang: true,
            ..Faults::default()
        },
    );
    let yaml = config(
        addr,
        &format!(
            "      - kind: tencent_redis\n        regions: [{REGION}]\n        endpoint: http://{addr}\n"
        ),
    );
    let exporter = start_exporter(&yaml).await;
    let started = std::time::Instant::now();
    let body = scrape_with(exporter, &[("X-Prometheus-Scrape-Timeout-Seconds", "2")]).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "answered after {took:?}");
    let samples = parse(&body);
    assert_eq!(value(&samples, "cloud_task_up", &TARGET), 0.0);
    assert_eq!(requests(&samples, "timeout"), 1.0);
    let redis = [
        ("account", "test"),
        ("provider", "tencent_redis"),
        ("region", REGION),
    ];
    assert_eq!(value(&samples, "cloud_task_up", &redis), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_leaving_the_window_are_forgotten() {
    // With a one-minute window: one task started 56 s ago, one 5 s ago, both finished.
    let now: DateTime<Utc> = Utc::now();
    let task = |id, ago| SimTask {
        id,
        task_type: "RestoreDatabase".into(),
        instance_ids: vec!["postgres-1".into()],
        start: now - chrono::Duration::seconds(ago),
        duration: Some(Duration::from_secs(1)),
        outcome: SimOutcome::Succeed,
        stuck_progress: 0.0,
        message: None,
    };
    let (_sim, addr) = simulator(vec![task(1, 56), task(2, 5)]).await;
    let exporter =
        start_exporter(&config(addr, "").replace("global:", "global:\n  lookback: 1m")).await;
    let samples = parse(&scrape(exporter).await);
    assert_eq!(tasks_by_status(&samples, "succeeded"), 2.0);
    // The next sweep asks only from the newest start (less the overlap, within the window);
    // the old task is not in that answer, and leaves the window's memory with the window.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let samples = parse(&scrape(exporter).await);
    assert_eq!(tasks_by_status(&samples, "succeeded"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_engine_keeps_the_windows_of_unchanged_targets() {
    use cloud_task_exporter::config::Config;
    use cloud_task_exporter::metrics::Metrics;
    use cloud_task_exporter::sweep::Engine;
    use std::sync::Arc;

    let (sim, addr) = simulator(tasks(450, 60, 30, 3)).await;
    sim.world()
        .add("tencent_redis", REGION, tasks(450, 60, 30, 3));
    let metrics = Arc::new(Metrics::new(&[60.0], true));
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(10);
    let before = Engine::new(&Config::parse(&config(addr, "")).unwrap(), metrics.clone()).unwrap();
    before.collect(deadline()).await;
    assert_eq!(sim.requests_of(KIND), 5);

    // The reloaded config adds a Redis target and leaves the PostgreSQL one as it was.
    let redis = format!(
        "      - kind: tencent_redis\n        regions: [{REGION}]\n        endpoint: http://{addr}\n"
    );
    let after = Engine::new(
        &Config::parse(&config(addr, &redis)).unwrap(),
        metrics.clone(),
    )
    .unwrap();
    assert_eq!(after.carry_over_from(&before), 1);
    let reports = after.collect(deadline()).await;
    assert!(reports.iter().all(|(_, r)| r.result.is_ok()));
    assert_eq!(
        sim.requests_of(KIND),
        6,
        "the unchanged target sweeps incrementally"
    );
    assert_eq!(
        sim.requests_of("tencent_redis"),
        5,
        "the new target sweeps cold"
    );

    // A changed target (here, its filters) starts afresh.
    let filtered = Engine::new(
        &Config::parse(&config(addr, "        task_types: [RestoreDatabase]\n")).unwrap(),
        metrics,
    )
    .unwrap();
    assert_eq!(filtered.carry_over_from(&after), 0);
}
