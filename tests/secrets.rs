//! Secrets never leave the process: canary credentials (a key from a file, a session token
//! from the environment, a wrong key inline) are looked for in everything the exporter shows
//! at debug level: its logs, `/`, `/metrics`, `/-/reload`'s answers, `--check-config` and the
//! errors of failed sweeps and reloads. Also: a world-readable secret file is warned about,
//! and a failure that repeats on every scrape is logged once.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use cloud_task_simulator::{SimAccount, SimOutcome, SimTask, Simulator};
use common::daemon::{BIN, Daemon};
use common::{parse, scrape, value};

const KEY_CANARY: &str = "CANARY-key-5f1c9a7e-from-a-file";
const TOKEN_CANARY: &str = "CANARY-token-0b2d44e1-from-the-environment";
const WRONG_CANARY: &str = "CANARY-wrong-key-93ae2f60-inline";
const ALIBABA_SECRET_CANARY: &str = "CANARY-alibaba-secret-71c3e8d2-inline";
const ALIBABA_TOKEN_CANARY: &str = "CANARY-alibaba-sts-a94f10b6-from-the-environment";
const ALIBABA_WRONG_CANARY: &str = "CANARY-alibaba-wrong-2be6c7f9-inline";
const CANARIES: [&str; 6] = [
    KEY_CANARY,
    TOKEN_CANARY,
    WRONG_CANARY,
    ALIBABA_SECRET_CANARY,
    ALIBABA_TOKEN_CANARY,
    ALIBABA_WRONG_CANARY,
];
const PROJECT: &str = "0123456789abcdef0123456789abcdef";

fn assert_no_canary(what: &str, text: &str) {
    for canary in CANARIES {
        // Parts too: a secret must not leak truncated or escaped either.
        for part in canary.split('-').filter(|p| p.len() >= 8) {
            assert!(
                !text.contains(part),
                "{what} shows {part:?} of a secret:\n{text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_secret_is_shown_anywhere() {
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent("AKIDcanaryGOOD", KEY_CANARY).with_token(TOKEN_CANARY));
    sim.add_account(SimAccount::huawei(
        "HWcanaryBAD",
        "the-real-huawei-key",
        &[("cn-north-4", PROJECT)],
    ));
    sim.add_account(
        SimAccount::alibaba("LTAIcanaryGOOD", ALIBABA_SECRET_CANARY)
            .with_token(ALIBABA_TOKEN_CANARY),
    );
    sim.add_account(SimAccount::alibaba(
        "LTAIcanaryBAD",
        "the-real-alibaba-secret",
    ));
    sim.world().add(
        "tencent_postgres",
        "ap-guangzhou",
        [SimTask {
            id: 1,
            task_type: "RestoreDatabase".into(),
            instance_ids: vec!["postgres-1".into()],
            start: Utc::now() - chrono::Duration::minutes(5),
            duration: None,
            outcome: SimOutcome::Succeed,
            stuck_progress: 0.5,
            message: None,
        }],
    );
    let sim_addr = sim.start().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("tencent.key");
    std::fs::write(&key_file, format!("{KEY_CANARY}\n")).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.path().join("cloud-task-exporter.yaml");
    std::fs::write(
        &config,
        format!(
            r#"global:
  min_interval: 0s
accounts:
  - name: good
    provider: tencent
    credentials:
      secret_id: AKIDcanaryGOOD
      secret_key_file: {key_file}
      token: ${{CTE_CANARY_TOKEN}}
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
        endpoint: http://{sim_addr}
  - name: bad
    provider: huawei
    credentials:
      access_key: HWcanaryBAD
      secret_key: {WRONG_CANARY}
      project_id: {PROJECT}
    targets:
      - kind: huawei_rds
        regions: [cn-north-4]
        endpoint: http://{sim_addr}
  - name: ali-good
    provider: alibaba
    credentials:
      access_key_id: LTAIcanaryGOOD
      access_key_secret: {ALIBABA_SECRET_CANARY}
      security_token: ${{CTE_CANARY_STS}}
    targets:
      - kind: alibaba_rds
        regions: [cn-hangzhou]
        endpoint: http://{sim_addr}
  - name: ali-bad
    provider: alibaba
    credentials:
      access_key_id: LTAIcanaryBAD
      access_key_secret: {ALIBABA_WRONG_CANARY}
    targets:
      - kind: alibaba_polardb
        regions: [cn-hangzhou]
        endpoint: http://{sim_addr}
"#,
            key_file = key_file.display()
        ),
    )
    .unwrap();
    let env = [
        ("CTE_CANARY_TOKEN", TOKEN_CANARY),
        ("CTE_CANARY_STS", ALIBABA_TOKEN_CANARY),
    ];

    let config_arg = format!("--config.file={}", config.display());
    let daemon = Daemon::start(&[&config_arg, "--log.level=debug"], &env);
    let client = reqwest::Client::new();
    let mut shown = Vec::new();
    for _ in 0..4 {
        let body = scrape(daemon.addr).await;
        let samples = parse(&body);
        let up = |account| value(&samples, "cloud_task_up", &[("account", account)]);
        assert_eq!((up("good"), up("bad")), (1.0, 0.0), "{body}");
        assert_eq!((up("ali-good"), up("ali-bad")), (1.0, 0.0), "{body}");
        shown.push(body);
    }
    let landing = client
        .get(format!("http://{}/", daemon.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(landing.contains("auth_error"), "{landing}");
    shown.push(landing);
    // A bad reload whose error points at the line holding a secret.
    let good_config = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good_config.replace("secret_key: CANARY", "secret_kee: CANARY"),
    )
    .unwrap();
    let reload = client
        .post(format!("http://{}/-/reload", daemon.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 500);
    let reload = reload.text().await.unwrap();
    assert!(reload.contains("secret_kee"), "{reload}");
    shown.push(reload);
    std::fs::write(&config, &good_config).unwrap();

    daemon.signal("TERM");
    let (status, daemon) = daemon.exited(Duration::from_secs(6)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let logs = daemon.logs().join("\n");

    for (n, text) in shown.iter().enumerate() {
        assert_no_canary(&format!("answer {n}"), text);
    }
    assert_no_canary("the debug log", &logs);

    // The log did say what went wrong, once, with the provider's request id.
    let failures: Vec<_> = logs
        .lines()
        .filter(|l| l.contains("\"sweep failed\"") && l.contains("\"account\":\"bad\""))
        .collect();
    assert_eq!(
        failures.len(),
        1,
        "one line for four failed sweeps:\n{logs}"
    );
    let quiet = logs
        .lines()
        .filter(|l| {
            l.contains("\"level\":\"DEBUG\"")
                && l.contains("logged before")
                && l.contains("\"account\":\"bad\"")
        })
        .count();
    assert_eq!(
        quiet, 3,
        "the repeats are at debug level, which was on:\n{logs}"
    );
    assert!(
        failures[0].contains("auth_error") && failures[0].contains("request_id"),
        "{}",
        failures[0]
    );
    let alibaba = logs
        .lines()
        .find(|l| l.contains("\"sweep failed\"") && l.contains("\"account\":\"ali-bad\""))
        .unwrap_or_else(|| panic!("no failure logged for ali-bad:\n{logs}"));
    assert!(
        alibaba.contains("SignatureDoesNotMatch") && alibaba.contains("request_id"),
        "{alibaba}"
    );
    // And warned about the key file anyone can read, naming the file, not its contents.
    let warning = logs
        .lines()
        .find(|l| l.contains("secret file is readable by every user"))
        .unwrap_or_else(|| panic!("no warning about the 0644 key file:\n{logs}"));
    assert!(
        warning.contains("secret_key_file") && warning.contains("0644"),
        "{warning}"
    );

    // --check-config, at debug level, with the file fixed: no canary and no warning.
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = Command::new(BIN)
        .args(["--check-config", "--log.level=debug", "--config.file"])
        .arg(&config)
        .envs(env)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("<redacted>"), "{stdout}");
    assert!(!stderr.contains("readable by every user"), "{stderr}");
    assert_no_canary("--check-config", &format!("{stdout}{stderr}"));
}
