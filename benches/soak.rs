//! `cargo bench --bench soak`: the exporter under a long run of scrapes against the demo world
//! with faults on, its resident memory sampled every minute. Run by hand (an hour by default;
//! `SOAK_SECS` sets another length, rounded up to whole minutes). The figures go in README.
//!
//! The release binary runs as a child process, so its RSS is the exporter's alone; the
//! simulated cloud runs in this process. Every minute each API kind gets the next fault of a
//! rotation (offset per kind, so some kinds are always healthy while others hang, reset, drip,
//! send huge or cut-short bodies, or answer with a mix of server errors, throttling and
//! malformed JSON). One scrape a second, as Prometheus with `scrape_interval: 1s` would send.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloud_task_exporter::{demo, providers};
use cloud_task_simulator::{Faults, Framing, Spoilt};

/// The faults one kind goes through, a minute each.
fn rotation() -> Vec<(&'static str, Faults)> {
    let mixed = Faults {
        latency: Duration::from_millis(20),
        server_errors: 0.1,
        throttling: 0.1,
        malformed: 0.05,
        ..Faults::default()
    };
    vec![
        ("healthy", Faults::default()),
        ("mixed errors", mixed),
        (
            "hang",
            Faults {
                hang: true,
                ..Faults::default()
            },
        ),
        (
            "reset",
            Faults {
                reset: true,
                ..Faults::default()
            },
        ),
        (
            "slow drip",
            Faults {
                spoil: Some(Spoilt::SlowDrip),
                ..Faults::default()
            },
        ),
        (
            "truncated",
            Faults {
                spoil: Some(Spoilt::Truncated),
                ..Faults::default()
            },
        ),
        (
            "huge, chunked",
            Faults {
                spoil: Some(Spoilt::Huge {
                    bytes: 32 << 20,
                    framing: Framing::Chunked,
                }),
                ..Faults::default()
            },
        ),
        (
            "huge, announced",
            Faults {
                spoil: Some(Spoilt::Huge {
                    bytes: 32 << 20,
                    framing: Framing::ContentLength,
                }),
                ..Faults::default()
            },
        ),
    ]
}

struct Exporter {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a copy of the release binary (so a rebuild during the run cannot touch it).
fn start_exporter(config_yaml: &str) -> Exporter {
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = dir.path().join("cloud-task-exporter");
    std::fs::copy(env!("CARGO_BIN_EXE_cloud-task-exporter"), &binary).expect("copy the binary");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, config_yaml).expect("write config");
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.to_string())
        .expect("a free loopback port");
    let child = Command::new(&binary)
        .arg("--config.file")
        .arg(&config)
        .args(["--web.listen-address", &address, "--log.level", "error"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the exporter");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(Instant::now() < deadline, "the exporter did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Exporter {
        child,
        address,
        _dir: dir,
    }
}

/// A `key: value kB` field of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The values of every sample line starting with `prefix`, summed.
fn sum_of(body: &str, prefix: &str) -> f64 {
    body.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

#[derive(Default)]
struct Minute {
    scrapes: u32,
    failed: u32,
    up: f64,
    slowest: Duration,
}

#[tokio::main]
async fn main() {
    let total = Duration::from_secs(
        std::env::var("SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3600),
    );
    let demo = demo::start(0x50a6).await.expect("start the demo world");
    let exporter = start_exporter(&demo.config_yaml);
    let pid = exporter.child.id();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let rotation = rotation();
    println!(
        "soak: {} s of 1 s scrapes (scrape timeout 1 s) against the demo with faults on",
        total.as_secs()
    );
    println!(
        "minute  rss_kib  rss_peak_kib  fds  threads  scrapes  failed  up_avg  slowest_ms  faults"
    );
    let started = Instant::now();
    let mut rss = Vec::new();
    let mut minute = 0u64;
    let mut now = Minute::default();
    let mut all_failed = 0u32;
    let mut all_scrapes = 0u32;
    let mut slowest = Duration::ZERO;
    let mut last_body = String::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut faults_now = String::new();
    loop {
        tick.tick().await;
        let elapsed = started.elapsed();
        let this_minute = elapsed.as_secs() / 60;
        if this_minute != minute || faults_now.is_empty() {
            if !faults_now.is_empty() {
                let kib = status_kib(pid, "VmRSS:");
                rss.push(kib);
                println!(
                    "{minute:>6}  {kib:>7}  {:>12}  {:>3}  {:>7}  {:>7}  {:>6}  {:>6.2}  {:>10}  {faults_now}",
                    status_kib(pid, "VmHWM:"),
                    open_fds(pid),
                    status_kib(pid, "Threads:"),
                    now.scrapes,
                    now.failed,
                    now.up / f64::from(now.scrapes.max(1)),
                    now.slowest.as_millis(),
                );
                now = Minute::default();
            }
            if elapsed >= total {
                break;
            }
            minute = this_minute;
            let names: Vec<String> = providers::names()
                .into_iter()
                .enumerate()
                .map(|(i, kind)| {
                    let (name, faults) =
                        rotation[(minute as usize + 2 * i) % rotation.len()].clone();
                    demo.simulator.set_faults(kind, faults);
                    format!("{kind}={name}")
                })
                .collect();
            faults_now = names.join(" ");
        }
        let begun = Instant::now();
        let answer = client
            .get(format!("http://{}/metrics", exporter.address))
            .header("X-Prometheus-Scrape-Timeout-Seconds", "1")
            .send()
            .await;
        let body = match answer {
            Ok(response) if response.status().is_success() => response.text().await.ok(),
            _ => None,
        };
        let took = begun.elapsed();
        now.scrapes += 1;
        all_scrapes += 1;
        now.slowest = now.slowest.max(took);
        slowest = slowest.max(took);
        match body {
            Some(body) => {
                now.up += sum_of(&body, "cloud_task_up{");
                last_body = body;
            }
            None => {
                now.failed += 1;
                all_failed += 1;
            }
        }
    }
    let first_after_warmup = rss.get(4).or(rss.first()).copied().unwrap_or(0);
    let last = rss.last().copied().unwrap_or(0);
    let peak = rss.iter().copied().max().unwrap_or(0);
    println!(
        "summary: {all_scrapes} scrapes, {all_failed} failed, slowest {} ms; RSS minute 4 {first_after_warmup} KiB, last {last} KiB, highest sample {peak} KiB, peak (VmHWM) {} KiB",
        slowest.as_millis(),
        status_kib(pid, "VmHWM:"),
    );
    let outcomes: Vec<String> = [
        "ok",
        "throttled",
        "server_error",
        "timeout",
        "network_error",
        "bad_response",
    ]
    .iter()
    .map(|outcome| {
        let count: f64 = last_body
            .lines()
            .filter(|l| {
                l.starts_with("cloud_task_api_requests_total{")
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
            .sum();
        format!("{outcome}={count}")
    })
    .collect();
    println!(
        "last scrape: {} samples; API requests by outcome: {}",
        last_body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count(),
        outcomes.join(" ")
    );
}
