//! `cargo bench --bench scale`: the exporter at 1,000 targets and 1,000,000 tasks in the
//! window, measured on the real binary (a child process) against the simulator over loopback,
//! as `benches/sweep.rs` measures.
//!
//! One Tencent account, `tencent_postgres` in 1,000 made-up regions (`r-0000`..`r-0999`, all
//! at `endpoint: http://<simulator>`: the simulator routes by action, not host, and keeps
//! tasks per (kind, region)), 1,000 tasks per region over the last 23 hours, the 3 newest
//! still running, one in nine failed, on 10 instances and 3 task types per region.
//!
//! 1. the cold sweep: time until a `/metrics` scrape has every target up (scrape timeout
//!    600 s, rate limit 1,000 requests/s for the account's API, shared by its regions);
//! 2. steady-state `/metrics` latency (p50/p90, `min_interval: 1h`: sweeps reused) and size,
//!    as curl asks (text format, no compression) and as Prometheus asks (OpenMetrics, gzip);
//! 3. steady-state `/probe?target=ACCOUNT/KIND/REGION` latency of random targets;
//! 4. peak RSS (VmHWM) of the exporter and CPU time per steady-state scrape;
//! 5. a markdown table of the figures against the goals.
//!
//! Environment (for a quick smoke run; defaults are the full size): `SCALE_TARGETS` (1000),
//! `SCALE_TASKS_PER_TARGET` (1000), `SCALE_INSTANCES` (instances per target, 10),
//! `SCALE_SCRAPES` (20), `SCALE_PROBES` (200), `SCALE_RATE_LIMIT` (1000). `SCALE_PERF=FILE`
//! records the exporter with `perf record -g` during the steady-state scrapes;
//! `SCALE_WRAPPER="heaptrack -o FILE"` starts it under a wrapper such as heaptrack.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use cloud_task_simulator::{SimAccount, SimOutcome, SimTask, Simulator};

const SECRET_ID: &str = "AKIDscaleEXAMPLE0000000000000000";
const SECRET_KEY: &str = "scale-secret-key";
const ACCOUNT: &str = "scale";
const KIND: &str = "tencent_postgres";
const TASK_TYPES: [&str; 3] = ["RestoreDatabase", "CreateInstance", "ModifyDBInstanceSpec"];
/// The newest this many tasks of each target are still running.
const UNFINISHED_PER_TARGET: u64 = 3;

const GOAL_RSS_MB: f64 = 256.0;
const GOAL_METRICS_P50_MS: f64 = 250.0;
/// The `Accept` header Prometheus 3 sends.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
const GOAL_PROBE_P50_MS: f64 = 10.0;

fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn region(index: u64) -> String {
    format!("r-{index:04}")
}

/// The tasks of target `target`: `count` over the last 23 hours, newest 10 s ago; the newest
/// [`UNFINISHED_PER_TARGET`] still running, one in nine failed.
fn tasks(target: u64, count: u64, instances: u64, now: chrono::DateTime<Utc>) -> Vec<SimTask> {
    let spread_ms = 23.0 * 3600.0 * 1000.0;
    (0..count)
        .map(|i| {
            let ago_ms = 10_000.0 + spread_ms * (count - 1 - i) as f64 / count as f64;
            SimTask {
                id: 1 + i,
                task_type: TASK_TYPES[(i % 3) as usize].to_owned(),
                instance_ids: vec![format!("postgres-{target:04}i{:02}", i % instances.max(1))],
                start: now - chrono::Duration::milliseconds(ago_ms as i64),
                duration: (i + UNFINISHED_PER_TARGET < count).then_some(Duration::from_secs(5)),
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

/// Fills the simulator's world, the targets split over the cores.
fn build_world(sim: &Simulator, targets: u64, per_target: u64, instances: u64) {
    let now = Utc::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let chunk = targets.div_ceil(threads).max(1);
    let built: Vec<Vec<(String, Vec<SimTask>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t * chunk..((t + 1) * chunk).min(targets))
                        .map(|i| (region(i), tasks(i, per_target, instances, now)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("world builder"))
            .collect()
    });
    let mut world = sim.world();
    for (region, tasks) in built.into_iter().flatten() {
        world.add(KIND, &region, tasks);
    }
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

/// Starts the release binary on `targets` regions of the simulator and waits until it serves.
fn start_exporter(sim: std::net::SocketAddr, targets: u64, rate_limit: u64) -> Exporter {
    let regions: Vec<String> = (0..targets).map(region).collect();
    let yaml = format!(
        r#"
global:
  lookback: 24h
  min_interval: 1h
  scrape_timeout: 600s
accounts:
  - name: {ACCOUNT}
    provider: tencent
    credentials: {{secret_id: {SECRET_ID}, secret_key: {SECRET_KEY}}}
    targets:
      - kind: {KIND}
        regions: [{}]
        endpoint: http://{sim}
        rate_limit: {rate_limit}
"#,
        regions.join(", ")
    );
    let config = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(config.path(), yaml).expect("write config");
    let address = format!("127.0.0.1:{}", free_port());
    // `SCALE_WRAPPER="heaptrack -o /tmp/scale"` runs the exporter under a profiler (its
    // figures are then the wrapper's).
    let wrapper = std::env::var("SCALE_WRAPPER").unwrap_or_default();
    let mut wrapper = wrapper.split_whitespace();
    let exporter = env!("CARGO_BIN_EXE_cloud-task-exporter");
    let mut command = match wrapper.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(wrapper).arg(exporter);
            command
        }
        None => Command::new(exporter),
    };
    let child = command
        .args(["--config.file"])
        .arg(config.path())
        .args(["--web.listen-address", &address, "--log.level", "error"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the exporter");
    let deadline = Instant::now() + Duration::from_secs(30);
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

async fn get(client: &reqwest::Client, url: &str) -> (Duration, String) {
    let started = Instant::now();
    let response = client
        .get(url)
        .header("X-Prometheus-Scrape-Timeout-Seconds", "600")
        .send()
        .await
        .expect("scrape");
    let status = response.status();
    // Until the whole body is in, as a scraper waits; reading it as text comes after.
    let body = response.bytes().await.expect("body");
    let took = started.elapsed();
    let body = String::from_utf8(body.into()).expect("UTF-8 exposition");
    assert!(status.is_success(), "{url}: {status}\n{body}");
    (took, body)
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

/// Targets whose `cloud_task_up` is 1.
fn targets_up(body: &str) -> usize {
    body.lines()
        .filter(|l| l.starts_with("cloud_task_up{") && l.ends_with(" 1"))
        .count()
}

fn series(body: &str) -> usize {
    body.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// The families with the most series, largest first: `name count, ...`.
fn families(body: &str) -> String {
    let mut counts = std::collections::HashMap::<&str, usize>::new();
    for line in body
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        let family = ["_bucket", "_sum", "_count", "_total", "_created"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        *counts.entry(family).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counts
        .iter()
        .take(6)
        .map(|(name, count)| format!("{name} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "**not met**" }
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

/// `perf record` of the exporter, when `SCALE_PERF` names the output file.
fn start_perf(pid: u32) -> Option<Child> {
    let output = std::env::var("SCALE_PERF").ok()?;
    let child = Command::new("perf")
        .args(["record", "-F", "499", "-g", "-o", &output, "-p"])
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| eprintln!("perf: {e}"))
        .ok()?;
    std::thread::sleep(Duration::from_millis(500));
    Some(child)
}

fn stop_perf(perf: Option<Child>) {
    if let Some(mut perf) = perf {
        // SIGINT makes perf write its file and exit.
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
    }
}

#[tokio::main]
async fn main() {
    let run_started = Instant::now();
    let targets = env_or("SCALE_TARGETS", 1_000).max(1);
    let per_target = env_or("SCALE_TASKS_PER_TARGET", 1_000).max(UNFINISHED_PER_TARGET);
    let instances = env_or("SCALE_INSTANCES", 10).max(1);
    let scrapes = env_or("SCALE_SCRAPES", 20).max(1);
    let probes = env_or("SCALE_PROBES", 200).max(1);
    let rate_limit = env_or("SCALE_RATE_LIMIT", 1_000).max(1);
    println!("machine: {}", machine());
    println!(
        "{targets} targets x {per_target} tasks = {} tasks in the window; {instances} instances and {} task types per target; rate limit {rate_limit}/s",
        targets * per_target,
        TASK_TYPES.len()
    );

    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent(SECRET_ID, SECRET_KEY).with_rate_limit(1_000_000.0));
    let started = Instant::now();
    build_world(&sim, targets, per_target, instances);
    let bench_rss = proc_field(std::process::id(), "status", "VmRSS:") as f64 / 1024.0;
    println!(
        "world built in {:.2} s; bench process (simulator) RSS {bench_rss:.0} MiB",
        started.elapsed().as_secs_f64()
    );
    let sim_addr = sim.start().await.expect("simulator");
    let client = reqwest::Client::new();

    // 1. The cold sweep.
    let exporter = start_exporter(sim_addr, targets, rate_limit);
    let pid = exporter.child.id();
    let metrics_url = format!("http://{}/metrics", exporter.address);
    let before = sim.requests_of(KIND);
    let bench_cpu_before = cpu_time(std::process::id());
    let cold_started = Instant::now();
    let mut cold_scrapes = 0;
    let (first, mut body) = loop {
        let (took, body) = get(&client, &metrics_url).await;
        cold_scrapes += 1;
        let up = targets_up(&body);
        if up == targets as usize {
            break (took, body);
        }
        println!("cold scrape {cold_scrapes}: {up} of {targets} targets up after {took:.1?}");
        assert!(
            cold_scrapes < 5,
            "targets still down after {cold_scrapes} scrapes"
        );
    };
    let cold = cold_started.elapsed();
    let cold_requests = sim.requests_of(KIND) - before;
    let floor = Duration::from_secs_f64(cold_requests as f64 / rate_limit as f64);
    let cold_cpu = cpu_time(pid);
    let sim_cpu = cpu_time(std::process::id()) - bench_cpu_before;
    println!(
        "1. cold sweep: {:.2} s ({cold_scrapes} scrape(s), the last {:.2} s); {cold_requests} API requests; rate-limit floor {:.2} s ({:.2}x); CPU: exporter {:.2} s, simulator and client {:.2} s; RSS after {:.1} MiB",
        cold.as_secs_f64(),
        first.as_secs_f64(),
        floor.as_secs_f64(),
        cold.as_secs_f64() / floor.as_secs_f64().max(f64::MIN_POSITIVE),
        cold_cpu.as_secs_f64(),
        sim_cpu.as_secs_f64(),
        proc_field(pid, "status", "VmRSS:") as f64 / 1024.0,
    );

    // 2. Steady-state /metrics, sweeps reused, and 4. CPU per scrape.
    let perf = start_perf(pid);
    let before = sim.requests_of(KIND);
    let cpu_before = cpu_time(pid);
    let mut latencies = Vec::new();
    for _ in 0..scrapes {
        let (took, scraped) = get(&client, &metrics_url).await;
        latencies.push(took);
        body = scraped;
    }
    let steady_cpu = (cpu_time(pid) - cpu_before) / scrapes as u32;
    stop_perf(perf);
    let steady_requests = sim.requests_of(KIND) - before;
    assert_eq!(targets_up(&body), targets as usize, "targets went down");
    latencies.sort();
    let (metrics_p50, metrics_p90) = (percentile(&latencies, 0.5), percentile(&latencies, 0.9));
    println!(
        "2. /metrics, sweeps reused: p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms over {scrapes} scrapes; {:.1} MiB, {} series; {steady_requests} API requests",
        ms(metrics_p50),
        ms(metrics_p90),
        ms(latencies[latencies.len() - 1]),
        body.len() as f64 / (1 << 20) as f64,
        series(&body),
    );

    println!("   series by family: {}", families(&body));

    // 2b. The same, asked as Prometheus asks: OpenMetrics, gzip.
    let mut gzip_latencies = Vec::new();
    let mut gzip_bytes = 0;
    for _ in 0..scrapes {
        let started = Instant::now();
        let response = client
            .get(&metrics_url)
            .header("X-Prometheus-Scrape-Timeout-Seconds", "600")
            .header("Accept", PROMETHEUS_ACCEPT)
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .expect("scrape");
        assert!(response.status().is_success(), "{}", response.status());
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("content-encoding"), "gzip");
        assert!(header("content-type").starts_with("application/openmetrics-text"));
        gzip_bytes = response.bytes().await.expect("body").len();
        gzip_latencies.push(started.elapsed());
    }
    gzip_latencies.sort();
    let (gzip_p50, gzip_p90) = (
        percentile(&gzip_latencies, 0.5),
        percentile(&gzip_latencies, 0.9),
    );
    println!(
        "2b. /metrics as Prometheus asks (OpenMetrics, gzip): p50 {:.1} ms, p90 {:.1} ms over {scrapes} scrapes; {:.1} MiB compressed",
        ms(gzip_p50),
        ms(gzip_p90),
        gzip_bytes as f64 / (1 << 20) as f64,
    );

    // 3. Steady-state /probe of random targets.
    let mut rng = fastrand::Rng::with_seed(42);
    let mut probe_latencies = Vec::new();
    let mut probe_bytes = 0;
    for _ in 0..probes {
        let target = region(rng.u64(..targets));
        let url = format!(
            "http://{}/probe?target={ACCOUNT}/{KIND}/{target}",
            exporter.address
        );
        let (took, probed) = get(&client, &url).await;
        assert_eq!(targets_up(&probed), 1, "probe of {target}:\n{probed}");
        probe_latencies.push(took);
        probe_bytes += probed.len();
    }
    probe_latencies.sort();
    let (probe_p50, probe_p90) = (
        percentile(&probe_latencies, 0.5),
        percentile(&probe_latencies, 0.9),
    );
    println!(
        "3. /probe of random targets: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms over {probes} probes; {} bytes each on average",
        ms(probe_p50),
        ms(probe_p90),
        ms(probe_latencies[probe_latencies.len() - 1]),
        probe_bytes / probes as usize
    );

    // 4. Memory.
    let peak_mb = proc_field(pid, "status", "VmHWM:") as f64 / 1024.0;
    let rss_mb = proc_field(pid, "status", "VmRSS:") as f64 / 1024.0;
    println!("4. peak RSS {peak_mb:.1} MiB, RSS now {rss_mb:.1} MiB");
    drop(exporter);

    // 5. The table.
    println!();
    println!(
        "| {targets} targets, {} tasks | figure | goal | |",
        targets * per_target
    );
    println!("|---|---|---|---|");
    println!(
        "| cold sweep (first scrape with every target up) | {:.2} s, {cold_requests} requests (floor {:.2} s at {rate_limit}/s) | | |",
        cold.as_secs_f64(),
        floor.as_secs_f64()
    );
    println!(
        "| `/metrics` p50 / p90, sweeps reused ({scrapes} scrapes) | {:.1} / {:.1} ms | p50 < {GOAL_METRICS_P50_MS} ms | {} |",
        ms(metrics_p50),
        ms(metrics_p90),
        met(ms(metrics_p50) < GOAL_METRICS_P50_MS)
    );
    println!(
        "| `/metrics` exposition | {:.1} MiB, {} series | | |",
        body.len() as f64 / (1 << 20) as f64,
        series(&body)
    );
    println!(
        "| `/metrics` p50 / p90 as Prometheus asks (OpenMetrics, gzip) | {:.1} / {:.1} ms, {:.1} MiB | p50 < {GOAL_METRICS_P50_MS} ms | {} |",
        ms(gzip_p50),
        ms(gzip_p90),
        gzip_bytes as f64 / (1 << 20) as f64,
        met(ms(gzip_p50) < GOAL_METRICS_P50_MS)
    );
    println!(
        "| `/probe` p50 / p90, random targets ({probes} probes) | {:.2} / {:.2} ms | p50 < {GOAL_PROBE_P50_MS} ms | {} |",
        ms(probe_p50),
        ms(probe_p90),
        met(ms(probe_p50) < GOAL_PROBE_P50_MS)
    );
    println!(
        "| peak RSS (VmHWM) | {peak_mb:.1} MiB ({:.1} MB) | < {GOAL_RSS_MB} MB | {} |",
        peak_mb * 1.048_576,
        met(peak_mb * 1.048_576 < GOAL_RSS_MB)
    );
    println!(
        "| CPU per steady-state `/metrics` scrape | {:.1} ms | | |",
        ms(steady_cpu)
    );
    println!();
    println!("run took {:.1} s", run_started.elapsed().as_secs_f64());
}
