//! Serves the simulator on 127.0.0.1 for clients other than the exporter (the official SDKs in
//! `sim/sdk-check/`): one Huawei account and a generated world of every Huawei API in
//! `cn-north-4`; for STS, a Tencent and an Alibaba account, a role on each cloud that trusts
//! only them (a second, untrusted account of each cloud is refused), a role on each that trusts
//! any caller (`.../sim-open`), and a Tencent web identity for the first Tencent role. Prints
//! the bound address as one line, then serves until killed.
//!
//! `cargo run -p cloud-task-simulator --example serve -- [PORT]` (0 or none: any free port).
//! Each value below is the environment variable of that name, or its default here:
//! `SIM_HUAWEI_AK`, `SIM_HUAWEI_SK`, `SIM_HUAWEI_PROJECT`; `SIM_TENCENT_SECRET_ID`,
//! `SIM_TENCENT_SECRET_KEY`, `SIM_TENCENT_ROLE_ARN`, `SIM_TENCENT_PROVIDER_ID`,
//! `SIM_TENCENT_WEB_IDENTITY_TOKEN`; `SIM_ALIBABA_AK_ID`, `SIM_ALIBABA_AK_SECRET`,
//! `SIM_ALIBABA_ROLE_ARN`. The untrusted accounts are fixed: `SIMTENCENTUNTRUSTED` /
//! `SIMALIBABAUNTRUSTED`, secret `sim-untrusted-secret`.

use std::io::Write;
use std::time::Duration;

use cloud_task_simulator::{
    Generator, Scenario, SimAccount, SimCloud, Simulator, StsRole, WebIdentity,
};

const REGION: &str = "cn-north-4";
/// Roles any authenticated caller may assume.
const OPEN_TENCENT_ROLE: &str = "qcs::cam::uin/100000000001:roleName/sim-open";
const OPEN_ALIBABA_ROLE: &str = "acs:ram::1234567890123456:role/sim-open";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(port) => port.parse()?,
        None => 0,
    };
    let project = env_or("SIM_HUAWEI_PROJECT", "0123456789abcdef0123456789abcdef");
    let simulator = Simulator::new();
    simulator.add_account(SimAccount::huawei(
        &env_or("SIM_HUAWEI_AK", "SIMHUAWEIAK0000000001"),
        &env_or("SIM_HUAWEI_SK", "sim-huawei-secret-key"),
        &[(REGION, &project)],
    ));
    sts(&simulator);
    let mut generator = Generator::new(7);
    let now = chrono::Utc::now();
    let huawei = cloud_task_simulator::kinds()
        .into_iter()
        .filter(|kind| kind.starts_with("huawei_"));
    for kind in huawei {
        let Some(sample) = cloud_task_simulator::sample(kind) else {
            continue;
        };
        generator.populate(
            &mut simulator.world(),
            &Scenario {
                kind,
                region: REGION,
                task_types: sample.task_types,
                instance_prefix: sample.instance_prefix,
                instances: 3,
                history: Duration::from_secs(6 * 3600),
                horizon: Duration::from_secs(3600),
                mean_gap_seconds: 900.0,
                multi_instance_one_in: 0,
            },
            now,
        );
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", listener.local_addr()?)?;
    stdout.flush()?;
    simulator.serve(listener).await;
    Ok(())
}

/// The STS side: callers, the roles each cloud lets them assume, and the web identity.
fn sts(simulator: &Simulator) {
    let tencent_id = env_or("SIM_TENCENT_SECRET_ID", "AKIDSIMTENCENT0000000001");
    let alibaba_id = env_or("SIM_ALIBABA_AK_ID", "LTAISIMALIBABA00000001");
    simulator.add_account(SimAccount::tencent(
        &tencent_id,
        &env_or("SIM_TENCENT_SECRET_KEY", "sim-tencent-secret-key"),
    ));
    simulator.add_account(SimAccount::alibaba(
        &alibaba_id,
        &env_or("SIM_ALIBABA_AK_SECRET", "sim-alibaba-secret"),
    ));
    simulator.add_account(SimAccount::tencent(
        "SIMTENCENTUNTRUSTED",
        "sim-untrusted-secret",
    ));
    simulator.add_account(SimAccount::alibaba(
        "SIMALIBABAUNTRUSTED",
        "sim-untrusted-secret",
    ));
    let tencent_role = env_or(
        "SIM_TENCENT_ROLE_ARN",
        "qcs::cam::uin/100000000001:roleName/sim-exporter",
    );
    let alibaba_role = env_or(
        "SIM_ALIBABA_ROLE_ARN",
        "acs:ram::1234567890123456:role/sim-exporter",
    );
    let roles = [
        // Trusts the static caller only.
        (SimCloud::Tencent, tencent_role.clone(), vec![tencent_id]),
        (SimCloud::Alibaba, alibaba_role, vec![alibaba_id]),
        // Trusts any caller, such as credentials STS issued (role chaining).
        (SimCloud::Tencent, OPEN_TENCENT_ROLE.to_owned(), Vec::new()),
        (SimCloud::Alibaba, OPEN_ALIBABA_ROLE.to_owned(), Vec::new()),
    ];
    for (cloud, role_arn, trusted) in roles {
        simulator.allow_assume_role(
            cloud,
            StsRole {
                role_arn,
                lifetime: Duration::from_secs(3600),
                rate_limit: 100.0,
                trusted,
            },
        );
    }
    simulator.set_web_identity(Some(WebIdentity {
        provider_id: env_or("SIM_TENCENT_PROVIDER_ID", "sim-oidc-provider"),
        role_arn: tencent_role,
        token: env_or("SIM_TENCENT_WEB_IDENTITY_TOKEN", "sim-web-identity-token"),
    }));
}
