//! The binary as a user runs it: `--check-config`, `--version`, `--demo`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cloud-task-exporter");
const CANARY: &str = "CANARY-7b1f0e2a-secret-must-never-print";

fn write_config(dir: &tempfile::TempDir, secret_key_line: &str) -> std::path::PathBuf {
    let path = dir.path().join("cloud-task-exporter.yaml");
    std::fs::write(
        &path,
        format!(
            "accounts:\n  - name: prod\n    provider: tencent\n    credentials:\n      secret_id: ${{CTE_TEST_SECRET_ID}}\n      {secret_key_line}\n    targets:\n      - kind: tencent_postgres\n        regions: [ap-guangzhou, ap-shanghai]\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("tencent.key");
    std::fs::write(&key_file, format!("{CANARY}\n")).unwrap();
    let config = write_config(&dir, &format!("secret_key_file: {}", key_file.display()));
    let output = Command::new(BIN)
        .args(["--check-config", "--log.level=debug", "--config.file"])
        .arg(&config)
        .env("CTE_TEST_SECRET_ID", "AKIDfromTheEnvironment")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("secret_id: AKIDfromTheEnvironment"),
        "{stdout}"
    );
    assert!(stdout.contains("secret_key: <redacted>"), "{stdout}");
    assert!(
        stdout.contains("lookback: 24h") && stdout.contains("rate_limit: 20"),
        "{stdout}"
    );
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));
}

#[test]
fn check_config_rejects_a_bad_file_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        &dir,
        &format!("secret_key: {CANARY}\n      secret_kee: typo"),
    );
    let output = Command::new(BIN)
        .args(["--check-config", "--config.file"])
        .arg(&config)
        .env("CTE_TEST_SECRET_ID", "AKIDfromTheEnvironment")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&config.display().to_string()), "{stderr}");
    assert!(stderr.contains("unknown field `secret_kee`"), "{stderr}");
    assert!(stderr.contains("line 7"), "{stderr}");
    assert!(!stderr.contains(CANARY), "{stderr}");
}

#[test]
fn starting_without_a_config_file_fails_clearly() {
    let output = Command::new(BIN)
        .args([
            "--config.file=/nonexistent/cte.yaml",
            "--web.listen-address=127.0.0.1:0",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/cte.yaml: cannot read config file"),
        "{stderr}"
    );
}

#[test]
fn a_shard_outside_the_total_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir, "secret_key: key");
    for (shard, total, says) in [
        ("2", "2", "--shard must be below --total-shards (2)"),
        ("0", "0", "--total-shards must be from 1 to 10000"),
    ] {
        let output = Command::new(BIN)
            .arg(format!("--config.file={}", config.display()))
            .args([
                "--web.listen-address=127.0.0.1:0",
                &format!("--shard={shard}"),
                &format!("--total-shards={total}"),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}

#[test]
fn version_is_printed() {
    let output = Command::new(BIN).arg("--version").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("cloud-task-exporter {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Kills the child when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_live_metrics_with_no_account_and_no_config() {
    let mut child = Running(
        Command::new(BIN)
            .args([
                "--demo",
                "--web.listen-address=127.0.0.1:0",
                "--log.format=json",
            ])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = BufReader::new(child.0.stderr.take().unwrap());
    let address = stderr
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            let log: serde_json::Value = serde_json::from_str(&line).ok()?;
            log["fields"]["address"].as_str().map(str::to_owned)
        })
        .expect("the demo logs the address it listens on");
    let addr = address.parse().unwrap();
    let body = common::scrape(addr).await;
    let samples = common::parse(&body);
    for region in ["ap-guangzhou", "ap-shanghai"] {
        let target = [("provider", "tencent_postgres"), ("region", region)];
        assert_eq!(
            common::value(&samples, "cloud_task_up", &target),
            1.0,
            "{body}"
        );
        let running: f64 = common::find(
            &samples,
            "cloud_task_tasks",
            &[("region", region), ("status", "running")],
        )
        .iter()
        .map(|s| s.value)
        .sum();
        assert!(running >= 1.0, "the demo always has running tasks");
    }
    assert!(!common::find(&samples, "process_resident_memory_bytes", &[]).is_empty());
    assert_eq!(
        common::value(
            &samples,
            "cloud_task_exporter_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    common::promtool_check_metrics(&body);
}
