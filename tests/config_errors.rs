//! Every `fixtures/config/invalid-*.yaml` is rejected with a message naming the file, the key
//! and its line and column; `config.example.yaml` is accepted.

use std::path::Path;

use cloud_task_exporter::config::Config;

/// (file, the whole message after "<path>: ").
const CASES: &[(&str, &str)] = &[
    (
        "invalid-assume-role-huawei.yaml",
        "accounts[0].credentials.assume_role: is not available for provider huawei (use source: instance_role for an ECS agency) at line 8, column 19",
    ),
    (
        "invalid-assume-role-duration.yaml",
        "accounts[0].credentials.assume_role.duration: must be whole seconds from 15m to 12h for provider alibaba at line 8, column 19",
    ),
    (
        "invalid-web-identity-alibaba.yaml",
        "accounts[0].credentials.source: web_identity is Tencent's TKE workload identity; provider alibaba takes static, environment or instance_role at line 5, column 15",
    ),
    (
        "invalid-sts-endpoint-without-role.yaml",
        "accounts[0].credentials.sts_endpoint: only goes with assume_role or source: web_identity at line 6, column 21",
    ),
    (
        "invalid-assume-role-session-name.yaml",
        "accounts[0].credentials.assume_role.session_name: must be 2 to 128 letters, digits and .@-_+=, for provider tencent at line 6, column 75",
    ),
    (
        "invalid-source-unknown.yaml",
        r#"accounts[0].credentials.source: unknown source "instance_profile": static (the default), environment, instance_role or web_identity at line 5, column 15"#,
    ),
    (
        "invalid-source-with-keys.yaml",
        "accounts[0].credentials.secret_key: source instance_role gives the keys: remove secret_key at line 5, column 7",
    ),
    (
        "invalid-role-name-with-static.yaml",
        "accounts[0].credentials.role_name: only goes with source: instance_role (this account's source is static) at line 7, column 18",
    ),
    (
        "invalid-metadata-endpoint.yaml",
        r#"accounts[0].credentials.metadata_endpoint: "metadata.tencentyun.com" is not an http:// or https:// address (scheme, host and port only) at line 6, column 26"#,
    ),
    (
        "invalid-role-name.yaml",
        "accounts[0].credentials.role_name: must be 1 to 128 letters, digits and _+=,.@-, with a letter or digit at line 6, column 18",
    ),
    // CI has no Alibaba Cloud variables set.
    (
        "invalid-environment-unset.yaml",
        "accounts[0].credentials.source: environment: the variable ALIBABA_CLOUD_ACCESS_KEY_ID is not set or empty at line 5, column 7",
    ),
    (
        "invalid-region-name.yaml",
        r#"accounts[0].targets[0].regions: "evil.example/x?" is not a region (lowercase letters, digits and '-', like ap-guangzhou or cn-north-4) at line 7, column 18"#,
    ),
    (
        "invalid-duplicate-target.yaml",
        "accounts[0].targets[1].regions: cn-hangzhou of alibaba_rds is already watched by targets[0] of this account; merge the two (their instance_ids and task_types filters too) at line 10, column 18",
    ),
    (
        "invalid-alibaba-credential-of-other-cloud.yaml",
        "accounts[0].credentials.secret_key: is not a credential of provider alibaba, which takes access_key_id, access_key_secret and security_token at line 5, column 7",
    ),
    (
        "invalid-alibaba-lookback-over-history.yaml",
        "accounts[0].targets[0].kind: alibaba_polardb keeps tasks for 30 days, but global.lookback is 1440h: set it to at most 720h at line 10, column 15",
    ),
    (
        "invalid-alibaba-missing-secret.yaml",
        "accounts[0].credentials.access_key_secret: missing; set access_key_secret or access_key_secret_file at line 5, column 7",
    ),
    (
        "invalid-bad-duration.yaml",
        r#"global.lookback: invalid duration "24 hours": expected a number and a unit, like 30s, 5m, 24h or 1h30m at line 2, column 13"#,
    ),
    (
        "invalid-bad-endpoint.yaml",
        r#"accounts[0].targets[0].endpoint: "ftp://postgres.tencentcloudapi.com" is not an http:// or https:// URL with a host at line 10, column 19"#,
    ),
    (
        "invalid-credential-of-other-cloud.yaml",
        "accounts[0].credentials.project_id: is not a credential of provider tencent, which takes secret_id, secret_key and token at line 5, column 7",
    ),
    (
        "invalid-duplicate-account.yaml",
        r#"accounts[1].name: account name "prod" is used twice; it becomes the `account` label and must be unique at line 10, column 11"#,
    ),
    (
        "invalid-empty-regions.yaml",
        "accounts[0].targets[0].regions: at least one region is required at line 9, column 18",
    ),
    (
        "invalid-huawei-missing-project.yaml",
        "accounts[0].credentials.project_id: missing; set project_id, or project_ids per region at line 5, column 7",
    ),
    (
        "invalid-huawei-region-without-project.yaml",
        "accounts[0].targets[0].regions: cn-east-3 has no project: add it to credentials.project_ids, or set credentials.project_id at line 12, column 18",
    ),
    (
        "invalid-kind-of-other-cloud.yaml",
        "accounts[0].targets[0].kind: tencent_postgres is a tencent API, but this account's provider is huawei at line 9, column 15",
    ),
    (
        "invalid-missing-credentials.yaml",
        "missing field `credentials` at line 4, column 5",
    ),
    (
        "invalid-missing-regions.yaml",
        "missing field `regions` at line 8, column 9",
    ),
    (
        "invalid-missing-secret-key.yaml",
        "accounts[0].credentials.secret_key: missing; set secret_key or secret_key_file at line 5, column 7",
    ),
    (
        "invalid-negative-rate-limit.yaml",
        "accounts[0].targets[0].rate_limit: -5 must be between 0.001 and 100000 requests per second at line 10, column 21",
    ),
    (
        "invalid-tiny-rate-limit.yaml",
        "accounts[0].targets[0].rate_limit: 0.000000000001 must be between 0.001 and 100000 requests per second at line 10, column 21",
    ),
    (
        "invalid-huge-lookback.yaml",
        "global.lookback: must be at least 1m and at most 8760h at line 2, column 13",
    ),
    (
        "invalid-long-scrape-timeout.yaml",
        "global.scrape_timeout: must be at least 1s and at most 10m at line 2, column 19",
    ),
    (
        "invalid-secret-file-not-a-file.yaml",
        "accounts[0].credentials.secret_key_file: cannot read /dev/zero: is not a regular file at line 6, column 24",
    ),
    (
        "invalid-no-accounts.yaml",
        "accounts: at least one account is required at line 3, column 11",
    ),
    (
        "invalid-secret-and-file.yaml",
        "accounts[0].credentials.secret_key_file: set either secret_key or secret_key_file, not both at line 7, column 24",
    ),
    (
        "invalid-unknown-kind.yaml",
        r#"accounts[0].targets[0].kind: unknown kind "tencent_mongodb", expected one of: "#,
    ),
    (
        "invalid-unknown-provider.yaml",
        "unknown variant `aws`, expected one of tencent, huawei, alibaba at line 3, column 15",
    ),
    (
        "invalid-unknown-target-key.yaml",
        "unknown field `region_list`, expected one of kind, regions, endpoint, rate_limit, instance_ids, task_types at line 10, column 9",
    ),
    (
        "invalid-unknown-top-key.yaml",
        "unknown field `scrape_interval`, expected one of global, accounts at line 10, column 1",
    ),
    (
        "invalid-unreadable-secret-file.yaml",
        "accounts[0].credentials.secret_key_file: cannot read /nonexistent/cloud-task-exporter/tencent.key: No such file or directory (os error 2) at line 6, column 24",
    ),
    (
        "invalid-unset-env-var.yaml",
        "accounts[0].credentials.secret_id: environment variable CLOUD_TASK_EXPORTER_TEST_UNSET_VARIABLE is not set at line 5, column 18",
    ),
    (
        "invalid-unsorted-buckets.yaml",
        "global.histogram_buckets: [60.0, 10.0, 300.0] must be positive finite seconds in increasing order at line 2, column 22",
    ),
    (
        "invalid-zero-lookback.yaml",
        "global.lookback: must be at least 1m and at most 8760h at line 2, column 13",
    ),
];

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config")
}

#[test]
fn each_invalid_config_is_rejected_with_its_message() {
    for (file, expected) in CASES {
        let path = fixtures().join(file);
        let err = Config::load(&path).expect_err(file).to_string();
        let prefix = format!("{}: ", path.display());
        assert!(
            err.starts_with(&prefix),
            "{file}: message does not name the file: {err}"
        );
        assert!(
            err[prefix.len()..].starts_with(expected),
            "{file}:\n  got      {}\n  expected {expected}",
            &err[prefix.len()..]
        );
    }
}

#[test]
fn every_invalid_fixture_is_in_the_table() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("invalid-"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|(f, _)| f.to_string()).collect();
    listed.push("invalid-yaml-syntax.yaml".into());
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn a_yaml_syntax_error_names_its_line() {
    let path = fixtures().join("invalid-yaml-syntax.yaml");
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(err.contains("line "), "{err}");
}

#[test]
fn a_missing_file_is_named() {
    let err = Config::load(Path::new("/nonexistent/cloud-task-exporter.yaml"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "/nonexistent/cloud-task-exporter.yaml: cannot read config file: No such file or directory (os error 2)"
    );
}

#[test]
fn the_example_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    // The example reads credentials from the environment, as a deployment would; give it
    // values through ${VAR} fallbacks written out here instead of touching the environment.
    let text = text
        .replace("${TENCENTCLOUD_SECRET_ID}", "AKIDexample")
        .replace("${TENCENTCLOUD_SECRET_KEY}", "example-key")
        .replace("${HUAWEICLOUD_SDK_AK}", "AKexample")
        .replace("${HUAWEICLOUD_SDK_SK}", "example-key")
        .replace("${ALIBABA_CLOUD_ACCESS_KEY_ID}", "LTAIexample")
        .replace("${ALIBABA_CLOUD_ACCESS_KEY_SECRET}", "example-secret");
    let config = Config::parse(&text).unwrap_or_else(|e| panic!("config.example.yaml: {e}"));
    // The example shows every provider kind.
    let mut kinds: Vec<&str> = config
        .accounts
        .iter()
        .flat_map(|a| a.targets.iter().map(|t| t.kind.provider().kind()))
        .collect();
    kinds.sort_unstable();
    let mut registered = cloud_task_exporter::providers::names();
    registered.sort_unstable();
    assert_eq!(kinds, registered);
}
