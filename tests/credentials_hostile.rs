//! Hostile metadata services and STSs, and the misuses an attack on the first version of
//! temporary credentials found: each test names what it guards against.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_task_exporter::config::Config;
use cloud_task_exporter::credentials::AccountCredentials;
use cloud_task_exporter::exporter::{ConfigSource, Exporter, Reloaded};
use cloud_task_exporter::metrics::Metrics;
use cloud_task_exporter::server;
use cloud_task_exporter::sweep::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CANARY: &str = "CANARY-hostile-secret-91f3";

// ---------------------------------------------------------------- a raw hostile server

#[derive(Clone)]
enum Raw {
    /// Status, body bytes.
    Body(u16, Vec<u8>),
    /// 200 with content-length 1000, then one byte every 200 ms.
    Drip,
    Hang,
    Redirect(String),
}

/// How a hostile server answers a request (given its head).
type Reply = Arc<dyn Fn(&str) -> Raw + Send + Sync>;

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn count(&self, needle: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(needle)).count()
    }
}

async fn serve(reply: impl Fn(&str) -> Raw + Send + Sync + 'static) -> (SocketAddr, Seen) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let reply = Arc::new(reply);
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let reply = reply.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                let mut got = Vec::new();
                loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let text = String::from_utf8_lossy(&got).into_owned();
                let line = text.lines().next().unwrap_or_default().to_owned();
                log.0.lock().unwrap().push(text.clone());
                let _ = line;
                match reply(&text) {
                    Raw::Body(status, body) => {
                        let head = format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(head.as_bytes()).await;
                        let _ = stream.write_all(&body).await;
                    }
                    Raw::Redirect(to) => {
                        let head = format!(
                            "HTTP/1.1 307 X\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        );
                        let _ = stream.write_all(head.as_bytes()).await;
                    }
                    Raw::Drip => {
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
                            .await;
                        for _ in 0..1000 {
                            if stream.write_all(b" ").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                    Raw::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
                }
            });
        }
    });
    (addr, seen)
}

fn json(status: u16, v: serde_json::Value) -> Raw {
    Raw::Body(status, v.to_string().into_bytes())
}

fn tencent_creds(expired_time: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "TmpSecretId": "AKIDtmp",
        "TmpSecretKey": CANARY,
        "Token": CANARY,
        "ExpiredTime": expired_time,
        "Expiration": "x",
        "Code": "Success"
    })
}

fn engine(yaml: &str) -> Engine {
    let config = Config::parse(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    Engine::new(&config, Arc::new(Metrics::new(&[60.0], false))).unwrap()
}

fn instance_role_yaml(provider: &str, addr: SocketAddr, extra: &str) -> String {
    let (kind, region, project) = match provider {
        "tencent" => ("tencent_postgres", "ap-guangzhou", ""),
        "huawei" => (
            "huawei_rds",
            "cn-north-4",
            ", project_id: 0123456789abcdef0123456789abcdef",
        ),
        _ => ("alibaba_rds", "cn-hangzhou", ""),
    };
    format!(
        r#"
accounts:
  - name: acct
    provider: {provider}
    credentials: {{source: instance_role, metadata_endpoint: "http://{addr}"{project}{extra}}}
    targets:
      - kind: {kind}
        regions: [{region}]
        endpoint: http://{addr}
"#
    )
}

/// The account's credentials, or the error text, and how long it took.
async fn first_fetch(account: &Arc<AccountCredentials>) -> (Result<(), String>, Duration) {
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let result = account
        .current(deadline)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    (result, started.elapsed())
}

// ---------------------------------------------------------------- hostile answers

/// Every hostile answer of a metadata service is a prompt, clear error that shows nothing of
/// the body. (Expected to pass: reported as "found nothing".)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_metadata_answers_are_bounded_clear_errors() {
    const ROLES: &str = "/latest/meta-data/cam/security-credentials/";
    let cases: Vec<(&str, Reply)> = vec![
        (
            "huge credentials body",
            Arc::new(|r: &str| {
                if r.starts_with(&format!("GET {ROLES} ")) {
                    Raw::Body(200, b"role".to_vec())
                } else {
                    Raw::Body(200, vec![b' '; 9 << 20])
                }
            }),
        ),
        ("slow drip", Arc::new(|_: &str| Raw::Drip)),
        ("hang", Arc::new(|_: &str| Raw::Hang)),
        (
            "non-UTF-8 role list",
            Arc::new(|_: &str| Raw::Body(200, vec![0xff, 0xfe, b'\n', b'r'])),
        ),
        (
            "blank first line",
            Arc::new(|_: &str| Raw::Body(200, b"\n\nrole".to_vec())),
        ),
        (
            "role with a slash",
            Arc::new(|_: &str| Raw::Body(200, b"a/b".to_vec())),
        ),
        (
            "Code not Success, secret in body",
            Arc::new(|r: &str| {
                if r.starts_with(&format!("GET {ROLES} ")) {
                    Raw::Body(200, b"role".to_vec())
                } else {
                    let mut v = tencent_creds(serde_json::json!(4_000_000_000i64));
                    v["Code"] = CANARY.into();
                    json(200, v)
                }
            }),
        ),
        (
            "negative expiry",
            Arc::new(|r: &str| {
                if r.starts_with(&format!("GET {ROLES} ")) {
                    Raw::Body(200, b"role".to_vec())
                } else {
                    json(200, tencent_creds(serde_json::json!(-5)))
                }
            }),
        ),
        (
            "float expiry",
            Arc::new(|r: &str| {
                if r.starts_with(&format!("GET {ROLES} ")) {
                    Raw::Body(200, b"role".to_vec())
                } else {
                    json(200, tencent_creds(serde_json::json!(1.9e9)))
                }
            }),
        ),
        (
            "string expiry with the secret",
            Arc::new(|r: &str| {
                if r.starts_with(&format!("GET {ROLES} ")) {
                    Raw::Body(200, b"role".to_vec())
                } else {
                    json(200, tencent_creds(serde_json::json!(CANARY)))
                }
            }),
        ),
        (
            "year 30000 expiry",
            Arc::new(|r: &str| {
                if r.starts_with(&format!("GET {ROLES} ")) {
                    Raw::Body(200, b"role".to_vec())
                } else {
                    json(200, tencent_creds(serde_json::json!(884_541_340_000i64)))
                }
            }),
        ),
        (
            "error status with the secret",
            Arc::new(|_: &str| Raw::Body(500, CANARY.as_bytes().to_vec())),
        ),
        (
            "not JSON with the secret",
            Arc::new(|r: &str| {
                if r.starts_with(&format!("GET {ROLES} ")) {
                    Raw::Body(200, b"role".to_vec())
                } else {
                    Raw::Body(
                        200,
                        format!("{{\"TmpSecretKey\": \"{CANARY}\" oops").into_bytes(),
                    )
                }
            }),
        ),
    ];
    let mut runs = Vec::new();
    for (name, reply) in cases {
        runs.push(tokio::spawn(async move {
            let (addr, _) = serve(move |r| reply(r)).await;
            let engine = engine(&instance_role_yaml("tencent", addr, ""));
            let account = engine.accounts()[0].clone();
            let (result, took) = first_fetch(&account).await;
            (name, result, took)
        }));
    }
    for run in runs {
        let (name, result, took) = run.await.expect("no panic");
        let error = result.expect_err(name);
        eprintln!("{name}: {took:?}: {error}");
        assert!(!error.contains(CANARY), "{name}: {error}");
        assert!(took < Duration::from_secs(12), "{name}: {took:?}");
        assert!(error.len() < 400, "{name}: {error}");
    }
}

/// A redirect from the metadata service is not followed with the metadata token (Alibaba's
/// IMDSv2 token header). (Expected to pass.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_redirects_are_not_followed() {
    let (elsewhere, elsewhere_seen) = serve(|_| Raw::Body(200, b"role".to_vec())).await;
    let (addr, _) = serve(move |r| {
        if r.starts_with("PUT ") {
            Raw::Body(200, b"metadata-session-token".to_vec())
        } else {
            Raw::Redirect(format!("http://{elsewhere}/steal"))
        }
    })
    .await;
    let engine = engine(&instance_role_yaml("alibaba", addr, ""));
    let account = engine.accounts()[0].clone();
    let (result, _) = first_fetch(&account).await;
    assert!(result.is_err());
    assert_eq!(
        elsewhere_seen.lines().len(),
        0,
        "{:?}",
        elsewhere_seen.lines()
    );
}

// ---------------------------------------------------------------- findings

/// Guards against (found by the attack): a metadata service (or STS) that answers with credentials that have already
/// expired (anything up to a day in the past passes `plausible`) counts as a successful
/// refresh: no backoff, the fetch is repeated every second for ever, `outcome="ok"` is
/// counted, and the scrape error says "no refresh has succeeded".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn already_expired_answers_are_failures_that_back_off() {
    const ROLES: &str = "/latest/meta-data/cam/security-credentials/";
    let (addr, seen) = serve(|r| {
        if r.starts_with(&format!("GET {ROLES} ")) {
            Raw::Body(200, b"role".to_vec())
        } else {
            let past = chrono::Utc::now().timestamp() - 3600;
            json(200, tencent_creds(serde_json::json!(past)))
        }
    })
    .await;
    let engine = engine(&instance_role_yaml("tencent", addr, ""));
    let account = engine.accounts()[0].clone();
    let (result, _) = first_fetch(&account).await;
    let error = result.unwrap_err();
    tokio::time::sleep(Duration::from_millis(7500)).await;
    let fetches = seen.count(&format!("GET {ROLES}role "));
    // With the 1 s, 2 s, 4 s backoff of a failing source: at t = 0, 1, 3, 7 s.
    assert!(
        fetches <= 4,
        "{fetches} fetches of already-expired credentials in 7.5 s: no backoff"
    );
    assert!(
        !error.contains("no refresh has succeeded"),
        "misleading: the refresh 'succeeded': {error}"
    );
}

fn sim_config(addr: SocketAddr, extra_account: bool) -> String {
    let mut yaml = format!(
        r#"
global:
  min_interval: 0s
accounts:
  - name: cvm
    provider: tencent
    credentials: {{source: instance_role, metadata_endpoint: "http://{addr}"}}
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
        endpoint: http://{addr}
"#
    );
    if extra_account {
        yaml.push_str(&format!(
            r#"  - name: ecs-alibaba
    provider: alibaba
    credentials: {{source: instance_role, role_name: EcsRamRole, metadata_endpoint: "http://{addr}"}}
    targets:
      - kind: alibaba_rds
        regions: [cn-hangzhou]
        endpoint: http://{addr}
"#
        ));
    }
    yaml
}

async fn sim_with_roles(lifetime: Duration) -> (cloud_task_simulator::Simulator, SocketAddr) {
    use cloud_task_simulator::{InstanceRole, SimCloud, Simulator};
    let sim = Simulator::new();
    let role = |name: &str| InstanceRole {
        role: name.into(),
        lifetime,
        rate_limit: 1000.0,
        projects: Default::default(),
    };
    sim.bind_instance_role(SimCloud::Tencent, Some(role("exporter-role")));
    sim.bind_instance_role(SimCloud::Alibaba, Some(role("EcsRamRole")));
    let addr = sim.start().await.unwrap();
    (sim, addr)
}

async fn serve_file_exporter(path: &std::path::Path) -> (Arc<Exporter>, SocketAddr) {
    let exporter = Arc::new(
        Exporter::start(
            ConfigSource::File(path.to_owned()),
            None,
            "/metrics".into(),
            cloud_task_exporter::sweep::Shard::ALL,
        )
        .unwrap(),
    );
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(
        listener,
        exporter.clone(),
        server::Limits::default(),
        std::future::pending(),
    ));
    (exporter, addr)
}

/// Guards against (found by the attack): a reload that changes anything builds new `AccountCredentials` for every
/// account, which start from nothing: during a metadata (or STS) outage, a reload turns the
/// valid credentials the running engine holds into "no credentials" auth errors for every
/// temporary account, even one the reload did not touch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_during_a_metadata_outage_keeps_valid_credentials() {
    let (sim, addr) = sim_with_roles(Duration::from_secs(600)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, sim_config(addr, false)).unwrap();
    let (exporter, http) = serve_file_exporter(&path).await;
    let cvm = [("account", "cvm"), ("provider", "tencent_postgres")];
    let samples = common::parse(&common::scrape(http).await);
    assert_eq!(common::value(&samples, "cloud_task_up", &cvm), 1.0);
    // The metadata service goes down; the credentials held are good for ten minutes.
    sim.set_metadata_down(true);
    // An unrelated account is added.
    std::fs::write(&path, sim_config(addr, true)).unwrap();
    let reloaded = tokio::task::spawn_blocking(move || exporter.reload())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(reloaded, Reloaded::Applied { .. }));
    let body = common::scrape(http).await;
    let samples = common::parse(&body);
    assert_eq!(
        common::value(&samples, "cloud_task_up", &cvm),
        1.0,
        "the untouched account lost its valid credentials on reload:\n{}",
        body.lines()
            .filter(|l| l.contains("cvm") && (l.contains("_up") || l.contains("auth_error")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Guards against (found by the attack): `cloud_task_credentials_refreshes_total` of an account that a reload removes (or
/// turns static) stays for the life of the process; a removed target's series go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_account_loses_its_credential_series() {
    let (_sim, addr) = sim_with_roles(Duration::from_secs(600)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, sim_config(addr, true)).unwrap();
    let (exporter, http) = serve_file_exporter(&path).await;
    let before = common::scrape(http).await;
    assert!(before.contains("account=\"ecs-alibaba\""));
    std::fs::write(&path, sim_config(addr, false)).unwrap();
    tokio::task::spawn_blocking(move || exporter.reload())
        .await
        .unwrap()
        .unwrap();
    let after = common::scrape(http).await;
    let stale: Vec<&str> = after
        .lines()
        .filter(|l| l.contains("account=\"ecs-alibaba\""))
        .collect();
    assert!(
        stale.is_empty(),
        "series of a removed account:\n{}",
        stale.join("\n")
    );
}

/// Many reloads leave one refresher per account behind, not one per reload. (Expected to pass.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_leave_no_refreshers_behind() {
    let (sim, addr) = sim_with_roles(Duration::from_secs(4)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, sim_config(addr, false)).unwrap();
    let (exporter, http) = serve_file_exporter(&path).await;
    common::scrape(http).await;
    for n in 0..20 {
        std::fs::write(&path, sim_config(addr, n % 2 == 0)).unwrap();
        let e = exporter.clone();
        tokio::task::spawn_blocking(move || e.reload())
            .await
            .unwrap()
            .unwrap();
    }
    // Settle: the last config has one account (n = 19 is odd: no extra account).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = sim.issued().len();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let issued = sim.issued().len() - before;
    // One account, 4 s credentials refreshed every 2 s: 4 in 8 s.
    assert!(
        issued <= 6,
        "{issued} credentials issued in 8 s by one account"
    );
}

/// Guards against (found by the attack): `is_role_name` accepts `.` and `..`, which the URL parser resolves as dot
/// segments: the role "..", from the config or from the metadata service's list, makes the
/// exporter ask for `/latest/meta-data/cam/` (one level up), not for a role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_are_not_role_names() {
    const ROLES: &str = "/latest/meta-data/cam/security-credentials/";
    let (addr, seen) = serve(|r| {
        if r.starts_with(&format!("GET {ROLES} ")) {
            Raw::Body(200, b"..".to_vec())
        } else {
            Raw::Body(404, Vec::new())
        }
    })
    .await;
    let engine = engine(&instance_role_yaml("tencent", addr, ""));
    let account = engine.accounts()[0].clone();
    let _ = first_fetch(&account).await;
    let asked: Vec<String> = seen
        .lines()
        .iter()
        .map(|l| l.lines().next().unwrap_or_default().to_owned())
        .collect();
    assert!(
        !asked
            .iter()
            .any(|l| l.starts_with("GET /latest/meta-data/cam/ ")),
        "a listed role '..' walked up the metadata tree: {asked:?}"
    );
    assert!(!cloud_task_exporter::credentials::is_role_name(".."));
    assert!(!cloud_task_exporter::credentials::is_role_name("."));
}

/// Guards against (found by the attack): `role_name` is accepted for Huawei's instance_role but never used (the Huawei
/// source reads `/openstack/latest/securitykey`, which names no role), and the landing page
/// and logs then name a role that is not the one in use.
#[test]
fn role_name_is_refused_where_it_does_nothing() {
    let yaml = instance_role_yaml(
        "huawei",
        "127.0.0.1:1".parse().unwrap(),
        ", role_name: some-agency",
    );
    assert!(
        Config::parse(&yaml).is_err(),
        "role_name accepted for huawei, where it is ignored"
    );
}

/// Runs `--check-config` on `yaml` with `env`; (success, stdout, stderr).
fn check_config(yaml: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cloud-task-exporter"))
        .arg("--check-config")
        .arg(format!("--config.file={}", path.display()))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Guards against (found by the attack): an `http(s)` URL error of the new keys prints the value after `${VAR}`
/// expansion, so a mistaken `${...}` shows that variable's value (a secret, say) in the error
/// on stderr, in the logs, and in the body of `POST /-/reload`. The older keys (a target's
/// `endpoint`) print the value as written; `expand_env` promises to name, never show.
#[test]
fn endpoint_errors_do_not_show_an_environment_value() {
    let env = [("ATTACK_ENDPOINT_CANARY", CANARY)];
    let base = instance_role_yaml("tencent", "127.0.0.1:1".parse().unwrap(), "");
    let metadata = base.replace("http://127.0.0.1:1\"", "${ATTACK_ENDPOINT_CANARY}\"");
    let sts = instance_role_yaml(
        "tencent",
        "127.0.0.1:1".parse().unwrap(),
        ", assume_role: {role_arn: \"qcs::cam::uin/1:roleName/r\"}, sts_endpoint: \"${ATTACK_ENDPOINT_CANARY}\"",
    );
    for (key, yaml) in [("metadata_endpoint", metadata), ("sts_endpoint", sts)] {
        let (ok, _, stderr) = check_config(&yaml, &env);
        assert!(!ok, "{key}: {yaml}");
        assert!(!stderr.contains(CANARY), "{key}: {stderr}");
    }
}

/// Guards against (found by the attack): `--check-config` does not print a config that parses to the same config: the
/// new keys are printed after `${VAR}` expansion without writing `$` as `$$` (the keys
/// serialised by `cloud::Credentials` do), so `$${X}` comes back as `${X}` and is expanded
/// (or refused) on the next parse.
#[test]
fn check_config_output_parses_to_the_same_config() {
    let env = [("ATTACK_EXPANDED", "expanded")];
    let yaml = r#"
accounts:
  - name: tke
    provider: tencent
    credentials:
      source: web_identity
      provider_id: "oidc-$${ATTACK_EXPANDED}"
      role_arn: "qcs::cam::uin/1:roleName/$${ATTACK_EXPANDED}"
      token_file: "/var/run/$${ATTACK_EXPANDED}/token"
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
"#;
    let (ok, first, stderr) = check_config(yaml, &env);
    assert!(ok, "{stderr}");
    let (ok, second, stderr) = check_config(&first, &env);
    assert!(ok, "{stderr}");
    assert_eq!(
        first, second,
        "the printout does not parse to the same config"
    );
}

/// Guards against (found by the attack): a sub-second part of `assume_role.duration` is dropped without a word: `1500ms`
/// passes the check and asks Tencent STS for `DurationSeconds: 1`; the printout says
/// `1s500ms`.
#[test]
fn assume_role_durations_are_whole_seconds() {
    let yaml = r#"
accounts:
  - name: a
    provider: tencent
    credentials:
      secret_id: AKIDx
      secret_key: y
      assume_role: {role_arn: "qcs::cam::uin/1:roleName/r", duration: 1500ms}
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
"#;
    assert!(Config::parse(yaml).is_err(), "1500ms accepted, sent as 1 s");
}

/// Scrapes of many targets of one account wait for the one first fetch together and all get
/// the same credentials; the refresher asks once. (Expected to pass.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_waiters_one_fetch() {
    const ROLES: &str = "/latest/meta-data/cam/security-credentials/";
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let (addr, _) = serve(move |r| {
        if r.starts_with(&format!("GET {ROLES} ")) {
            Raw::Body(200, b"role".to_vec())
        } else {
            c.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            let later = chrono::Utc::now().timestamp() + 3600;
            json(200, tencent_creds(serde_json::json!(later)))
        }
    })
    .await;
    let engine = engine(&instance_role_yaml("tencent", addr, ""));
    let account = engine.accounts()[0].clone();
    let mut waiters = Vec::new();
    for _ in 0..200 {
        let account = account.clone();
        waiters.push(tokio::spawn(async move { first_fetch(&account).await.0 }));
    }
    for w in waiters {
        w.await.unwrap().unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

fn assume_role_yaml(provider: &str, sts: SocketAddr) -> String {
    let (kind, region, keys, arn) = match provider {
        "tencent" => (
            "tencent_postgres",
            "ap-guangzhou",
            "secret_id: AKIDx, secret_key: y",
            "qcs::cam::uin/1:roleName/r",
        ),
        _ => (
            "alibaba_rds",
            "cn-hangzhou",
            "access_key_id: LTAIx, access_key_secret: y",
            "acs:ram::1:role/r",
        ),
    };
    format!(
        r#"
accounts:
  - name: acct
    provider: {provider}
    credentials: {{{keys}, assume_role: {{role_arn: "{arn}"}}, sts_endpoint: "http://{sts}"}}
    targets:
      - kind: {kind}
        regions: [{region}]
        endpoint: http://{sts}
"#
    )
}

/// Guards against (found by the attack): STS's error `Message` is kept whole (up to the 8 MiB body cap) as the refresh's
/// `last_error`, and copied into the `CredentialsExpired` error of every request of every
/// target of the account (each target's report holds its copy, each target's failure log
/// writes it): one hostile or broken answer is multiplied by the number of targets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_sts_error_message_is_not_copied_into_every_error() {
    let mut sizes = Vec::new();
    for provider in ["tencent", "alibaba"] {
        let (addr, _) = serve(move |_| {
            let message = "x".repeat(7 << 20);
            if provider == "tencent" {
                json(
                    200,
                    serde_json::json!({"Response": {"Error": {"Code": "InternalError", "Message": message}, "RequestId": "r"}}),
                )
            } else {
                json(
                    500,
                    serde_json::json!({"Code": "InternalError", "Message": message, "RequestId": "r"}),
                )
            }
        })
        .await;
        let engine = engine(&assume_role_yaml(provider, addr));
        let account = engine.accounts()[0].clone();
        let (result, _) = first_fetch(&account).await;
        let error = result.unwrap_err();
        sizes.push((provider, error.len()));
    }
    assert!(
        sizes.iter().all(|(_, n)| *n < 4096),
        "error sizes: {sizes:?}"
    );
}

/// STS redirects are not followed with the caller's session token; STS expiries are checked.
/// (Expected to pass.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_sts_answers() {
    let (elsewhere, elsewhere_seen) = serve(|_| Raw::Body(200, b"{}".to_vec())).await;
    let (redirecting, _) = serve(move |_| Raw::Redirect(format!("http://{elsewhere}/steal"))).await;
    let engine1 = engine(&assume_role_yaml("tencent", redirecting));
    let (result, _) = first_fetch(&engine1.accounts()[0].clone()).await;
    eprintln!("redirect: {result:?}");
    assert!(result.is_err());
    assert_eq!(elsewhere_seen.lines().len(), 0);
    let (far, _) = serve(|_| {
        json(
            200,
            serde_json::json!({"Response": {"Credentials": {"TmpSecretId": "a", "TmpSecretKey": CANARY, "Token": CANARY}, "ExpiredTime": 253402300799i64, "RequestId": "r"}}),
        )
    })
    .await;
    let engine2 = engine(&assume_role_yaml("tencent", far));
    let (result, _) = first_fetch(&engine2.accounts()[0].clone()).await;
    let error = result.unwrap_err();
    eprintln!("far: {error}");
    assert!(!error.contains(CANARY));
    let (ali, _) = serve(|_| {
        json(
            200,
            serde_json::json!({"RequestId": "r", "Credentials": {"AccessKeyId": "a", "AccessKeySecret": CANARY, "SecurityToken": CANARY, "Expiration": CANARY}}),
        )
    })
    .await;
    let engine3 = engine(&assume_role_yaml("alibaba", ali));
    let (result, _) = first_fetch(&engine3.accounts()[0].clone()).await;
    let error = result.unwrap_err();
    eprintln!("ali: {error}");
    assert!(!error.contains(CANARY));
}

/// Guards against (found by the attack): a metadata request that hangs past its own 5 s timeout is reported as
/// "no answer before the scrape deadline", which sends the operator to the scrape timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_timeout_says_what_timed_out() {
    let (addr, _) = serve(|_| Raw::Hang).await;
    let engine = engine(&instance_role_yaml("tencent", addr, ""));
    let account = engine.accounts()[0].clone();
    let (result, took) = first_fetch(&account).await;
    let error = result.unwrap_err();
    assert!(took < Duration::from_secs(7));
    assert!(!error.contains("scrape deadline"), "{error}");
}

/// Guards against (found by the attack): a refused AssumeRole on static keys reads "account acct has no
/// credentials from source static": the static keys are fine, the role is what failed; the
/// message names `source.name()`, not `Origin::describe()`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_assume_role_error_names_the_role() {
    let (addr, _) = serve(|_| {
        json(
            200,
            serde_json::json!({"Response": {"Error": {"Code": "AuthFailure.SecretIdNotFound", "Message": "no"}, "RequestId": "r"}}),
        )
    })
    .await;
    let engine = engine(&assume_role_yaml("tencent", addr));
    let (result, _) = first_fetch(&engine.accounts()[0].clone()).await;
    let error = result.unwrap_err();
    assert!(error.contains("assume_role"), "{error}");
}

/// Guards against (found by the attack): empty `provider_id`, `role_arn` or `token_file` of a web identity pass the config
/// check (an empty variable does not: the TKE_* fallback filters it), and fail only at the
/// first refresh; a `metadata_endpoint` with a path or query passes and the metadata path is
/// appended after the query.
#[test]
fn empty_or_odd_source_settings_are_refused_at_load() {
    let mut accepted = Vec::new();
    for credentials in [
        r#"{source: web_identity, token_file: ""}"#,
        r#"{source: web_identity, provider_id: ""}"#,
        r#"{source: web_identity, role_arn: ""}"#,
        r#"{source: instance_role, metadata_endpoint: "http://169.254.0.1/x?y=1"}"#,
    ] {
        let yaml = format!(
            "accounts:\n  - name: a\n    provider: tencent\n    credentials: {credentials}\n    targets:\n      - kind: tencent_postgres\n        regions: [ap-guangzhou]\n"
        );
        if Config::parse(&yaml).is_ok() {
            accepted.push(credentials);
        }
    }
    assert!(accepted.is_empty(), "accepted: {accepted:#?}");
}
