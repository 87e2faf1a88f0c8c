//! The systemd unit `systemd/cloud-task-exporter.service` is well-formed and hardened:
//!
//! - it sets the directives the hardening relies on (transient user, read-only system, no
//!   capabilities, no new privileges, credentials from `/etc/default/cloud-task-exporter`,
//!   reload by SIGHUP) and leaves out those that would break the exporter;
//! - `systemd-analyze verify` has nothing to say about it, warnings included, with `ExecStart=`
//!   pointed at the binary cargo just built so that the executable check is real;
//! - `systemd-analyze security --offline=true` rates its overall exposure at 1.5 or lower.
//!
//! The two `systemd-analyze` checks need systemd 250 or later. Without `systemd-analyze` they
//! are skipped with a message, except under `CI=true`, where they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cloud-task-exporter");
const UNIT_NAME: &str = "cloud-task-exporter.service";
/// Where the unit expects the binary; the copy under test points at [`BIN`] instead.
const INSTALLED_BIN: &str = "/usr/bin/cloud-task-exporter";
const MAX_EXPOSURE: f64 = 1.5;

fn repo_file(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn unit_text() -> String {
    repo_file("systemd/cloud-task-exporter.service")
}

/// Each directive as `(section, key, value)`, in order; blank lines and comments skipped.
fn directives(unit: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for (number, line) in unit.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        assert!(
            !line.ends_with('\\'),
            "line {}: keep directives on one line, the checks here do not join continuations",
            number + 1
        );
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not key=value: {line}", number + 1));
        out.push((
            section.clone(),
            key.trim().to_owned(),
            value.trim().to_owned(),
        ));
    }
    out
}

/// The values a key has in `[Service]`, in order.
fn service_values<'a>(directives: &'a [(String, String, String)], key: &str) -> Vec<&'a str> {
    directives
        .iter()
        .filter(|(section, k, _)| section == "Service" && k == key)
        .map(|(_, _, value)| value.as_str())
        .collect()
}

/// The single value of a `[Service]` key, panicking if it is missing or repeated.
fn service_value<'a>(directives: &'a [(String, String, String)], key: &str) -> &'a str {
    match service_values(directives, key).as_slice() {
        [value] => value,
        values => panic!("[Service] {key}= should be set exactly once, found {values:?}"),
    }
}

#[test]
fn unit_sets_the_hardening_directives() {
    let unit = unit_text();
    let d = directives(&unit);

    for (key, expected) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallArchitectures", "native"),
        ("SystemCallErrorNumber", "EPERM"),
        ("MemoryDenyWriteExecute", "yes"),
        ("ProtectProc", "invisible"),
        ("ProcSubset", "pid"),
        ("UMask", "0077"),
        ("EnvironmentFile", "-/etc/default/cloud-task-exporter"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("Restart", "on-failure"),
    ] {
        assert_eq!(service_value(&d, key), expected, "[Service] {key}=");
    }
    assert_eq!(
        service_values(&d, "SystemCallFilter"),
        ["@system-service", "~@privileged @resources"]
    );

    let exec_start = service_value(&d, "ExecStart");
    let mut argv = exec_start.split_whitespace();
    assert_eq!(argv.next(), Some(INSTALLED_BIN), "ExecStart={exec_start}");
    let args: Vec<&str> = argv.collect();
    assert!(
        args.contains(&"--config.file=/etc/cloud-task-exporter/cloud-task-exporter.yaml"),
        "ExecStart={exec_start}"
    );
    // Extra flags come from the environment file, whose example documents the variable.
    assert!(
        args.contains(&"$CLOUD_TASK_EXPORTER_OPTS"),
        "ExecStart={exec_start}"
    );
    assert!(repo_file("systemd/cloud-task-exporter.default").contains("CLOUD_TASK_EXPORTER_OPTS="));

    let unit_section = |key: &str| {
        d.iter()
            .filter(|(section, k, _)| section == "Unit" && k == key)
            .map(|(_, _, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(unit_section("After"), ["network-online.target"]);
    assert_eq!(unit_section("Wants"), ["network-online.target"]);
    assert!(
        d.iter()
            .any(|(s, k, v)| s == "Install" && k == "WantedBy" && v == "multi-user.target"),
        "[Install] WantedBy=multi-user.target"
    );

    // Left out on purpose; each would break the exporter at run time.
    for (key, why) in [
        (
            "IPAddressDeny",
            "the exporter must reach the cloud APIs, whose addresses are not known here",
        ),
        ("IPAddressAllow", "see IPAddressDeny"),
        (
            "PrivateNetwork",
            "the exporter listens on the host network and calls the cloud APIs",
        ),
    ] {
        assert!(
            service_values(&d, key).is_empty(),
            "[Service] {key}= must not be set: {why}"
        );
    }
}

/// Whether `systemd-analyze` can run. If not: under `CI=true` a panic, otherwise a skip message.
fn systemd_analyze_available(check: &str) -> bool {
    let why = match Command::new("systemd-analyze").arg("--version").output() {
        Ok(output) if output.status.success() => return true,
        Ok(output) => format!("`systemd-analyze --version` exited {}", output.status),
        Err(e) => format!("systemd-analyze: {e}"),
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{check}: systemd-analyze is required under CI=true ({why}); apt-get install systemd"
        );
    }
    eprintln!("skipping {check}: {why} (apt-get install systemd)");
    false
}

/// A copy of the unit in `dir`, under its own name, whose `ExecStart=` runs [`BIN`].
fn unit_under_test(dir: &Path) -> PathBuf {
    copy_under_test(dir, &unit_text(), UNIT_NAME)
}

/// `text` as `name` in `dir`, with its `ExecStart=` running [`BIN`].
fn copy_under_test(dir: &Path, unit: &str, name: &str) -> PathBuf {
    assert!(
        !BIN.contains(char::is_whitespace),
        "the built binary's path has whitespace, which ExecStart= would split: {BIN}"
    );
    let mut rewritten = 0;
    let text: String = unit
        .lines()
        .map(|line| {
            let line = match line.strip_prefix("ExecStart=") {
                Some(command) if command.starts_with(INSTALLED_BIN) => {
                    rewritten += 1;
                    format!("ExecStart={BIN}{}", &command[INSTALLED_BIN.len()..])
                }
                _ => line.to_owned(),
            };
            line + "\n"
        })
        .collect();
    assert_eq!(rewritten, 1, "one ExecStart={INSTALLED_BIN} ... line");
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const TEMPLATE: &str = "systemd/cloud-task-exporter@.service";

/// The template for shards differs from the unit only where it names its shard: the hardening
/// cannot drift apart.
#[test]
fn the_shard_template_is_the_unit_but_for_its_shard() {
    let unit = directives(&unit_text());
    let template = directives(&repo_file(TEMPLATE));
    let shard_env = "-/etc/default/cloud-task-exporter-%i";
    let mut rest: Vec<&(String, String, String)> = template
        .iter()
        .filter(|(s, k, v)| !(s == "Service" && k == "EnvironmentFile" && v == shard_env))
        .collect();
    assert_eq!(
        rest.len() + 1,
        template.len(),
        "one EnvironmentFile={shard_env}"
    );
    assert_eq!(rest.len(), unit.len());
    for (ours, theirs) in rest.iter_mut().zip(&unit) {
        match (theirs.0.as_str(), theirs.1.as_str()) {
            ("Unit", "Description") => {
                assert_eq!(ours.2, format!("{} (shard %i)", theirs.2));
            }
            ("Service", "ExecStart") => {
                let expected = theirs.2.replace(
                    " $CLOUD_TASK_EXPORTER_OPTS",
                    " --shard=%i --total-shards=${CLOUD_TASK_EXPORTER_TOTAL_SHARDS} $CLOUD_TASK_EXPORTER_OPTS $CLOUD_TASK_EXPORTER_SHARD_OPTS",
                );
                assert_eq!(ours.2, expected);
            }
            _ => assert_eq!(**ours, *theirs),
        }
    }
}

#[test]
fn systemd_analyze_verify_of_a_shard_instance_is_silent() {
    if !systemd_analyze_available("systemd-analyze verify") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    copy_under_test(
        dir.path(),
        &repo_file(TEMPLATE),
        "cloud-task-exporter@.service",
    );
    // The instance is loaded from the template beside it.
    let instance = dir.path().join("cloud-task-exporter@1.service");
    let output = systemd_analyze(&["verify", "--recursive-errors=no"], &instance);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let ours: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| {
            line.contains("cloud-task-exporter@") || !about_something_else(line, &instance)
        })
        .collect();
    assert!(
        output.status.success() && ours.is_empty(),
        "systemd-analyze verify {}: {}\n{}",
        instance.display(),
        output.status,
        ours.join("\n")
    );
}

fn systemd_analyze(args: &[&str], unit: &Path) -> Output {
    Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .env("SYSTEMD_COLORS", "0")
        .env("SYSTEMD_PAGER", "")
        .output()
        .expect("run systemd-analyze")
}

/// Whether a line of `systemd-analyze verify` output is about another unit or file than the
/// one under test, and so no concern of this test.
///
/// `verify` loads the unit's dependencies too (network-online.target, multi-user.target and
/// what they pull in), and on some machines and containers those installed units draw
/// warnings of their own, e.g. `/lib/systemd/system/foo.service:12: Unknown key ...` or
/// `foo.service: Command /usr/sbin/foo is not executable`. Such a line starts with the other
/// unit's name or file. Only those are filtered, and only when the line does not also name
/// this unit, its file or the binary; every other line, including ones that name nothing,
/// counts against the unit.
fn about_something_else(line: &str, unit: &Path) -> bool {
    if line.contains(UNIT_NAME) || line.contains(&*unit.to_string_lossy()) || line.contains(BIN) {
        return false;
    }
    let subject = line.split(':').next().unwrap_or_default().trim();
    const UNIT_SUFFIXES: [&str; 11] = [
        ".service",
        ".socket",
        ".target",
        ".device",
        ".mount",
        ".automount",
        ".swap",
        ".path",
        ".timer",
        ".slice",
        ".scope",
    ];
    !subject.contains(char::is_whitespace)
        && (subject.starts_with('/') || UNIT_SUFFIXES.iter().any(|s| subject.ends_with(s)))
}

#[test]
fn verify_filter_keeps_every_line_about_this_unit() {
    let unit = Path::new("/tmp/.tmpAbC/cloud-task-exporter.service");
    for other in [
        "/lib/systemd/system/other.service:2: Unknown key 'Bogus' in section [Service], ignoring.",
        "other.service: Command /usr/sbin/nothing is not executable: No such file or directory",
        "dbus.socket: Failed to resolve path",
    ] {
        assert!(about_something_else(other, unit), "{other}");
    }
    for ours in [
        "/tmp/.tmpAbC/cloud-task-exporter.service:56: Unknown key 'NoNewPrivilege' in section [Service], ignoring.",
        "cloud-task-exporter.service: Command /bin/kil is not executable: No such file or directory",
        &format!("{BIN}: something"),
        "Failed to set up something, continuing anyway",
        "",
    ] {
        assert!(!about_something_else(ours, unit), "{ours}");
    }
}

#[test]
fn systemd_analyze_verify_is_silent() {
    if !systemd_analyze_available("systemd-analyze verify") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_under_test(dir.path());
    // --recursive-errors=no: the exit status reflects this unit only; dependencies' warnings
    // are still printed and handled by about_something_else.
    let output = systemd_analyze(&["verify", "--recursive-errors=no"], &unit);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let (elsewhere, ours): (Vec<&str>, Vec<&str>) = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .partition(|line| about_something_else(line, &unit));
    if !elsewhere.is_empty() {
        eprintln!(
            "systemd-analyze verify, ignored (about other units or files):\n{}",
            elsewhere.join("\n")
        );
    }
    assert!(
        output.status.success() && ours.is_empty(),
        "systemd-analyze verify {}: {}\n{}",
        unit.display(),
        output.status,
        ours.join("\n")
    );
}

/// The figure of `→ Overall exposure level for cloud-task-exporter.service: 1.1 OK 🙂`.
fn overall_exposure(report: &str) -> Option<f64> {
    let line = report
        .lines()
        .find(|line| line.contains("Overall exposure level for"))?;
    let (_, rest) = line.rsplit_once(": ")?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn overall_exposure_is_parsed() {
    let line = "\u{2192} Overall exposure level for cloud-task-exporter.service: 1.1 OK \u{1f642}";
    assert_eq!(overall_exposure(&format!("a\n{line}\n")), Some(1.1));
    assert_eq!(overall_exposure("no summary"), None);
}

#[test]
fn systemd_analyze_security_exposure_is_at_most_1_5() {
    if !systemd_analyze_available("systemd-analyze security") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_under_test(dir.path());
    let output = systemd_analyze(&["security", "--offline=true", "--no-pager"], &unit);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "systemd-analyze security: {}\n{report}",
        output.status
    );
    let exposure = overall_exposure(&report)
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{report}"));
    assert!(
        exposure <= MAX_EXPOSURE,
        "overall exposure {exposure} is above {MAX_EXPOSURE}:\n{report}"
    );
}
