//! A bounded load test on loopback: the real binary, 300 clients that never finish their
//! headers, and 1,000 scrapes at once (with them, two and a half times the 512-connection
//! cap). Every scrape is answered within its deadline, with the target up: slow clients
//! cannot starve real ones, and the connection cap keeps the process inside systemd's
//! default of 1,024 file descriptors.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::upstream::{Reply, Upstream};

const SLOW_CLIENTS: usize = 300;
/// Enough to be far over the connection cap beside the slow clients; 2,000 were measured to
/// take up to 9.8 s of the 10 s on one loaded core, which is throughput, not starvation.
const SCRAPES: usize = 1_000;
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// The soft limit on open files of this process, which holds every client socket.
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_and_1000_scrapes_at_once_are_all_answered_in_time() {
    let start = (chrono::Utc::now() + chrono::Duration::hours(8) - chrono::Duration::minutes(5))
        .format("%Y-%m-%d %H:%M:%S");
    let page = format!(
        r#"{{"Response": {{"RequestId": "r", "TotalCount": 1, "TaskSet": [{{"TaskId": 1, "StartTime": "{start}", "Status": "Running", "TaskType": "RestoreDatabase", "DBInstanceId": "postgres-1", "Progress": 10}}]}}}}"#
    );
    let (upstream, _) = Upstream::start(move |_| Reply::Json(200, page.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "global:\n  min_interval: 30s\naccounts:\n  - name: t\n    provider: tencent\n    credentials: {{secret_id: id, secret_key: key}}\n    targets:\n      - kind: tencent_postgres\n        regions: [ap-guangzhou]\n        endpoint: http://{upstream}\n"
        ),
    )
    .unwrap();
    let config_arg = format!("--config.file={}", config.display());
    let daemon = Daemon::start(&[&config_arg], &[]);
    let addr = daemon.addr;

    // What this process may open, less a margin: every scrape is a socket here.
    let scrapes = SCRAPES.min(open_files_limit().saturating_sub(SLOW_CLIENTS + 100));
    if scrapes < SCRAPES {
        eprintln!(
            "only {scrapes} scrapes: the open-files limit is {}",
            open_files_limit()
        );
    }

    let slow: Vec<std::net::TcpStream> = (0..SLOW_CLIENTS)
        .map(|_| {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            stream
        })
        .collect();

    let client = reqwest::Client::builder()
        .timeout(SCRAPE_TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let mut scrapes_in_flight = tokio::task::JoinSet::new();
    for _ in 0..scrapes {
        let client = client.clone();
        scrapes_in_flight.spawn(async move {
            let sent = Instant::now();
            let response = client
                .get(format!("http://{addr}/metrics"))
                .header(
                    "X-Prometheus-Scrape-Timeout-Seconds",
                    SCRAPE_TIMEOUT.as_secs().to_string(),
                )
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let body = response.text().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, body, sent.elapsed()))
        });
    }
    let mut slowest = Duration::ZERO;
    let mut failures = Vec::new();
    while let Some(joined) = scrapes_in_flight.join_next().await {
        match joined.unwrap() {
            Ok((status, body, took)) => {
                slowest = slowest.max(took);
                if status != 200 || !body.contains("cloud_task_up{") || took > SCRAPE_TIMEOUT {
                    failures.push(format!("{status} after {took:?}"));
                }
            }
            Err(error) => failures.push(error),
        }
    }
    eprintln!(
        "{scrapes} scrapes beside {SLOW_CLIENTS} slow clients: all done in {:?}, slowest {slowest:?}",
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {scrapes} scrapes failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    drop(slow);
    assert!(
        !daemon.logs().iter().any(|line| line.contains("panic")),
        "{}",
        daemon.logs().join("\n")
    );
}
