//! Temporary credentials over loopback: the simulated VMs' metadata services hand out
//! short-lived credentials, which the simulated APIs refuse once expired; the exporter must
//! rotate them ahead of expiry without a failed scrape, ride out a metadata service that is
//! down, and never show a temporary secret.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use cloud_task_simulator::{InstanceRole, SimCloud, SimOutcome, SimTask, Simulator};
use common::{find, parse, scrape, start_exporter, value};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

/// (account, kind, region) of each cloud's target.
const TARGETS: [(&str, &str, &str); 3] = [
    ("cvm", "tencent_postgres", "ap-guangzhou"),
    ("ecs-huawei", "huawei_rds", "cn-north-4"),
    ("ecs-alibaba", "alibaba_rds", "cn-hangzhou"),
];

fn role(name: &str, lifetime: Duration) -> InstanceRole {
    InstanceRole {
        role: name.into(),
        lifetime,
        rate_limit: 1000.0,
        projects: BTreeMap::from([("cn-north-4".to_owned(), PROJECT.to_owned())]),
    }
}

/// A simulator whose VMs of every cloud have a role whose credentials last `lifetime`, and a
/// few tasks per target.
async fn simulator(lifetime: Duration) -> (Simulator, std::net::SocketAddr) {
    let sim = Simulator::new();
    sim.bind_instance_role(SimCloud::Tencent, Some(role("exporter-role", lifetime)));
    sim.bind_instance_role(SimCloud::Huawei, Some(role("agency", lifetime)));
    sim.bind_instance_role(SimCloud::Alibaba, Some(role("EcsRamRole", lifetime)));
    let now = Utc::now();
    for (n, (_, kind, region)) in TARGETS.iter().enumerate() {
        sim.world().add(
            kind,
            region,
            (0..3).map(|i| SimTask {
                id: 100 * n as u64 + i,
                task_type: "Backup".into(),
                instance_ids: vec![format!("instance-{i}")],
                start: now - chrono::Duration::minutes(30 + i as i64),
                duration: Some(Duration::from_secs(60)),
                outcome: SimOutcome::Succeed,
                stuck_progress: 0.0,
                message: None,
            }),
        );
    }
    let addr = sim.start().await.unwrap();
    (sim, addr)
}

/// Every cloud's account with `source: instance_role` on the simulator's metadata services;
/// no secret anywhere in the config.
fn config(sim: std::net::SocketAddr) -> String {
    format!(
        r#"
global:
  min_interval: 0s
accounts:
  - name: cvm
    provider: tencent
    credentials: {{source: instance_role, metadata_endpoint: "http://{sim}"}}
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
        endpoint: http://{sim}
  - name: ecs-huawei
    provider: huawei
    credentials: {{source: instance_role, metadata_endpoint: "http://{sim}", project_id: {PROJECT}}}
    targets:
      - kind: huawei_rds
        regions: [cn-north-4]
        endpoint: http://{sim}
  - name: ecs-alibaba
    provider: alibaba
    credentials: {{source: instance_role, role_name: EcsRamRole, metadata_endpoint: "http://{sim}"}}
    targets:
      - kind: alibaba_rds
        regions: [cn-hangzhou]
        endpoint: http://{sim}
"#
    )
}

fn target(
    account: &'static str,
    kind: &'static str,
    region: &'static str,
) -> [(&'static str, &'static str); 3] {
    [("account", account), ("provider", kind), ("region", region)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_credentials_rotate_across_many_sweeps_without_a_failed_scrape() {
    // Credentials that last 3 s: refreshed halfway through, for 12 s of scrapes.
    let (sim, addr) = simulator(Duration::from_secs(3)).await;
    let exporter = start_exporter(&config(addr)).await;
    let started = std::time::Instant::now();
    let mut scrapes = 0;
    while started.elapsed() < Duration::from_secs(12) {
        let samples = parse(&scrape(exporter).await);
        for (account, kind, region) in TARGETS {
            let t = target(account, kind, region);
            assert_eq!(
                value(&samples, "cloud_task_up", &t),
                1.0,
                "{t:?} at scrape {scrapes}"
            );
            assert_eq!(find(&samples, "cloud_task_tasks", &t).len(), 3 * 7, "{t:?}");
        }
        scrapes += 1;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let samples = parse(&scrape(exporter).await);
    for (account, _, _) in TARGETS {
        let ok = value(
            &samples,
            "cloud_task_credentials_refreshes_total",
            &[("account", account), ("outcome", "ok")],
        );
        // About one fetch every 1.5 s; never a loop.
        assert!((6.0..=14.0).contains(&ok), "{account}: {ok} refreshes");
        let expiry = value(
            &samples,
            "cloud_task_credentials_expiry_timestamp_seconds",
            &[("account", account)],
        );
        let now = Utc::now().timestamp() as f64;
        assert!(
            expiry > now && expiry <= now + 3.0,
            "{account}: expiry {expiry}, now {now}"
        );
    }
    assert!(scrapes >= 20, "{scrapes} scrapes");
    assert!(
        sim.issued().len() >= 18,
        "{} credentials issued",
        sim.issued().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_service_down_at_start_and_during_the_run() {
    let (sim, addr) = simulator(Duration::from_secs(4)).await;
    sim.set_metadata_down(true);
    let exporter = start_exporter(&config(addr)).await;
    // Down at start: no credentials yet, an auth error naming the source.
    let samples = parse(&scrape(exporter).await);
    for (account, kind, region) in TARGETS {
        let t = target(account, kind, region);
        assert_eq!(value(&samples, "cloud_task_up", &t), 0.0, "{t:?}");
        let auth = [t.as_slice(), &[("outcome", "auth_error")]].concat();
        assert!(
            value(&samples, "cloud_task_api_requests_total", &auth) >= 1.0,
            "{t:?}"
        );
        let failed = value(
            &samples,
            "cloud_task_credentials_refreshes_total",
            &[("account", account), ("outcome", "server_error")],
        );
        assert!(failed >= 1.0, "{account}: {failed} failed refreshes");
    }
    // Back: the refresh retried with backoff (1 s, 2 s) picks the credentials up.
    sim.set_metadata_down(false);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let samples = parse(&scrape(exporter).await);
    for (account, kind, region) in TARGETS {
        let t = target(account, kind, region);
        assert_eq!(value(&samples, "cloud_task_up", &t), 1.0, "{t:?}");
    }
    // Down during the run: the credentials held keep working until they expire...
    sim.set_metadata_down(true);
    let samples = parse(&scrape(exporter).await);
    for (account, kind, region) in TARGETS {
        assert_eq!(
            value(&samples, "cloud_task_up", &target(account, kind, region)),
            1.0
        );
    }
    // ...and then the targets are down as auth errors, not with stale credentials.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let samples = parse(&scrape(exporter).await);
    for (account, kind, region) in TARGETS {
        assert_eq!(
            value(&samples, "cloud_task_up", &target(account, kind, region)),
            0.0
        );
    }
    sim.set_metadata_down(false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let samples = parse(&scrape(exporter).await);
    for (account, kind, region) in TARGETS {
        assert_eq!(
            value(&samples, "cloud_task_up", &target(account, kind, region)),
            1.0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_role_bound_is_an_auth_error_and_other_accounts_are_unaffected() {
    let (sim, addr) = simulator(Duration::from_secs(60)).await;
    sim.bind_instance_role(SimCloud::Huawei, None);
    let exporter = start_exporter(&config(addr)).await;
    let samples = parse(&scrape(exporter).await);
    let huawei = target("ecs-huawei", "huawei_rds", "cn-north-4");
    assert_eq!(value(&samples, "cloud_task_up", &huawei), 0.0);
    let refused = value(
        &samples,
        "cloud_task_credentials_refreshes_total",
        &[("account", "ecs-huawei"), ("outcome", "auth_error")],
    );
    assert!(refused >= 1.0);
    for (account, kind, region) in [TARGETS[0], TARGETS[2]] {
        assert_eq!(
            value(&samples, "cloud_task_up", &target(account, kind, region)),
            1.0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_secrets_are_never_shown() {
    let (sim, addr) = simulator(Duration::from_secs(3)).await;
    let exporter = start_exporter(&config(addr)).await;
    let mut pages = Vec::new();
    for _ in 0..3 {
        pages.push(scrape(exporter).await);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let landing = reqwest::get(format!("http://{exporter}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    pages.push(landing.clone());
    let issued = sim.issued();
    assert!(issued.len() >= 3);
    for account in &issued {
        for page in &pages {
            assert!(
                !page.contains(&account.secret),
                "a temporary secret is shown"
            );
            assert!(
                !page.contains(account.token.as_deref().unwrap()),
                "a temporary token is shown"
            );
        }
    }
    // The landing page says where each account's credentials come from, and until when.
    assert!(landing.contains("instance_role"), "{landing}");
}

const ENV_SECRET_CANARY: &str = "CANARY-envsecret-4d8e1f20";
const ENV_TOKEN_CANARY: &str = "CANARY-envtoken-b7c3a951";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_temporary_or_environment_secret_reaches_logs_metrics_or_check_config() {
    use common::daemon::{BIN, Daemon};

    // 3 s, not less: Tencent's `ExpiredTime` is in whole seconds, so 2 s credentials can look
    // like less than the second the exporter takes at least, and be refused as implausible.
    let (sim, addr) = simulator(Duration::from_secs(3)).await;
    sim.add_account(
        cloud_task_simulator::SimAccount::huawei(
            "HWENVCANARYAK",
            ENV_SECRET_CANARY,
            &[("cn-north-4", PROJECT)],
        )
        .with_token(ENV_TOKEN_CANARY),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let yaml = format!(
        "{}  - name: env-huawei\n    provider: huawei\n    credentials: {{source: environment, project_id: {PROJECT}}}\n    targets:\n      - kind: huawei_rds\n        regions: [cn-north-4]\n        endpoint: http://{addr}\n",
        config(addr)
    );
    std::fs::write(&path, yaml).unwrap();
    let env = [
        ("HUAWEICLOUD_SDK_AK", "HWENVCANARYAK"),
        ("HUAWEICLOUD_SDK_SK", ENV_SECRET_CANARY),
        ("HUAWEICLOUD_SDK_SECURITY_TOKEN", ENV_TOKEN_CANARY),
    ];
    let config_arg = format!("--config.file={}", path.display());
    let daemon = Daemon::start(&[&config_arg, "--log.level=debug"], &env);
    let mut shown = Vec::new();
    for _ in 0..4 {
        let body = scrape(daemon.addr).await;
        let samples = parse(&body);
        for account in ["cvm", "ecs-huawei", "ecs-alibaba", "env-huawei"] {
            assert_eq!(
                value(&samples, "cloud_task_up", &[("account", account)]),
                1.0,
                "{account}: {body}"
            );
        }
        shown.push(body);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    shown.push(
        reqwest::get(format!("http://{}/", daemon.addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    // Metadata down: the refresh failures are logged, without a secret, and the last
    // credentials fetched expire within their 3 s lifetime.
    sim.set_metadata_down(true);
    tokio::time::sleep(Duration::from_millis(4500)).await;
    shown.push(scrape(daemon.addr).await);
    daemon.signal("TERM");
    let (_, daemon) = daemon.exited(Duration::from_secs(6)).await;
    let logs = daemon.logs().join("\n");
    let warned = logs
        .lines()
        .filter(|l| {
            l.contains("\"level\":\"WARN\"")
                && l.contains("refreshing credentials failed")
                && l.contains("\"account\":\"cvm\"")
        })
        .count();
    assert_eq!(
        warned, 1,
        "a failing refresh warns once, then at debug level:\n{logs}"
    );
    let expired: Vec<_> = logs
        .lines()
        .filter(|l| {
            l.contains("\"level\":\"ERROR\"")
                && l.contains("expired at")
                && l.contains("\"account\":\"cvm\"")
        })
        .collect();
    assert_eq!(expired.len(), 1, "the expiry is logged once:\n{logs}");
    let check = std::process::Command::new(BIN)
        .args(["--check-config", "--log.level=debug"])
        .arg(&config_arg)
        .envs(env)
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(check.status.success(), "{printed}");
    assert!(printed.contains("source: instance_role"), "{printed}");
    assert!(printed.contains("source: environment"), "{printed}");
    shown.push(printed);
    shown.push(logs);

    let mut secrets: Vec<String> = vec![ENV_SECRET_CANARY.into(), ENV_TOKEN_CANARY.into()];
    for issued in sim.issued() {
        secrets.push(issued.secret.clone());
        secrets.extend(issued.token.clone());
    }
    assert!(secrets.len() > 6);
    for (n, text) in shown.iter().enumerate() {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "output {n} shows a secret");
        }
    }
}

const TENCENT_ROLE: &str = "qcs::cam::uin/100000000001:roleName/task-reader";
const ALIBABA_ROLE: &str = "acs:ram::100000000001:role/task-reader";

fn sts_role(role_arn: &str, lifetime: Duration, trusted: &[&str]) -> cloud_task_simulator::StsRole {
    cloud_task_simulator::StsRole {
        role_arn: role_arn.into(),
        lifetime,
        rate_limit: 1000.0,
        trusted: trusted.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assumed_roles_rotate_and_a_refused_one_is_an_auth_error() {
    let (sim, addr) = simulator(Duration::from_secs(30)).await;
    // Static keys that may assume the Tencent role; the Alibaba role is assumed with what the
    // VM's own role gives (a chain of two temporary sources).
    sim.add_account(cloud_task_simulator::SimAccount::tencent(
        "AKIDbasekeys",
        "base-secret",
    ));
    sim.allow_assume_role(
        SimCloud::Tencent,
        sts_role(TENCENT_ROLE, Duration::from_secs(3), &["AKIDbasekeys"]),
    );
    sim.allow_assume_role(
        SimCloud::Alibaba,
        sts_role(ALIBABA_ROLE, Duration::from_secs(3), &[]),
    );
    let yaml = format!(
        r#"
global:
  min_interval: 0s
accounts:
  - name: assumed
    provider: tencent
    credentials:
      secret_id: AKIDbasekeys
      secret_key: base-secret
      assume_role: {{role_arn: "{TENCENT_ROLE}", session_name: exporter-test, duration: 1h}}
      sts_endpoint: http://{addr}
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
        endpoint: http://{addr}
  - name: chained
    provider: alibaba
    credentials:
      source: instance_role
      metadata_endpoint: http://{addr}
      assume_role: {{role_arn: "{ALIBABA_ROLE}"}}
      sts_endpoint: http://{addr}
    targets:
      - kind: alibaba_rds
        regions: [cn-hangzhou]
        endpoint: http://{addr}
  - name: refused
    provider: tencent
    credentials:
      secret_id: AKIDbasekeys
      secret_key: base-secret
      assume_role: {{role_arn: "qcs::cam::uin/100000000001:roleName/no-such-role"}}
      sts_endpoint: http://{addr}
    targets:
      - kind: tencent_redis
        regions: [ap-guangzhou]
        endpoint: http://{addr}
"#
    );
    let exporter = start_exporter(&yaml).await;
    let started = std::time::Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(8) {
        samples = parse(&scrape(exporter).await);
        assert_eq!(
            value(
                &samples,
                "cloud_task_up",
                &target("assumed", "tencent_postgres", "ap-guangzhou")
            ),
            1.0
        );
        assert_eq!(
            value(
                &samples,
                "cloud_task_up",
                &target("chained", "alibaba_rds", "cn-hangzhou")
            ),
            1.0
        );
        assert_eq!(
            value(
                &samples,
                "cloud_task_up",
                &target("refused", "tencent_redis", "ap-guangzhou")
            ),
            0.0
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    for account in ["assumed", "chained"] {
        let ok = value(
            &samples,
            "cloud_task_credentials_refreshes_total",
            &[("account", account), ("outcome", "ok")],
        );
        assert!(
            ok >= 4.0,
            "{account}: {ok} refreshes in 8 s of 3 s credentials"
        );
    }
    let refused = value(
        &samples,
        "cloud_task_credentials_refreshes_total",
        &[("account", "refused"), ("outcome", "client_error")],
    );
    assert!(
        refused >= 1.0,
        "the refused AssumeRole is counted: {refused}"
    );
    let auth = [
        target("refused", "tencent_redis", "ap-guangzhou").as_slice(),
        &[("outcome", "auth_error")],
    ]
    .concat();
    assert!(value(&samples, "cloud_task_api_requests_total", &auth) >= 1.0);
    assert!(sim.sts_requests() >= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_identity_token_file_that_changes_is_read_again() {
    const TKE_ROLE: &str = "qcs::cam::uin/100000000001:roleName/tke-exporter";
    let (sim, addr) = simulator(Duration::from_secs(30)).await;
    sim.allow_assume_role(
        SimCloud::Tencent,
        sts_role(TKE_ROLE, Duration::from_secs(3), &[]),
    );
    let identity = |token: &str| cloud_task_simulator::WebIdentity {
        provider_id: "tke-oidc-1".into(),
        role_arn: TKE_ROLE.into(),
        token: token.into(),
    };
    sim.set_web_identity(Some(identity("jwt-version-1")));
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "jwt-version-1\n").unwrap();
    let yaml = format!(
        r#"
global:
  min_interval: 0s
accounts:
  - name: tke
    provider: tencent
    credentials:
      source: web_identity
      provider_id: tke-oidc-1
      role_arn: "{TKE_ROLE}"
      token_file: {token_file}
      sts_endpoint: http://{addr}
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
        endpoint: http://{addr}
"#,
        token_file = token_file.display()
    );
    let exporter = start_exporter(&yaml).await;
    let tke = target("tke", "tencent_postgres", "ap-guangzhou");
    let up = |samples: &[common::Sample]| value(samples, "cloud_task_up", &tke);
    assert_eq!(up(&parse(&scrape(exporter).await)), 1.0);
    // The platform rotates the token: STS wants the new one, the file has it.
    sim.set_web_identity(Some(identity("jwt-version-2")));
    std::fs::write(&token_file, "jwt-version-2\n").unwrap();
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            up(&parse(&scrape(exporter).await)),
            1.0,
            "after the rotation"
        );
    }
    // STS moves on but the file does not: refreshes fail, and once the credentials held have
    // expired the target is down as an auth error.
    sim.set_web_identity(Some(identity("jwt-version-3")));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let samples = parse(&scrape(exporter).await);
    assert_eq!(up(&samples), 0.0);
    let failed = value(
        &samples,
        "cloud_task_credentials_refreshes_total",
        &[("account", "tke"), ("outcome", "client_error")],
    );
    assert!(failed >= 1.0, "{failed}");
}
