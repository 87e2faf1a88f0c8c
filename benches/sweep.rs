//! `cargo bench`: the sweep engine's speed, API cost and memory, measured on the real binary
//! (a child process) against the simulator over loopback.
//!
//! (a) cold sweep of 10,000 tasks (100 pages) at 20 requests/s with 150 ms per request;
//! (b) API requests per steady-state sweep;
//! (c) scrape latency with 10,000 tasks in the window and a fresh sweep reused;
//! (d) peak RSS of the exporter with 100,000 tasks in the window;
//! (e) CPU time per steady-state scrape.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use cloud_task_simulator::{Faults, SimAccount, SimOutcome, SimTask, Simulator};

const SECRET_ID: &str = "AKIDbenchEXAMPLE0000000000000000";
const SECRET_KEY: &str = "bench-secret-key";

/// `count` tasks spread over the last 23 hours, newest 10 s ago; the 3 newest still running.
fn tasks(count: u64) -> Vec<SimTask> {
    let now = Utc::now();
    let spread = 23.0 * 3600.0;
    (0..count)
        .map(|i| {
            let ago = 10.0 + spread * (count - 1 - i) as f64 / count as f64;
            SimTask {
                id: 1 + i,
                task_type: ["RestoreDatabase", "CreateInstance", "ModifyDBInstanceSpec"]
                    [(i % 3) as usize]
                    .into(),
                instance_ids: vec![format!("postgres-bench{:03}", i % 200)],
                start: now - chrono::Duration::milliseconds((ago * 1000.0) as i64),
                duration: (i + 3 < count).then_some(Duration::from_secs(5)),
                outcome: if i % 9 == 0 {
                    SimOutcome::Fail
                } else {
                    SimOutcome::Succeed
                },
                stuck_progress: 0.5,
                message: None,
            }
        })
        .collect()
}

struct Exporter {
    child: Child,
    address: String,
    _config: tempfile::NamedTempFile,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts the release binary on `region` of the simulator and waits until it serves.
fn start_exporter(
    sim: std::net::SocketAddr,
    region: &str,
    rate_limit: u32,
    min_interval: &str,
) -> Exporter {
    let yaml = format!(
        r#"
global:
  lookback: 24h
  min_interval: {min_interval}
  scrape_timeout: 120s
accounts:
  - name: bench
    provider: tencent
    credentials: {{secret_id: {SECRET_ID}, secret_key: {SECRET_KEY}}}
    targets:
      - kind: tencent_postgres
        regions: [{region}]
        endpoint: http://{sim}
        rate_limit: {rate_limit}
"#
    );
    let config = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(config.path(), yaml).expect("write config");
    let address = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_cloud-task-exporter"))
        .args(["--config.file"])
        .arg(config.path())
        .args(["--web.listen-address", &address, "--log.level", "error"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
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
        _config: config,
    }
}

async fn scrape(client: &reqwest::Client, exporter: &Exporter) -> (Duration, String) {
    let started = Instant::now();
    let body = client
        .get(format!("http://{}/metrics", exporter.address))
        .header("X-Prometheus-Scrape-Timeout-Seconds", "120")
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    (started.elapsed(), body)
}

fn proc_field(pid: u32, file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time of a process.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    // USER_HZ is 100 on every Linux this runs on.
    Duration::from_millis(ticks * 10)
}

fn up(body: &str) -> bool {
    body.lines()
        .any(|l| l.starts_with("cloud_task_up{") && l.ends_with(" 1"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = proc_field(std::process::id(), "../meminfo", "MemTotal:") / 1024 / 1024;
    format!("{cpu}, {cores} cores, {memory} GiB")
}

#[tokio::main]
async fn main() {
    println!("machine: {}", machine());
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent(SECRET_ID, SECRET_KEY).with_rate_limit(10_000.0));
    sim.world()
        .add("tencent_postgres", "bench-10k", tasks(10_000));
    sim.world()
        .add("tencent_postgres", "bench-100k", tasks(100_000));
    let sim_addr = sim.start().await.expect("simulator");
    let client = reqwest::Client::new();

    // (a) cold sweep, (b) requests per steady-state sweep, (e) CPU per steady-state scrape.
    sim.set_faults(
        "tencent_postgres",
        Faults {
            latency: Duration::from_millis(150),
            ..Faults::default()
        },
    );
    let exporter = start_exporter(sim_addr, "bench-10k", 20, "0s");
    let before = sim.requests_of("tencent_postgres");
    let (cold, body) = scrape(&client, &exporter).await;
    assert!(up(&body), "cold sweep failed:\n{body}");
    let cold_requests = sim.requests_of("tencent_postgres") - before;
    let floor = Duration::from_secs_f64(cold_requests as f64 / 20.0);
    println!(
        "(a) cold sweep of 10,000 tasks: {cold_requests} requests in {:.2} s; floor {:.2} s; {:.2}x (goal 1.1x)",
        cold.as_secs_f64(),
        floor.as_secs_f64(),
        cold.as_secs_f64() / floor.as_secs_f64()
    );

    sim.set_faults("tencent_postgres", Faults::default());
    let sweeps = 50;
    let before = sim.requests_of("tencent_postgres");
    let cpu_before = cpu_time(exporter.child.id());
    for _ in 0..sweeps {
        let (_, body) = scrape(&client, &exporter).await;
        assert!(up(&body));
    }
    let cpu = cpu_time(exporter.child.id()) - cpu_before;
    let steady = (sim.requests_of("tencent_postgres") - before) as f64 / f64::from(sweeps);
    println!("(b) API requests per steady-state sweep: {steady:.2} (goal 1)");
    println!(
        "(e) CPU time per steady-state scrape (sweep included): {:.2} ms ({sweeps} scrapes, {} ms in all)",
        cpu.as_secs_f64() * 1000.0 / f64::from(sweeps),
        cpu.as_millis()
    );
    drop(exporter);

    // (c) scrape latency when the sweep is reused.
    let exporter = start_exporter(sim_addr, "bench-10k", 20, "1h");
    let (_, body) = scrape(&client, &exporter).await;
    assert!(up(&body));
    let mut latencies = Vec::new();
    for _ in 0..200 {
        latencies.push(scrape(&client, &exporter).await.0);
    }
    latencies.sort();
    println!(
        "(c) scrape latency, 10,000 tasks, sweep reused: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms over 200 scrapes; {} bytes (goal p50 < 20 ms)",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.9).as_secs_f64() * 1000.0,
        latencies[latencies.len() - 1].as_secs_f64() * 1000.0,
        body.len()
    );
    drop(exporter);

    // (d) peak RSS with 100,000 tasks in the window.
    let exporter = start_exporter(sim_addr, "bench-100k", 10_000, "0s");
    let started = Instant::now();
    let (_, body) = scrape(&client, &exporter).await;
    assert!(up(&body), "100k sweep failed");
    let took = started.elapsed();
    let (_, body) = scrape(&client, &exporter).await;
    assert!(up(&body));
    let pid = exporter.child.id();
    println!(
        "(d) 100,000 tasks in the window: peak RSS {:.1} MiB, RSS now {:.1} MiB (goal < 64 MB); cold sweep {:.1} s",
        proc_field(pid, "status", "VmHWM:") as f64 / 1024.0,
        proc_field(pid, "status", "VmRSS:") as f64 / 1024.0,
        took.as_secs_f64()
    );
}
