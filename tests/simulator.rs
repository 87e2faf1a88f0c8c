//! The simulated cloud behaves like the real APIs, each in its own protocol: it checks TC3 and
//! AK/SK signatures and tokens, answers in the provider's own error format, rejects pages
//! larger than the API allows, honours the start-time filters and throttles above the rate.

use std::time::Duration;

use chrono::Utc;
use cloud_task_exporter::config::Credentials;
use cloud_task_exporter::http;
use cloud_task_exporter::providers::{self, Outcome, Page, PageQuery, TimeWindow};
use cloud_task_exporter::secret::Secret;
use cloud_task_simulator::{SimAccount, SimOutcome, SimTask, Simulator};

const TENCENT_REGION: &str = "ap-shanghai";
const HUAWEI_REGION: &str = "cn-north-4";
const ALIBABA_REGION: &str = "cn-hangzhou";
const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const KINDS: [&str; 12] = [
    "tencent_postgres",
    "tencent_mysql",
    "tencent_redis",
    "tencent_cynosdb",
    "huawei_rds",
    "huawei_gaussdb",
    "huawei_taurusdb",
    "huawei_dds",
    "alibaba_rds",
    "alibaba_redis",
    "alibaba_mongodb",
    "alibaba_polardb",
];

fn region(kind: &str) -> &'static str {
    if kind.starts_with("huawei_") {
        HUAWEI_REGION
    } else if kind.starts_with("alibaba_") {
        ALIBABA_REGION
    } else {
        TENCENT_REGION
    }
}

/// Every API with the same 30 tasks, started 59.5, 58.5, ... 30.5 minutes ago.
async fn simulator(rate_limit: f64) -> (Simulator, reqwest::Url) {
    let sim = Simulator::new();
    sim.add_account(
        SimAccount::tencent("AKIDsim", "sim-key")
            .with_token("session-token")
            .with_rate_limit(rate_limit),
    );
    sim.add_account(
        SimAccount::huawei("HWSIMAK", "sim-sk", &[(HUAWEI_REGION, PROJECT)])
            .with_token("security-token")
            .with_rate_limit(rate_limit),
    );
    sim.add_account(
        SimAccount::alibaba("STS.LTAIsim", "sim-secret")
            .with_token("sts-token")
            .with_rate_limit(rate_limit),
    );
    let now = Utc::now();
    for kind in KINDS {
        sim.world().add(
            kind,
            region(kind),
            (0..30).map(|i| SimTask {
                id: i,
                task_type: "012".into(),
                instance_ids: vec!["instance-1".into()],
                start: now - chrono::Duration::minutes(60 - i as i64)
                    + chrono::Duration::seconds(30),
                duration: Some(Duration::from_secs(10)),
                outcome: SimOutcome::Succeed,
                stuck_progress: 0.0,
                message: None,
            }),
        );
    }
    let addr = sim.start().await.unwrap();
    (sim, format!("http://{addr}").parse().unwrap())
}

/// The right credentials for `kind`, or with the secret replaced by `key` and the token by
/// `token`.
fn credentials(kind: &str, key: Option<&str>, token: Option<Option<&str>>) -> Credentials {
    let secret = |default: &str| Secret::new(key.unwrap_or(default).to_owned());
    if kind.starts_with("alibaba_") {
        Credentials::Alibaba {
            access_key_id: "STS.LTAIsim".into(),
            access_key_secret: secret("sim-secret"),
            security_token: token
                .unwrap_or(Some("sts-token"))
                .map(|t| Secret::new(t.to_owned())),
        }
    } else if kind.starts_with("huawei_") {
        Credentials::Huawei {
            access_key: "HWSIMAK".into(),
            secret_key: secret("sim-sk"),
            token: token
                .unwrap_or(Some("security-token"))
                .map(|t| Secret::new(t.to_owned())),
            project_id: Some(PROJECT.into()),
            project_ids: Default::default(),
        }
    } else {
        Credentials::Tencent {
            secret_id: "AKIDsim".into(),
            secret_key: secret("sim-key"),
            token: token
                .unwrap_or(Some("session-token"))
                .map(|t| Secret::new(t.to_owned())),
        }
    }
}

fn good(kind: &str) -> Credentials {
    credentials(kind, None, None)
}

fn last(minutes: i64) -> TimeWindow {
    let now = Utc::now();
    TimeWindow {
        start: now - chrono::Duration::minutes(minutes),
        end: now,
    }
}

async fn ask(
    kind: &str,
    endpoint: &reqwest::Url,
    credentials: &Credentials,
    window: TimeWindow,
    (offset, limit): (u64, u32),
) -> Result<Page, providers::ApiError> {
    let provider = providers::lookup(kind).unwrap();
    let request = provider
        .build_request(&PageQuery {
            region: region(kind),
            endpoint,
            credentials,
            window,
            offset,
            limit,
            now: Utc::now(),
        })
        .unwrap();
    let answer = http::exchange(&reqwest::Client::new(), request)
        .await
        .unwrap();
    provider.parse_response(&answer.as_response())
}

#[tokio::test]
async fn pages_and_time_filters() {
    let (_sim, endpoint) = simulator(1000.0).await;
    for kind in KINDS {
        // DDS states no total.
        let total = |n: u64| (kind != "huawei_dds").then_some(n);
        let page = ask(kind, &endpoint, &good(kind), last(120), (0, 50))
            .await
            .unwrap();
        assert_eq!((page.total, page.tasks.len()), (total(30), 30), "{kind}");
        assert!(page.request_id.is_some(), "{kind}");
        // The last 45 minutes hold 15 of them; a page of 10 from offset 10 holds the rest.
        let page = ask(kind, &endpoint, &good(kind), last(45), (10, 10))
            .await
            .unwrap();
        assert_eq!((page.total, page.tasks.len()), (total(15), 5), "{kind}");
    }
}

#[tokio::test]
async fn pages_larger_than_the_api_allows_are_invalid() {
    let (_sim, endpoint) = simulator(1000.0).await;
    for (kind, limit, message) in [
        (
            "tencent_postgres",
            101,
            "InvalidParameterValue: Limit=101 is out of range",
        ),
        (
            "tencent_mysql",
            101,
            "InvalidParameterValue: Limit=101 is out of range",
        ),
        (
            "tencent_redis",
            101,
            "InvalidParameterValue: Limit=101 is out of range",
        ),
        (
            "huawei_rds",
            51,
            "DBS.200001: Invalid parameter limit=\"51\"",
        ),
        ("huawei_gaussdb", 101, "DBS.200001: Invalid parameter limit"),
        // Only 10, 20 or 50.
        ("huawei_taurusdb", 30, "DBS.280439: Invalid limit."),
        ("huawei_dds", 101, "DBS.280439: Invalid limit."),
        (
            "alibaba_polardb",
            101,
            "InvalidParameter: The specified parameter \"PageSize\" is not valid",
        ),
    ] {
        let err = ask(kind, &endpoint, &good(kind), last(120), (0, limit))
            .await
            .unwrap_err();
        assert_eq!(err.outcome(), Outcome::ClientError, "{kind}: {err}");
        assert!(err.to_string().starts_with(message), "{kind}: {err}");
        assert!(err.request_id().is_some(), "{kind}");
    }
}

#[tokio::test]
async fn redis_offsets_are_multiples_of_the_limit() {
    let (_sim, endpoint) = simulator(1000.0).await;
    let err = ask(
        "tencent_redis",
        &endpoint,
        &good("tencent_redis"),
        last(120),
        (5, 10),
    )
    .await
    .unwrap_err();
    assert_eq!(err.outcome(), Outcome::ClientError);
    assert!(
        err.to_string()
            .starts_with("InvalidParameterValue: Offset=5 must be a multiple of Limit=10"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_signatures_and_tokens_are_auth_failures() {
    let (_sim, endpoint) = simulator(1000.0).await;
    for kind in KINDS {
        let (bad_signature, bad_token) = if kind.starts_with("huawei_") {
            (
                "APIGW.0301: Incorrect IAM authentication information: verify aksk signature fail",
                "APIGW.0301: Incorrect IAM authentication information: the security token",
            )
        } else if kind.starts_with("alibaba_") {
            ("SignatureDoesNotMatch:", "InvalidSecurityToken.Mismatch:")
        } else {
            ("AuthFailure.SignatureFailure:", "AuthFailure.TokenFailure:")
        };
        let wrong_key = credentials(kind, Some("wrong-key"), None);
        let err = ask(kind, &endpoint, &wrong_key, last(120), (0, 10))
            .await
            .unwrap_err();
        assert_eq!(err.outcome(), Outcome::AuthError, "{kind}");
        assert!(err.to_string().starts_with(bad_signature), "{kind}: {err}");
        assert!(err.request_id().is_some(), "{kind}");
        assert!(!err.to_string().contains("wrong-key"), "{kind}: {err}");

        let no_token = credentials(kind, None, Some(None));
        let err = ask(kind, &endpoint, &no_token, last(120), (0, 10))
            .await
            .unwrap_err();
        assert_eq!(err.outcome(), Outcome::AuthError, "{kind}");
        assert!(err.to_string().starts_with(bad_token), "{kind}: {err}");
    }
}

#[tokio::test]
async fn dds_answers_windows_of_at_most_30_days() {
    let (_sim, endpoint) = simulator(1000.0).await;
    let kind = "huawei_dds";
    let page = ask(kind, &endpoint, &good(kind), last(30 * 24 * 60), (0, 100))
        .await
        .unwrap();
    assert_eq!(page.tasks.len(), 30);
    let err = ask(
        kind,
        &endpoint,
        &good(kind),
        last(30 * 24 * 60 + 1),
        (0, 100),
    )
    .await
    .unwrap_err();
    assert_eq!(err.outcome(), Outcome::ClientError);
    assert!(err.to_string().starts_with("DBS.280068:"), "{err}");
}

#[tokio::test]
async fn a_huawei_project_of_another_account_is_refused() {
    let (_sim, endpoint) = simulator(1000.0).await;
    let Credentials::Huawei {
        access_key,
        secret_key,
        token,
        ..
    } = good("huawei_rds")
    else {
        unreachable!()
    };
    let other = Credentials::Huawei {
        access_key,
        secret_key,
        token,
        project_id: Some("fedcba9876543210fedcba9876543210".into()),
        project_ids: Default::default(),
    };
    let err = ask("huawei_rds", &endpoint, &other, last(120), (0, 10))
        .await
        .unwrap_err();
    assert_eq!(err.outcome(), Outcome::AuthError);
    assert!(err.to_string().starts_with("APIGW.0302:"), "{err}");
}

#[tokio::test]
async fn requests_above_the_rate_are_throttled_in_each_protocol() {
    let (_sim, endpoint) = simulator(1.0).await;
    for (kind, code) in [
        ("tencent_postgres", "RequestLimitExceeded:"),
        ("tencent_redis", "RequestLimitExceeded:"),
        ("tencent_cynosdb", "RequestLimitExceeded:"),
        ("huawei_rds", "APIGW.0308:"),
        ("huawei_gaussdb", "APIGW.0308:"),
        ("huawei_taurusdb", "APIGW.0308:"),
        ("huawei_dds", "APIGW.0308:"),
        ("alibaba_mongodb", "Throttling.User:"),
    ] {
        let first = ask(kind, &endpoint, &good(kind), last(120), (0, 10)).await;
        assert!(first.is_ok(), "{kind}: {first:?}");
        let err = ask(kind, &endpoint, &good(kind), last(120), (0, 10))
            .await
            .unwrap_err();
        assert_eq!(err.outcome(), Outcome::Throttled, "{kind}");
        assert!(err.to_string().starts_with(code), "{kind}: {err}");
    }
}
