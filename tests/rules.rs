//! The Prometheus rule files under `dashboards/`: `promtool check rules` accepts them,
//! `promtool test rules` passes, every alert carries a severity, a summary, a description and a
//! runbook link, every alert has a case where it fires and one where it stays quiet, and every
//! recording rule is named `level:metric:operations` and has its result checked.

mod monitoring;

use std::collections::BTreeMap;
use std::process::Command;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct TestFile {
    rule_files: Vec<String>,
    tests: Vec<TestGroup>,
}

#[derive(Debug, Deserialize)]
struct TestGroup {
    name: String,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
}

#[derive(Debug, Deserialize)]
struct AlertTest {
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpectedAlert>,
}

#[derive(Debug, Deserialize)]
struct ExpectedAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct ExprTest {
    expr: String,
    #[serde(default)]
    exp_samples: Vec<serde::de::IgnoredAny>,
}

fn test_file(relative: &str) -> TestFile {
    serde_saphyr::from_str(&monitoring::read(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn run(command: &mut Command) -> (bool, String) {
    let output = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn promtool_check_rules_accepts_every_rule_file() {
    if !monitoring::tool_available("promtool") {
        return;
    }
    let (ok, output) = run(Command::new("promtool")
        .args(["check", "rules"])
        .args(monitoring::RULE_FILES));
    assert!(ok, "promtool check rules:\n{output}");
    for file in monitoring::RULE_FILES {
        let count: usize = monitoring::rule_file(file)
            .groups
            .iter()
            .map(|group| group.rules.len())
            .sum();
        assert!(
            output.contains(&format!("Checking {file}\n  SUCCESS: {count} rules found")),
            "promtool should find the {count} rules of {file}:\n{output}"
        );
    }
}

#[test]
fn the_ready_scrape_config_is_a_valid_prometheus_config() {
    if !monitoring::tool_available("promtool") {
        return;
    }
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards/scrape-configs.yml");
    let (ok, output) = run(Command::new("promtool").args(["check", "config", file]));
    assert!(ok, "promtool check config:\n{output}");
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains("http_sd_configs") && text.contains("/sd"),
        "{text}"
    );
}

#[test]
fn promtool_unit_tests_of_the_rules_pass() {
    if !monitoring::tool_available("promtool") {
        return;
    }
    let (ok, output) = run(Command::new("promtool")
        .args(["test", "rules"])
        .args(monitoring::RULE_TESTS));
    assert!(ok, "promtool test rules:\n{output}");
    assert_eq!(
        output.matches("SUCCESS").count(),
        monitoring::RULE_TESTS.len(),
        "{output}"
    );
}

#[test]
fn every_alert_has_a_severity_a_summary_a_description_and_a_runbook() {
    let alerts: Vec<_> = monitoring::rules()
        .into_iter()
        .filter(|rule| rule.alert.is_some())
        .collect();
    assert_eq!(alerts.len(), 7, "{alerts:#?}");
    for alert in &alerts {
        let name = alert.name();
        assert!(
            ["critical", "warning", "info"]
                .contains(&alert.labels.get("severity").map_or("", String::as_str)),
            "{name}: severity must be critical, warning or info: {:?}",
            alert.labels
        );
        for key in ["summary", "description"] {
            assert!(
                alert
                    .annotations
                    .get(key)
                    .is_some_and(|text| text.contains("{{ $labels.")),
                "{name}: the {key} annotation must say which target or task: {:?}",
                alert.annotations
            );
        }
        let runbook = alert
            .annotations
            .get("runbook_url")
            .map_or("", String::as_str);
        assert!(
            runbook.starts_with("https://")
                && runbook.ends_with(&format!("README.md#{}", name.to_lowercase())),
            "{name}: runbook_url must point at the README section named after the alert: {runbook}"
        );
    }
}

#[test]
fn every_alert_has_a_case_where_it_fires_and_one_where_it_stays_quiet() {
    let file = test_file(monitoring::RULE_TESTS[0]);
    assert_eq!(file.rule_files, ["../../dashboards/alerts.yml"]);
    let alerts: Vec<String> = monitoring::rules()
        .iter()
        .filter_map(|rule| rule.alert.clone())
        .collect();
    let cases: Vec<(&str, &AlertTest)> = file
        .tests
        .iter()
        .flat_map(|group| {
            group
                .alert_rule_test
                .iter()
                .map(|t| (group.name.as_str(), t))
        })
        .collect();
    // promtool passes a quiet case of a misspelt alert name: it is quiet because it is unknown.
    for (group, case) in &cases {
        assert!(
            alerts.contains(&case.alertname),
            "test {group:?} checks {:?}, which is not an alert of {}",
            case.alertname,
            monitoring::RULE_FILES[0]
        );
    }
    for alert in &alerts {
        let fires = cases
            .iter()
            .filter(|(_, case)| &case.alertname == alert && !case.exp_alerts.is_empty());
        let mut fires = fires.peekable();
        assert!(fires.peek().is_some(), "no test where {alert} fires");
        for (group, case) in fires {
            for expected in &case.exp_alerts {
                assert!(
                    expected.exp_labels.contains_key("severity"),
                    "{group:?}: the expected {alert} must name all its labels, severity included"
                );
            }
        }
        assert!(
            cases
                .iter()
                .any(|(_, case)| &case.alertname == alert && case.exp_alerts.is_empty()),
            "no test where {alert} stays quiet"
        );
    }
}

#[test]
fn every_recording_rule_is_named_level_metric_operations_and_tested() {
    let file = test_file(monitoring::RULE_TESTS[1]);
    assert_eq!(file.rule_files, ["../../dashboards/recording-rules.yml"]);
    let tested: Vec<&str> = file
        .tests
        .iter()
        .flat_map(|group| &group.promql_expr_test)
        .filter(|case| !case.exp_samples.is_empty())
        .map(|case| case.expr.as_str())
        .collect();
    let records: Vec<_> = monitoring::rules()
        .into_iter()
        .filter_map(|rule| rule.record)
        .collect();
    assert!(!records.is_empty());
    for record in &records {
        let parts: Vec<&str> = record.split(':').collect();
        assert!(
            parts.len() == 3
                && parts.iter().all(|part| !part.is_empty())
                && parts[1].starts_with("cloud_task_"),
            "{record} is not level:metric:operations"
        );
        assert!(
            tested.iter().any(|expr| expr.contains(record.as_str())),
            "no promql_expr_test checks the samples of {record}"
        );
    }
}

/// The Kubernetes example: each pod takes its shard from its ordinal, `replicas` equals
/// `--total-shards`, and its embedded config is one the exporter accepts.
#[test]
fn the_statefulset_example_shards_by_pod_ordinal() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dashboards/kubernetes-statefulset.yml"
    ))
    .unwrap();
    let documents: Vec<serde_json::Value> = text
        .split("\n---\n")
        .map(|doc| serde_saphyr::from_str(doc).unwrap())
        .collect();
    let kind = |k: &str| {
        documents
            .iter()
            .find(|d| d["kind"] == k)
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let set = kind("StatefulSet");
    let replicas = set["spec"]["replicas"].as_u64().unwrap();
    let container = &set["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.contains(&"--shard=$(SHARD)"), "{args:?}");
    assert!(
        args.contains(&format!("--total-shards={replicas}").as_str()),
        "replicas and --total-shards must be equal: {args:?}"
    );
    assert_eq!(
        container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.labels['apps.kubernetes.io/pod-index']"
    );
    assert_eq!(
        set["spec"]["serviceName"],
        kind("Service")["metadata"]["name"]
    );
    let config = kind("ConfigMap")["data"]["cloud-task-exporter.yaml"]
        .as_str()
        .unwrap();
    cloud_task_exporter::config::Config::parse(config).unwrap();
}
