//! The binary run as a service is run: configuration reload by SIGHUP and `POST /-/reload`
//! (a bad file keeps the old config serving, a good one brings targets in and out, an
//! unchanged one is a no-op), and graceful shutdown on SIGTERM and SIGINT.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use cloud_task_simulator::{Faults, SimAccount, SimOutcome, SimTask, Simulator};
use common::daemon::Daemon;
use common::{find, parse, scrape, value};

const SECRET_ID: &str = "AKIDserviceEXAMPLE0000000000000";
const SECRET_KEY: &str = "service-secret-key";
const KIND: &str = "tencent_postgres";

fn tasks(count: u64) -> Vec<SimTask> {
    (0..count)
        .map(|i| SimTask {
            id: 1 + i,
            task_type: "RestoreDatabase".into(),
            instance_ids: vec!["postgres-1".into()],
            start: Utc::now() - chrono::Duration::minutes(10 + i as i64),
            duration: Some(Duration::from_secs(30)),
            outcome: SimOutcome::Succeed,
            stuck_progress: 0.5,
            message: None,
        })
        .collect()
}

async fn simulator() -> (Simulator, std::net::SocketAddr) {
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent(SECRET_ID, SECRET_KEY));
    sim.world().add(KIND, "ap-guangzhou", tasks(10));
    sim.world().add(KIND, "ap-shanghai", tasks(5));
    let addr = sim.start().await.unwrap();
    (sim, addr)
}

/// A config watching `regions`, reusing sweeps for an hour so that request counts show what
/// a reload rebuilt.
fn write_config(path: &Path, sim: std::net::SocketAddr, regions: &str) {
    std::fs::write(
        path,
        format!(
            "global:\n  min_interval: 1h\naccounts:\n  - name: test\n    provider: tencent\n    credentials: {{secret_id: {SECRET_ID}, secret_key: {SECRET_KEY}}}\n    targets:\n      - kind: {KIND}\n        regions: [{regions}]\n        endpoint: http://{sim}\n"
        ),
    )
    .unwrap();
}

fn up(samples: &[common::Sample], region: &str) -> Option<f64> {
    find(samples, "cloud_task_up", &[("region", region)])
        .first()
        .map(|s| s.value)
}

async fn post(daemon: &Daemon, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("http://{}{path}", daemon.addr))
        .send()
        .await
        .expect("POST");
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_a_bad_file_out_and_brings_a_good_one_in() {
    let (sim, sim_addr) = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cloud-task-exporter.yaml");
    write_config(&config, sim_addr, "ap-guangzhou");
    let config_arg = format!("--config.file={}", config.display());
    let daemon = Daemon::start(&[&config_arg], &[]);

    let samples = parse(&scrape(daemon.addr).await);
    assert_eq!(up(&samples, "ap-guangzhou"), Some(1.0));
    assert_eq!(
        value(&samples, "cloud_task_config_last_reload_successful", &[]),
        1.0
    );
    assert_eq!(sim.requests_of(KIND), 1);

    // A typo: SIGHUP logs where it is, and the running config keeps serving.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("min_interval", "min_intervall"),
    )
    .unwrap();
    daemon.signal("HUP");
    let error = daemon.wait_for_log("reload failed", Duration::from_secs(5));
    assert!(
        error.contains("unknown field `min_intervall`") && error.contains("line 2"),
        "{error}"
    );
    let samples = parse(&scrape(daemon.addr).await);
    assert_eq!(up(&samples, "ap-guangzhou"), Some(1.0));
    assert_eq!(
        value(&samples, "cloud_task_config_last_reload_successful", &[]),
        0.0
    );
    assert_eq!(
        sim.requests_of(KIND),
        1,
        "the old engine still reuses its sweep"
    );

    let response = reqwest::get(format!("http://{}/-/reload", daemon.addr))
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");

    // The fixed file adds a region: it is swept cold, the kept one keeps its window.
    write_config(&config, sim_addr, "ap-guangzhou, ap-shanghai");
    let (status, body) = post(&daemon, "/-/reload").await;
    assert_eq!((status, body.as_str()), (200, "Reloaded.\n"));
    let applied = daemon.wait_for_log("new configuration in force", Duration::from_secs(1));
    let applied: serde_json::Value = serde_json::from_str(&applied).unwrap();
    assert_eq!(applied["fields"]["kept"], 1, "{applied}");
    assert_eq!(applied["fields"]["added"], 1, "{applied}");
    let samples = parse(&scrape(daemon.addr).await);
    assert_eq!(up(&samples, "ap-guangzhou"), Some(1.0));
    assert_eq!(up(&samples, "ap-shanghai"), Some(1.0));
    assert_eq!(
        value(&samples, "cloud_task_config_last_reload_successful", &[]),
        1.0
    );
    let shanghai = find(
        &samples,
        "cloud_task_tasks",
        &[("region", "ap-shanghai"), ("status", "succeeded")],
    );
    assert_eq!(shanghai.iter().map(|s| s.value).sum::<f64>(), 5.0);
    assert_eq!(sim.requests_of(KIND), 3);

    // The same file again changes nothing: the sweeps are still reused.
    let (status, _) = post(&daemon, "/-/reload").await;
    assert_eq!(status, 200);
    daemon.wait_for_log("configuration unchanged", Duration::from_secs(1));
    let _ = scrape(daemon.addr).await;
    assert_eq!(sim.requests_of(KIND), 3);

    // A removed region leaves the exposition entirely.
    write_config(&config, sim_addr, "ap-shanghai");
    daemon.signal("HUP");
    daemon.wait_for_log("\"removed\":1", Duration::from_secs(5));
    let samples = parse(&scrape(daemon.addr).await);
    assert_eq!(up(&samples, "ap-shanghai"), Some(1.0));
    let left: Vec<_> = samples
        .iter()
        .filter(|s| s.labels.get("region").map(String::as_str) == Some("ap-guangzhou"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A bad POSTed reload answers 500 with the reason.
    std::fs::write(&config, "accounts: []\nglobal: {lookback: 1x}\n").unwrap();
    let (status, body) = post(&daemon, "/-/reload").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("global.lookback"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_scrape_in_flight_finish_then_exits_0() {
    let (sim, sim_addr) = simulator().await;
    sim.set_faults(
        KIND,
        Faults {
            latency: Duration::from_millis(1500),
            ..Faults::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cloud-task-exporter.yaml");
    write_config(&config, sim_addr, "ap-guangzhou");
    let config_arg = format!("--config.file={}", config.display());
    let daemon = Daemon::start(&[&config_arg], &[]);

    let addr = daemon.addr;
    let in_flight = tokio::spawn(async move { scrape(addr).await });
    while sim.requests_of(KIND) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let signalled = Instant::now();
    daemon.signal("TERM");
    let body = in_flight.await.expect("the scrape in flight is answered");
    assert_eq!(up(&parse(&body), "ap-guangzhou"), Some(1.0), "{body}");

    let (status, daemon) = daemon.exited(Duration::from_secs(6)).await;
    let took = signalled.elapsed();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "{}",
        daemon.logs().join("\n")
    );
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens after exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_with_an_idle_keep_alive_connection_exits_0_at_once() {
    let daemon = Daemon::start(&["--demo"], &[]);
    // Prometheus keeps its connection open between scrapes; shutdown must not wait for it.
    let client = reqwest::Client::new();
    let response = client
        .get(format!("http://{}/-/healthy", daemon.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let signalled = Instant::now();
    daemon.signal("INT");
    let (status, daemon) = daemon.exited(Duration::from_secs(5)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert!(
        signalled.elapsed() < Duration::from_secs(1),
        "took {:?}",
        signalled.elapsed()
    );
    daemon.wait_for_log("shut down", Duration::from_secs(1));
    drop(client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_just_after_start_reloads_or_stops_it_and_does_not_kill_it() {
    // `systemctl reload` or `stop` right after `start`: the handlers are installed before the
    // exporter reads its config or says it listens, so no signal meets its default action
    // (the end of the process), and one that comes while it starts takes effect once it is up.
    const STARTING: &str = "demo: simulated cloud started";
    for round in 0..15 {
        let (daemon, stop) = match round % 5 {
            0 => {
                let daemon = Daemon::start(&["--demo"], &[]);
                daemon.signal("HUP");
                daemon.wait_for_log("SIGHUP: reloading", Duration::from_secs(5));
                (daemon, "TERM")
            }
            1 => (Daemon::start(&["--demo"], &[]), "TERM"),
            2 => (Daemon::start(&["--demo"], &[]), "INT"),
            3 => (Daemon::start_until(&["--demo"], &[], STARTING), "TERM"),
            _ => {
                let daemon = Daemon::start_until(&["--demo"], &[], STARTING);
                daemon.signal("HUP");
                daemon.wait_for_log("SIGHUP: reloading", Duration::from_secs(5));
                daemon.wait_for_log("listening", Duration::from_secs(5));
                (daemon, "TERM")
            }
        };
        daemon.signal(stop);
        let (status, daemon) = daemon.exited(Duration::from_secs(10)).await;
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "round {round} ({stop}): {status:?}\n{}",
            daemon.logs().join("\n")
        );
        daemon.wait_for_log(&format!("SIG{stop}: shutting down"), Duration::from_secs(1));
    }
}
