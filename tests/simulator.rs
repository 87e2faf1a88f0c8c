//! The simulated cloud behaves like the real DescribeTasks: it checks signatures, answers in
//! Tencent's error envelope, caps `Limit` at 100 and honours the start-time filters.

use std::time::Duration;

use chrono::Utc;
use cloud_task_exporter::config::Credentials;
use cloud_task_exporter::providers::{self, ApiResponse, Outcome, Page, PageQuery, TimeWindow};
use cloud_task_exporter::secret::Secret;
use cloud_task_exporter::simulator::{SimAccount, SimOutcome, SimTask, Simulator};

const REGION: &str = "ap-shanghai";

async fn simulator() -> (Simulator, reqwest::Url) {
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent("AKIDsim", "sim-key").with_token("session-token"));
    let now = Utc::now();
    sim.world().add(
        "tencent_postgres",
        REGION,
        (0..30).map(|i| SimTask {
            id: i,
            task_type: "RestoreDatabase".into(),
            instance_ids: vec!["postgres-1".into()],
            start: now - chrono::Duration::minutes(60 - i as i64) + chrono::Duration::seconds(30),
            duration: Some(Duration::from_secs(10)),
            outcome: SimOutcome::Succeed,
            stuck_progress: 0.0,
            message: None,
        }),
    );
    let addr = sim.start().await.unwrap();
    (sim, format!("http://{addr}").parse().unwrap())
}

async fn ask(
    endpoint: &reqwest::Url,
    credentials: &Credentials,
    window: TimeWindow,
    limit: u32,
) -> Result<Page, providers::ApiError> {
    let provider = providers::lookup("tencent_postgres").unwrap();
    let request = provider
        .build_request(&PageQuery {
            region: REGION,
            endpoint,
            credentials,
            window,
            offset: 0,
            limit,
            now: Utc::now(),
        })
        .unwrap();
    let client = reqwest::Client::new();
    let mut builder = client.request(request.method, request.url);
    for (name, value) in request.headers {
        if name != "Host" {
            builder = builder.header(name, value);
        }
    }
    let response = builder.body(request.body).send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    provider.parse_response(&ApiResponse {
        status,
        request_id: None,
        body: &body,
    })
}

fn credentials(key: &str, token: Option<&str>) -> Credentials {
    Credentials::Tencent {
        secret_id: "AKIDsim".into(),
        secret_key: Secret::new(key.into()),
        token: token.map(|t| Secret::new(t.into())),
    }
}

fn last(minutes: i64) -> TimeWindow {
    let now = Utc::now();
    TimeWindow {
        start: now - chrono::Duration::minutes(minutes),
        end: now,
    }
}

#[tokio::test]
async fn pages_and_time_filters() {
    let (_sim, endpoint) = simulator().await;
    let good = credentials("sim-key", Some("session-token"));
    let page = ask(&endpoint, &good, last(120), 100).await.unwrap();
    assert_eq!((page.total, page.tasks.len()), (30, 30));
    assert!(page.request_id.is_some());
    // Starts at 59.5, 58.5, ... 30.5 minutes ago: the last 45 minutes hold 15 of them.
    let page = ask(&endpoint, &good, last(45), 10).await.unwrap();
    assert_eq!((page.total, page.tasks.len()), (15, 10));
}

#[tokio::test]
async fn limit_above_100_is_an_invalid_parameter() {
    let (_sim, endpoint) = simulator().await;
    let err = ask(
        &endpoint,
        &credentials("sim-key", Some("session-token")),
        last(120),
        101,
    )
    .await
    .unwrap_err();
    assert_eq!(err.outcome(), Outcome::ClientError);
    assert!(
        err.to_string()
            .starts_with("InvalidParameterValue: Limit=101 is out of range"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_signatures_and_tokens_are_auth_failures() {
    let (_sim, endpoint) = simulator().await;
    let err = ask(
        &endpoint,
        &credentials("wrong-key", Some("session-token")),
        last(120),
        10,
    )
    .await
    .unwrap_err();
    assert_eq!(err.outcome(), Outcome::AuthError);
    assert!(
        err.to_string().starts_with("AuthFailure.SignatureFailure:"),
        "{err}"
    );
    assert!(err.request_id().is_some());
    let err = ask(&endpoint, &credentials("sim-key", None), last(120), 10)
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("AuthFailure.TokenFailure:"),
        "{err}"
    );
}
