//! The Debian package as `dpkg -i` installed it: CI builds it with `cargo deb --profile deb`
//! and installs it before `cargo test` (`.ci/run`); this checks the installed files, then runs
//! the installed binary's `--version`, and `--check-config` on the installed example config
//! with its `${VAR}`s set, as an administrator would in `/etc/default/cloud-task-exporter`.
//!
//! Without the package installed the test says so and passes, except under `CI=true`.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const BIN: &str = "/usr/bin/cloud-task-exporter";
const CONFIG: &str = "/etc/cloud-task-exporter/cloud-task-exporter.yaml";
const ENVIRONMENT: &str = "/etc/default/cloud-task-exporter";
const UNIT: &str = "/usr/lib/systemd/system/cloud-task-exporter.service";

/// What `dpkg-query` says of the installed package's `field`, if it is installed.
fn installed(field: &str) -> Option<String> {
    let output = Command::new("dpkg-query")
        .args([
            "-W",
            &format!("-f=${{Status}}|${{{field}}}"),
            "cloud-task-exporter",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (status, value) = text.split_once('|')?;
    (status == "install ok installed").then(|| value.to_owned())
}

/// The variables the example config names as `${VAR}` outside comments.
fn variables(config: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in config.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            names.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_installed_package_runs_its_example_config() {
    let Some(version) = installed("Version") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI installs the package before the tests (.ci/run): it is not installed"
        );
        eprintln!(
            "skipped: the cloud-task-exporter package is not installed (cargo deb --profile deb && dpkg -i target/debian/*.deb)"
        );
        return;
    };
    // The package of this build: its version is the crate's.
    assert!(
        version.starts_with(&format!("{}-", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let conffiles = installed("Conffiles").unwrap_or_default();
    for file in [CONFIG, ENVIRONMENT] {
        assert!(
            conffiles.contains(file),
            "{file} is not a conffile: {conffiles}"
        );
    }
    let mode = |path: &str| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        mode(ENVIRONMENT),
        0o600,
        "the environment file holds secrets"
    );
    assert_eq!(mode(BIN), 0o755);
    let unit = std::fs::read_to_string(UNIT).unwrap();
    assert!(
        unit.contains(&format!("ExecStart={BIN} --config.file={CONFIG}")),
        "{unit}"
    );

    let output = Command::new(BIN).arg("--version").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");

    let config = std::fs::read_to_string(CONFIG).unwrap();
    let names = variables(&config);
    assert!(
        !names.is_empty(),
        "the example names its credentials as variables"
    );
    let output = Command::new(BIN)
        .args(["--check-config", "--config.file", CONFIG])
        .env_clear()
        .envs(
            names
                .iter()
                .map(|name| (name.as_str(), "placeholder-value")),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("<redacted>"), "{stdout}");
    assert!(
        !stdout.contains("secret_key: placeholder-value"),
        "secrets are redacted: {stdout}"
    );
    // Without them, the error names the first missing variable.
    let output = Command::new(BIN)
        .args(["--check-config", "--config.file", CONFIG])
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not set"), "{stderr}");
}
