//! `--web.config.file` with the real binary: TLS, basic auth (401 with `WWW-Authenticate`
//! without or with wrong credentials), mutual TLS, a web config re-read on SIGHUP, and a bad
//! web config as a startup error.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::daemon::{BIN, Daemon};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// A client that trusts the test CA, optionally presenting a client certificate.
fn client(identity: Option<&str>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(fixture_text("ca.crt").as_bytes()).unwrap();
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(ca)
        .use_rustls_tls();
    if let Some(name) = identity {
        let pem = fixture_text(&format!("{name}.crt")) + &fixture_text(&format!("{name}.key"));
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// Writes a web config with TLS and `users` (name, password), bcrypt at the lowest cost to
/// keep the test fast; `extra_tls` goes under `tls_server_config`.
fn write_web_config(dir: &Path, users: &[(&str, &str)], extra_tls: &str) -> PathBuf {
    let mut text = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n{extra_tls}",
        fixture("server.crt").display(),
        fixture("server.key").display(),
    );
    if !users.is_empty() {
        text.push_str("basic_auth_users:\n");
        for (user, password) in users {
            let hash = bcrypt::hash(password, 4).unwrap();
            text.push_str(&format!("  {user}: '{hash}'\n"));
        }
    }
    let path = dir.join("web.yml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn status(
    client: &reqwest::Client,
    daemon: &Daemon,
    path: &str,
    auth: Option<(&str, &str)>,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut request = client.get(format!("https://{}{path}", daemon.addr));
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    request.send().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_basic_auth_answers_401_without_credentials_and_metrics_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let web = write_web_config(dir.path(), &[("prometheus", "s3cret-scrape")], "");
    let web_arg = format!("--web.config.file={}", web.display());
    let daemon = Daemon::start(&["--demo", &web_arg], &[]);
    let client = client(None);

    for auth in [
        None,
        Some(("prometheus", "wrong")),
        Some(("nobody", "s3cret-scrape")),
    ] {
        for path in ["/metrics", "/", "/-/healthy"] {
            let response = status(&client, &daemon, path, auth).await.unwrap();
            assert_eq!(response.status(), 401, "{path} with {auth:?}");
            assert!(
                response.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Basic realm="),
                "{path}"
            );
        }
    }
    let response = status(
        &client,
        &daemon,
        "/metrics",
        Some(("prometheus", "s3cret-scrape")),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("cloud_task_up{"), "{body}");
    // Twice: the second time the remembered login answers.
    let response = status(&client, &daemon, "/", Some(("prometheus", "s3cret-scrape")))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Plain HTTP on the TLS port gets nothing useful.
    let plain = reqwest::get(format!("http://{}/metrics", daemon.addr)).await;
    assert!(
        plain.is_err() || plain.unwrap().status() != 200,
        "plain HTTP must not be served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_serves_only_clients_the_ca_vouches_for() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n  min_version: TLS13\n",
        fixture("ca.crt").display()
    );
    let web = write_web_config(dir.path(), &[], &extra);
    let web_arg = format!("--web.config.file={}", web.display());
    let daemon = Daemon::start(&["--demo", &web_arg], &[]);

    let trusted = status(&client(Some("client")), &daemon, "/-/healthy", None)
        .await
        .unwrap();
    assert_eq!(trusted.status(), 200);
    assert!(
        status(&client(None), &daemon, "/-/healthy", None)
            .await
            .is_err(),
        "no client certificate"
    );
    assert!(
        status(&client(Some("stranger")), &daemon, "/-/healthy", None)
            .await
            .is_err(),
        "a certificate the CA did not sign"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_config_is_read_again_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let web = write_web_config(dir.path(), &[("alice", "first")], "");
    let web_arg = format!("--web.config.file={}", web.display());
    let daemon = Daemon::start(&["--demo", &web_arg], &[]);
    let client = client(None);
    let alice = Some(("alice", "first"));
    let bob = Some(("bob", "second"));
    assert_eq!(
        status(&client, &daemon, "/", alice).await.unwrap().status(),
        200
    );

    write_web_config(dir.path(), &[("bob", "second")], "");
    daemon.signal("HUP");
    daemon.wait_for_log("new configuration in force", Duration::from_secs(5));
    assert_eq!(
        status(&client, &daemon, "/", alice).await.unwrap().status(),
        401,
        "a removed user is locked out at once, remembered login or not"
    );
    assert_eq!(
        status(&client, &daemon, "/", bob).await.unwrap().status(),
        200
    );

    // A broken web config on reload keeps the one in force.
    std::fs::write(&web, "basic_auth_users:\n  bob: not-a-hash\n").unwrap();
    daemon.signal("HUP");
    let error = daemon.wait_for_log("reload failed", Duration::from_secs(5));
    assert!(
        error.contains("basic_auth_users.bob") && !error.contains("not-a-hash"),
        "{error}"
    );
    assert_eq!(
        status(&client, &daemon, "/", bob).await.unwrap().status(),
        200
    );
}

#[test]
fn a_bad_web_config_stops_the_exporter_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["--demo", "--web.listen-address=127.0.0.1:0"])
        .arg(format!("--web.config.file={}", web.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&web.display().to_string())
            && stderr.contains("tls_server_config.cert_file: cannot read")
            && stderr.contains("missing.crt")
            && stderr.contains("line 2"),
        "{stderr}"
    );
}
