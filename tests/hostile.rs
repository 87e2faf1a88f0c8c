//! Hostile input, over loopback: each finding of the attack on the exporter (issue 11) as a
//! test that failed before its fix. A cloud that answers absurd totals, endless bodies, tasks
//! dated in the year 9999 or one task naming 60,000 instances, a scraper that sends extreme
//! timeout headers or never finishes its headers, and a config that asks for a rate no clock
//! can keep: none of them may take the exporter down, hold a scrape past its deadline or grow
//! its memory without bound.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::upstream::{Reply, Upstream};
use common::{parse, scrape_with, start_exporter, start_exporter_with, value};

/// Now, as Tencent writes times (UTC+08:00, no zone).
fn tencent_now() -> String {
    (Utc::now() + chrono::Duration::hours(8) - chrono::Duration::minutes(5))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn postgres_task(id: u64, start: &str, status: &str) -> String {
    format!(
        r#"{{"TaskId": {id}, "StartTime": "{start}", "EndTime": "{start}", "Status": "{status}", "TaskType": "RestoreDatabase", "DBInstanceId": "postgres-1", "Progress": 10}}"#
    )
}

fn postgres_page(total: &str, tasks: &[String]) -> String {
    format!(
        r#"{{"Response": {{"RequestId": "r-1", "TotalCount": {total}, "TaskSet": [{}]}}}}"#,
        tasks.join(",")
    )
}

fn tencent_account(name: &str, kind: &str, endpoint: SocketAddr, extra: &str) -> String {
    format!(
        r#"
  - name: {name}
    provider: tencent
    credentials: {{secret_id: id, secret_key: key}}
    targets:
      - kind: {kind}
        regions: [ap-guangzhou]
        endpoint: http://{endpoint}
{extra}"#
    )
}

fn config(accounts: &[String]) -> String {
    format!(
        "global:\n  min_interval: 0s\n  lookback: 1h\naccounts:{}",
        accounts.concat()
    )
}

fn target(account: &str, provider: &str, region: &str) -> Vec<(&'static str, String)> {
    vec![
        ("account", account.to_owned()),
        ("provider", provider.to_owned()),
        ("region", region.to_owned()),
    ]
}

/// A scrape with Prometheus' timeout header of `seconds`, answered within them.
async fn scrape_in_time(exporter: SocketAddr, seconds: u64) -> String {
    let started = Instant::now();
    let text = scrape_with(exporter, &[(TIMEOUT_HEADER, &seconds.to_string())]).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(seconds),
        "a {seconds} s scrape took {took:?}"
    );
    text
}

fn labels<'a>(
    base: &'a [(&'static str, String)],
    more: &[(&'static str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    base.iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(more.iter().copied())
        .collect()
}

const TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_total_is_a_bad_response_not_an_abort() {
    // Before: `(next..total).step_by(..).collect()` allocated 80 GB for 1e12 and aborted.
    let start = tencent_now();
    let task = postgres_task(1, &start, "Running");
    let mut accounts = Vec::new();
    let mut upstreams = Vec::new();
    for (name, total) in [("t12", "1000000000000"), ("t10", "1e10"), ("t300", "1e300")] {
        let page = postgres_page(total, std::slice::from_ref(&task));
        let (addr, upstream) = Upstream::start(move |_| Reply::Json(200, page.clone())).await;
        accounts.push(tencent_account(name, "tencent_postgres", addr, ""));
        upstreams.push((name, upstream));
    }
    let huawei_page = format!(
        r#"{{"total_count": 1e12, "tasks": [{{"id": "a", "name": "RebootInstance", "instance_id": "i1", "status": "Running", "process": "10", "create_time": "{}"}}]}}"#,
        (Utc::now() - chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%S+0000")
    );
    let (huawei, huawei_upstream) =
        Upstream::start(move |_| Reply::Json(200, huawei_page.clone())).await;
    accounts.push(format!(
        r#"
  - name: h
    provider: huawei
    credentials: {{access_key: ak, secret_key: sk, project_id: p}}
    targets:
      - kind: huawei_rds
        regions: [cn-north-4]
        endpoint: http://{huawei}
"#
    ));
    let exporter = start_exporter(&config(&accounts)).await;
    let samples = parse(&scrape_in_time(exporter, 5).await);
    let mut all: Vec<_> = upstreams
        .iter()
        .map(|(name, upstream)| (target(name, "tencent_postgres", "ap-guangzhou"), upstream))
        .collect();
    all.push((target("h", "huawei_rds", "cn-north-4"), &huawei_upstream));
    for (target, upstream) in all {
        let target = labels(&target, &[]);
        assert_eq!(value(&samples, "cloud_task_up", &target), 0.0, "{target:?}");
        let bad = [target.as_slice(), &[("outcome", "bad_response")]].concat();
        assert_eq!(value(&samples, "cloud_task_api_requests_total", &bad), 1.0);
        // Only the first page was asked for: no walk through a trillion offsets.
        assert_eq!(upstream.request_count(), 1, "{target:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_the_rate_limit_cannot_fetch_in_time_is_refused_after_one_page() {
    // 50 pages at 2 requests/s do not fit in a 4 s scrape: asking for them would spend the
    // account's quota on a sweep that must time out.
    let page = postgres_page("5000", &[postgres_task(1, &tencent_now(), "Running")]);
    let (addr, upstream) = Upstream::start(move |_| Reply::Json(200, page.clone())).await;
    let yaml = config(&[tencent_account(
        "slow",
        "tencent_postgres",
        addr,
        "        rate_limit: 2\n",
    )]);
    let exporter = start_exporter(&yaml).await;
    let samples = parse(&scrape_with(exporter, &[(TIMEOUT_HEADER, "4")]).await);
    let target = target("slow", "tencent_postgres", "ap-guangzhou");
    let bad = labels(&target, &[("outcome", "bad_response")]);
    assert_eq!(value(&samples, "cloud_task_api_requests_total", &bad), 1.0);
    assert_eq!(upstream.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_is_cut_off_at_the_body_cap() {
    // Before: 1 GiB answers were buffered whole.
    let (chunked, chunked_upstream) = Upstream::start(|_| Reply::Huge {
        bytes: 256 << 20,
        content_length: false,
    })
    .await;
    let (announced, announced_upstream) = Upstream::start(|_| Reply::Huge {
        bytes: 256 << 20,
        content_length: true,
    })
    .await;
    let healthy_page = postgres_page("1", &[postgres_task(1, &tencent_now(), "Running")]);
    let (healthy, _) = Upstream::start(move |_| Reply::Json(200, healthy_page.clone())).await;
    let yaml = config(&[
        tencent_account("chunked", "tencent_postgres", chunked, ""),
        tencent_account("announced", "tencent_postgres", announced, ""),
        tencent_account("healthy", "tencent_postgres", healthy, ""),
    ]);
    let exporter = start_exporter(&yaml).await;
    let samples = parse(&scrape_in_time(exporter, 10).await);
    for name in ["chunked", "announced"] {
        let target = target(name, "tencent_postgres", "ap-guangzhou");
        let bad = labels(&target, &[("outcome", "bad_response")]);
        assert_eq!(value(&samples, "cloud_task_up", &labels(&target, &[])), 0.0);
        assert_eq!(
            value(&samples, "cloud_task_api_requests_total", &bad),
            1.0,
            "{name}"
        );
    }
    let healthy = target("healthy", "tencent_postgres", "ap-guangzhou");
    assert_eq!(
        value(&samples, "cloud_task_up", &labels(&healthy, &[])),
        1.0
    );
    // Reading stopped at the cap (8 MiB), plus what the sockets' buffers held.
    let chunked_sent = chunked_upstream
        .bytes_written
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(chunked_sent < 32 << 20, "{chunked_sent} bytes were sent");
    // An announced length over the cap is refused before reading.
    let announced_sent = announced_upstream
        .bytes_written
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        announced_sent < 32 << 20,
        "{announced_sent} bytes were sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_scrape_timeout_headers_are_answered() {
    // Before: 1e308 panicked in Duration::from_secs_f64 and 1e19 adding to an Instant.
    let page = postgres_page("1", &[postgres_task(1, &tencent_now(), "Running")]);
    let (addr, _) = Upstream::start(move |_| Reply::Json(200, page.clone())).await;
    let exporter = start_exporter(&config(&[tencent_account(
        "t",
        "tencent_postgres",
        addr,
        "",
    )]))
    .await;
    let target = target("t", "tencent_postgres", "ap-guangzhou");
    for header in [
        "1e308",
        "1e19",
        "1e9",
        "inf",
        "NaN",
        "-0",
        "0",
        "18446744073709551616",
    ] {
        let samples = parse(&scrape_with(exporter, &[(TIMEOUT_HEADER, header)]).await);
        assert_eq!(
            value(&samples, "cloud_task_up", &labels(&target, &[])),
            1.0,
            "header {header}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_api_holds_a_sweep_no_longer_than_the_request_timeout() {
    // Before: a scrape with a timeout header of 1e9 against a hung API held the target's lock
    // for ever; the next scrapes reported up 0, silently.
    let (addr, upstream) = Upstream::start(|_| Reply::Hang).await;
    let exporter = start_exporter(&config(&[tencent_account(
        "hung",
        "tencent_postgres",
        addr,
        "",
    )]))
    .await;
    let patient = tokio::spawn(async move {
        let started = Instant::now();
        let samples = parse(&scrape_with(exporter, &[(TIMEOUT_HEADER, "1e9")]).await);
        (started.elapsed(), samples)
    });
    while upstream.request_count() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let target = target("hung", "tencent_postgres", "ap-guangzhou");
    let samples = parse(&scrape_in_time(exporter, 2).await);
    assert_eq!(value(&samples, "cloud_task_up", &labels(&target, &[])), 0.0);
    assert_eq!(
        value(
            &samples,
            "cloud_task_sweep_wait_timeouts_total",
            &labels(&target, &[])
        ),
        1.0
    );
    let (took, samples) = patient.await.unwrap();
    let limit = cloud_task_exporter::sweep::REQUEST_TIMEOUT + Duration::from_secs(3);
    assert!(took < limit, "the patient scrape took {took:?}");
    let timeout = labels(&target, &[("outcome", "timeout")]);
    assert_eq!(
        value(&samples, "cloud_task_api_requests_total", &timeout),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_task_naming_60000_instances_is_skipped_within_the_deadline() {
    // Before: quadratic de-duplication took 5.9 s on a runtime thread and made 660,077
    // series; the healthy target beside it reported up 0.
    let ids: Vec<String> = (0..60_000).map(|n| format!("\"cdb-{n}\"")).collect();
    let cdb = format!(
        r#"{{"Response": {{"RequestId": "r", "TotalCount": 2, "Items": [{{"JobId": 1, "StartTime": "{start}", "TaskStatus": "RUNNING", "TaskType": "BATCH ROLLBACK", "InstanceIds": [{}]}}, {{"JobId": 2, "StartTime": "{start}", "TaskStatus": "RUNNING", "TaskType": "REBOOT", "InstanceIds": ["cdb-1"]}}]}}}}"#,
        ids.join(","),
        start = tencent_now()
    );
    let (cdb_addr, _) = Upstream::start(move |_| Reply::Json(200, cdb.clone())).await;
    let healthy_page = postgres_page("1", &[postgres_task(1, &tencent_now(), "Running")]);
    let (healthy, _) = Upstream::start(move |_| Reply::Json(200, healthy_page.clone())).await;
    let yaml = config(&[
        tencent_account("cdb", "tencent_mysql", cdb_addr, ""),
        tencent_account("healthy", "tencent_postgres", healthy, ""),
    ]);
    let exporter = start_exporter(&yaml).await;
    let text = scrape_in_time(exporter, 3).await;
    let samples = parse(&text);
    assert!(samples.len() < 1000, "{} samples", samples.len());
    let cdb = target("cdb", "tencent_mysql", "ap-guangzhou");
    assert_eq!(value(&samples, "cloud_task_up", &labels(&cdb, &[])), 1.0);
    assert_eq!(
        value(
            &samples,
            "cloud_task_skipped_entries_total",
            &labels(&cdb, &[])
        ),
        1.0
    );
    let running = labels(
        &cdb,
        &[
            ("instance_id", "cdb-1"),
            ("task_type", "REBOOT"),
            ("status", "running"),
        ],
    );
    assert_eq!(value(&samples, "cloud_task_tasks", &running), 1.0);
    let healthy = target("healthy", "tencent_postgres", "ap-guangzhou");
    assert_eq!(
        value(&samples, "cloud_task_up", &labels(&healthy, &[])),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_dated_in_the_year_9999_neither_counts_nor_pins_the_watermark() {
    // Before: every later request asked for tasks from the year 9999 on.
    let start = tencent_now();
    let page = postgres_page(
        "2",
        &[
            postgres_task(1, "9999-12-31 23:59:59", "Success"),
            postgres_task(2, &start, "Success"),
        ],
    );
    let (addr, upstream) = Upstream::start(move |_| Reply::Json(200, page.clone())).await;
    let exporter = start_exporter(&config(&[tencent_account(
        "t",
        "tencent_postgres",
        addr,
        "",
    )]))
    .await;
    scrape_with(exporter, &[]).await;
    let samples = parse(&scrape_with(exporter, &[]).await);
    let target = target("t", "tencent_postgres", "ap-guangzhou");
    assert_eq!(value(&samples, "cloud_task_up", &labels(&target, &[])), 1.0);
    assert_eq!(
        value(
            &samples,
            "cloud_task_skipped_entries_total",
            &labels(&target, &[])
        ),
        2.0
    );
    let requests = upstream.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    let body: serde_json::Value =
        serde_json::from_str(requests[1].split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let from = body["MinStartTime"].as_str().unwrap();
    assert!(from <= start.as_str(), "the second sweep asked from {from}");
}

/// Opens a connection and sends part of a request's headers, never the end.
fn slow_client(addr: SocketAddr) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_finish_their_headers_are_cut_off_and_capped() {
    // Before: they stayed open for ever, each holding a descriptor and memory, until real
    // scrapes failed for want of descriptors.
    let page = postgres_page("1", &[postgres_task(1, &tencent_now(), "Running")]);
    let (addr, _) = Upstream::start(move |_| Reply::Json(200, page.clone())).await;
    let yaml = config(&[tencent_account("t", "tencent_postgres", addr, "")]);
    let limits = cloud_task_exporter::server::Limits {
        max_connections: 20,
    };
    let exporter = start_exporter_with(&yaml, limits).await;
    let slow: Vec<_> = (0..40).map(|_| slow_client(exporter)).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Every slot is taken: a real scrape waits until the header timeout frees them.
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let response = client
        .get(format!("http://{exporter}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let waited = started.elapsed();
    let header_timeout = cloud_task_exporter::server::HEADER_READ_TIMEOUT;
    assert!(
        waited < header_timeout * 2 + Duration::from_secs(3),
        "waited {waited:?}"
    );
    // The slow clients were closed by the server.
    let closed = tokio::task::spawn_blocking(move || {
        slow.into_iter()
            .filter(|stream| {
                let mut stream = stream;
                stream
                    .set_read_timeout(Some(Duration::from_secs(25)))
                    .unwrap();
                let mut buffer = [0u8; 512];
                // A 408 answer or a plain close, then end of stream.
                loop {
                    match stream.read(&mut buffer) {
                        Ok(0) => return true,
                        Ok(_) => continue,
                        Err(e) => return e.kind() != std::io::ErrorKind::WouldBlock,
                    }
                }
            })
            .count()
    })
    .await
    .unwrap();
    assert_eq!(closed, 40);
}

#[test]
fn a_reload_with_an_impossible_rate_is_refused_and_said_so() {
    use cloud_task_exporter::exporter::{ConfigSource, Exporter};
    use cloud_task_exporter::sweep::Shard;
    // Before: rate_limit 1e-12 passed the check, governor panicked building the engine, POST
    // /-/reload answered a bare 500 and the reload metric still said 1.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let good = "accounts:\n  - name: t\n    provider: tencent\n    credentials: {secret_id: id, secret_key: key}\n    targets:\n      - kind: tencent_postgres\n        regions: [ap-guangzhou]\n        endpoint: http://127.0.0.1:9\n";
    std::fs::write(&path, good).unwrap();
    let exporter = Exporter::start(
        ConfigSource::File(path.clone()),
        None,
        "/metrics".into(),
        Shard::ALL,
    )
    .unwrap();
    std::fs::write(&path, format!("{good}        rate_limit: 1e-12\n")).unwrap();
    let error = exporter.reload().unwrap_err().to_string();
    assert!(
        error.contains("rate_limit") && error.contains("line 9"),
        "{error}"
    );
    assert!(!exporter.metrics().reload_status().0);
    std::fs::write(&path, "global:\n  lookback: 300000y\n".to_owned() + good).unwrap();
    let error = exporter.reload().unwrap_err().to_string();
    assert!(error.contains("global.lookback"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_passwords_does_not_starve_a_remembered_login() {
    use common::daemon::Daemon;
    // Before: 600 requests with wrong basic-auth passwords each ran bcrypt on the runtime, and
    // a correctly authenticated scrape waited behind them (10 s became 15.6 s). With the
    // default connection cap (512), requests queued for a password check must not hold the
    // slots either.
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    let hash = bcrypt::hash("the-right-password", 10).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: '{hash}'\n")).unwrap();
    let web_arg = format!("--web.config.file={}", web.display());
    let daemon = Daemon::start(&["--demo", &web_arg], &[]);
    let url = format!("http://{}/metrics", daemon.addr);
    let prometheus = reqwest::Client::new();
    let good_login = |url: String| async {
        let started = Instant::now();
        let response = prometheus
            .get(url)
            .basic_auth("prometheus", Some("the-right-password"))
            .header("X-Prometheus-Scrape-Timeout-Seconds", "5")
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), started.elapsed())
    };
    // The first login pays for bcrypt once and is remembered.
    let (status, first) = good_login(url.clone()).await;
    assert_eq!(status, 200);

    // No keep-alive, so every wrong password is a fresh request that must be checked.
    let attacker = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let flood: Vec<_> = (0..600)
        .map(|i| {
            let request = attacker
                .get(&url)
                .basic_auth("prometheus", Some(format!("guess-{i}")))
                .send();
            tokio::spawn(async move {
                match request.await {
                    Ok(response) => (
                        response.status().as_u16(),
                        response.headers().contains_key("retry-after"),
                    ),
                    Err(_) => (0, false),
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Timed on `/-/healthy`, which checks the password first like every path, so that what is
    // timed is the login: a scrape of `/metrics` may have to sweep the demo again (its
    // `min_interval` is 5 s, and a debug build's first bcrypt can take that long under load).
    let healthy = format!("http://{}/-/healthy", daemon.addr);
    let mut during = Vec::new();
    for _ in 0..5 {
        let (status, took) = good_login(healthy.clone()).await;
        assert_eq!(status, 200);
        during.push(took);
    }
    // And a scrape is still answered meanwhile.
    assert_eq!(good_login(url.clone()).await.0, 200);
    let mut answers = std::collections::BTreeMap::new();
    for request in flood {
        let (status, retry_after) = request.await.unwrap();
        assert!(
            status == 401 || status == 503,
            "a wrong password got {status}"
        );
        assert!(status != 503 || retry_after, "a 503 without Retry-After");
        *answers.entry(status).or_insert(0) += 1;
    }
    let slowest = during.iter().max().unwrap();
    eprintln!(
        "first login {first:?}; remembered logins during the flood {during:?}; flood answers {answers:?}"
    );
    assert!(
        *slowest < Duration::from_secs(1),
        "a remembered login waited {slowest:?} behind the flood"
    );
    assert!(
        answers.contains_key(&503),
        "the flood was never told to come back later: {answers:?}"
    );
    assert!(!daemon.logs().iter().any(|l| l.contains("panicked")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_with_the_session_token() {
    // Before: reqwest followed up to 10 redirects, and strips only Authorization and cookies
    // on the way, so a token header reached whatever host the answer named.
    let (elsewhere, elsewhere_upstream) =
        Upstream::start(|_| Reply::Json(200, postgres_page("0", &[]))).await;
    let location = format!("http://localhost:{}/", elsewhere.port());
    let (redirecting, _) = Upstream::start(move |_| Reply::Redirect(location.clone())).await;
    let account = format!(
        r#"
  - name: redirected
    provider: tencent
    credentials: {{secret_id: id, secret_key: key, token: CANARY-session-token}}
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
        endpoint: http://{redirecting}
"#
    );
    let exporter = start_exporter(&config(&[account])).await;
    let samples = parse(&scrape_in_time(exporter, 5).await);
    let target = target("redirected", "tencent_postgres", "ap-guangzhou");
    assert_eq!(value(&samples, "cloud_task_up", &labels(&target, &[])), 0.0);
    let client_error = labels(&target, &[("outcome", "client_error")]);
    assert_eq!(
        value(&samples, "cloud_task_api_requests_total", &client_error),
        1.0
    );
    assert_eq!(
        elsewhere_upstream.request_count(),
        0,
        "the redirect was followed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_smaller_than_asked_for_are_refused_not_skipped_over() {
    // An API that caps its pages at 20 while the exporter pages by 100 would have the tasks
    // from 20 to 99 skipped, silently: the sweep must fail instead.
    let start = tencent_now();
    let tasks: Vec<String> = (0..20)
        .map(|i| postgres_task(i, &start, "Running"))
        .collect();
    let page = postgres_page("150", &tasks);
    let (capped, upstream) = Upstream::start(move |_| Reply::Json(200, page.clone())).await;
    let exporter = start_exporter(&config(&[tencent_account(
        "capped",
        "tencent_postgres",
        capped,
        "",
    )]))
    .await;
    let samples = parse(&scrape_in_time(exporter, 5).await);
    let target = target("capped", "tencent_postgres", "ap-guangzhou");
    assert_eq!(value(&samples, "cloud_task_up", &labels(&target, &[])), 0.0);
    assert!(find_tasks(&samples).is_empty());
    assert_eq!(upstream.request_count(), 1);
}

fn find_tasks(samples: &[common::Sample]) -> Vec<&common::Sample> {
    common::find(samples, "cloud_task_tasks", &[])
}

fn huawei_account(name: &str, kind: &str, endpoint: SocketAddr, extra: &str) -> String {
    format!(
        r#"
  - name: {name}
    provider: huawei
    credentials: {{access_key: ak, secret_key: sk, project_id: p}}
    targets:
      - kind: {kind}
        regions: [cn-north-4]
        endpoint: http://{endpoint}
{extra}"#
    )
}

/// The number after `name=` in a request's query, if any.
fn query_number(request: &str, name: &str) -> Option<u64> {
    let start = request.find(&format!("{name}="))? + name.len() + 1;
    let digits: String = request[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_pages_without_a_total_are_read_no_longer_than_the_deadline_allows() {
    // DDS may leave `total_count` out: the sweep then pages until a page is not full. An API
    // whose pages are always full must not keep it going past the deadline or the rate.
    let created = (Utc::now() - chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%S+0000");
    let (addr, upstream) = Upstream::start(move |request| {
        let offset = query_number(request, "offset").unwrap_or(0);
        let jobs: Vec<String> = (offset..offset + 100)
            .map(|id| {
                format!(
                    r#"{{"id": "j{id}", "name": "RestartInstance", "instance_id": "i1", "status": "Completed", "progress": "", "created_at": "{created}", "ended_at": "{created}"}}"#
                )
            })
            .collect();
        Reply::Json(200, format!(r#"{{"jobs": [{}]}}"#, jobs.join(",")))
    })
    .await;
    let exporter = start_exporter(&config(&[huawei_account(
        "endless",
        "huawei_dds",
        addr,
        "        rate_limit: 20\n",
    )]))
    .await;
    let samples = parse(&scrape_in_time(exporter, 3).await);
    let target = target("endless", "huawei_dds", "cn-north-4");
    assert_eq!(value(&samples, "cloud_task_up", &labels(&target, &[])), 0.0);
    assert!(find_tasks(&samples).is_empty());
    // One page, then at most one a turn of the limiter within the 3 s.
    let sent = upstream.request_count();
    assert!((2..=1 + 3 * 20 + 1).contains(&sent), "{sent} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_reads_offset_as_a_page_number_is_refused_not_skipped_over() {
    // Huawei's Terraform provider sends openGauss page numbers as `offset`, where the
    // reference says records. Were the API to read them so, offset 100 would be page 100:
    // empty while the total says 250. The sweep must fail, not report the first 100 tasks.
    let created = (Utc::now() - chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%S+0000");
    let (addr, upstream) = Upstream::start(move |request| {
        let page = query_number(request, "offset").unwrap_or(0).max(1);
        let first = (page - 1) * 100;
        let tasks: Vec<String> = (first..(first + 100).min(250))
            .map(|id| {
                format!(
                    r#"{{"job_id": "j{id}", "name": "ResizeGaussDBV5Flavor", "status": "Completed", "process": null, "created_at": "{created}", "ended_at": "{created}", "instance_info": {{"instance_id": "i1"}}}}"#
                )
            })
            .collect();
        Reply::Json(
            200,
            format!(r#"{{"tasks": [{}], "total_count": 250}}"#, tasks.join(",")),
        )
    })
    .await;
    let exporter = start_exporter(&config(&[huawei_account(
        "pages",
        "huawei_gaussdb",
        addr,
        "",
    )]))
    .await;
    let samples = parse(&scrape_in_time(exporter, 5).await);
    let target = target("pages", "huawei_gaussdb", "cn-north-4");
    assert_eq!(value(&samples, "cloud_task_up", &labels(&target, &[])), 0.0);
    let bad = labels(&target, &[("outcome", "bad_response")]);
    assert!(value(&samples, "cloud_task_api_requests_total", &bad) >= 1.0);
    assert!(find_tasks(&samples).is_empty());
    assert!(upstream.request_count() <= 3);
}
