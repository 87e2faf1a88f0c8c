//! `--web.config.file`: TLS and basic auth in the format of the Prometheus exporter-toolkit,
//! so that one web config serves node_exporter and this exporter alike.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # relative paths are relative to this file
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert   # with client_ca_file, for mTLS
//!   client_ca_file: ca.crt
//!   min_version: TLS12
//! basic_auth_users:
//!   prometheus: $2y$10$...         # bcrypt hash
//! ```
//!
//! TLS is served by rustls, which offers TLS 1.2 and 1.3 with modern cipher suites only, so
//! the toolkit's `cipher_suites`, `curve_preferences` and TLS 1.0/1.1 are refused with a
//! clear error rather than ignored. Passwords are checked with bcrypt (constant-time
//! comparison); a success is remembered, salted and hashed, until the next reload, so a
//! scrape every few seconds does not pay bcrypt's deliberate slowness every time.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::{Location, Spanned};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{Invalid, invalid, invalid_at};
use crate::secret::Secret;

/// Why a web config cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("{path}: cannot read web config file: {source}")]
    Read {
        path: PathBuf,
        source: crate::files::FileError,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// How the server authenticates: TLS (maybe mutual) and basic auth, or neither.
pub struct WebConfig {
    /// `None` serves plain HTTP.
    pub tls: Option<TlsAcceptor>,
    users: BTreeMap<String, Secret>,
    /// Of the file and every file it names: a reload that changes none of them is a no-op,
    /// and a renewed certificate is picked up.
    fingerprint: [u8; 32],
    /// Salted hashes of credentials that passed bcrypt.
    accepted: Mutex<HashSet<[u8; 32]>>,
    salt: [u8; 16],
}

impl PartialEq for WebConfig {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

/// What to tell a client whose credentials are missing or wrong.
pub const WWW_AUTHENTICATE: &str = "Basic realm=\"cloud-task-exporter\", charset=\"UTF-8\"";

/// Remembered successful logins, at most; more distinct credentials than this (a scan)
/// start the memory afresh.
const MAX_ACCEPTED: usize = 64;

impl WebConfig {
    /// No TLS, no authentication: what the exporter does without `--web.config.file`.
    pub fn none() -> WebConfig {
        WebConfig {
            tls: None,
            users: BTreeMap::new(),
            fingerprint: [0; 32],
            accepted: Mutex::default(),
            salt: [0; 16],
        }
    }

    /// Reads and checks a web config file and everything it names.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text =
            crate::files::read_text(path, crate::files::MAX_CONFIG_BYTES).map_err(|source| {
                WebConfigError::Read {
                    path: path.to_owned(),
                    source,
                }
            })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        WebConfig::parse(&text, dir).map_err(|message| WebConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses web config text; relative file names are taken from `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<WebConfig, String> {
        let mut fingerprint = Sha256::new();
        fingerprint.update(text.as_bytes());
        // A file with nothing but comments is a valid, empty web config.
        let blank = text
            .lines()
            .all(|line| line.trim().is_empty() || line.trim_start().starts_with('#'));
        let raw: RawWebConfig = if blank {
            RawWebConfig::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| e.without_snippet().to_string())?
        };
        let tls = raw
            .tls_server_config
            .map(|tls| tls.build(dir, &mut fingerprint))
            .transpose()
            .map_err(|e| e.to_string())?;
        let users = basic_auth_users(raw.basic_auth_users.unwrap_or_default())
            .map_err(|e| e.to_string())?;
        if let Some(http) = raw.http_server_config
            && let Some(headers) = http.headers
        {
            return Err(invalid(
                &headers,
                "http_server_config.headers",
                "is not supported by cloud-task-exporter",
            )
            .to_string());
        }
        Ok(WebConfig {
            tls,
            users,
            fingerprint: fingerprint.finalize().into(),
            accepted: Mutex::default(),
            salt: std::array::from_fn(|_| fastrand::u8(..)),
        })
    }

    /// Whether requests must carry basic auth credentials.
    pub fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// How many users may log in, for the landing page.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Checks an `Authorization` header. This runs bcrypt (tens of milliseconds by design)
    /// unless the same credentials passed before: call it off the async threads.
    pub fn authorize(&self, authorization: Option<&[u8]>) -> bool {
        match self.check_remembered(authorization) {
            Check::Accepted => true,
            Check::Refused => false,
            Check::NeedsPassword(attempt) => self.check_password(&attempt),
        }
    }

    /// The cheap part of [`WebConfig::authorize`]: no users, a header that is not basic auth,
    /// or a login accepted before, decided without bcrypt.
    pub fn check_remembered(&self, authorization: Option<&[u8]>) -> Check {
        if self.users.is_empty() {
            return Check::Accepted;
        }
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return Check::Refused;
        };
        let remembered = {
            let mut digest = Sha256::new();
            digest.update(self.salt);
            digest.update(user.as_bytes());
            digest.update([0]);
            digest.update(password.as_bytes());
            <[u8; 32]>::from(digest.finalize())
        };
        let accepted = self
            .accepted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if accepted.contains(&remembered) {
            return Check::Accepted;
        }
        Check::NeedsPassword(Attempt {
            user,
            password,
            remembered,
        })
    }

    /// The costly part: bcrypt, then remembering the login if it is right. The caller bounds
    /// how many of these run at once.
    pub fn check_password(&self, attempt: &Attempt) -> bool {
        let ok = match self.users.get(&attempt.user) {
            Some(hash) => bcrypt::verify(&attempt.password, hash.expose()).unwrap_or(false),
            None => {
                // Spend the same time on an unknown user, so timing does not tell which
                // users exist; whatever it answers, the answer is no.
                if let Some(hash) = self.users.values().next() {
                    let _ = bcrypt::verify(&attempt.password, hash.expose());
                }
                false
            }
        };
        if ok {
            let mut accepted = self
                .accepted
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if accepted.len() >= MAX_ACCEPTED {
                accepted.clear();
            }
            accepted.insert(attempt.remembered);
        }
        ok
    }
}

/// What [`WebConfig::check_remembered`] could tell.
pub enum Check {
    Accepted,
    Refused,
    /// A well-formed login not seen before: its password must be checked.
    NeedsPassword(Attempt),
}

/// A login to check against its bcrypt hash. Its `Debug` shows no password.
pub struct Attempt {
    user: String,
    password: String,
    remembered: [u8; 32],
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// `Basic base64(user:password)` into its two parts.
fn parse_basic(header: &[u8]) -> Option<(String, String)> {
    let header = std::str::from_utf8(header).ok()?.trim();
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn basic_auth_users(
    raw: BTreeMap<String, Spanned<String>>,
) -> Result<BTreeMap<String, Secret>, Invalid> {
    let mut users = BTreeMap::new();
    for (user, hash) in raw {
        let key = format!("basic_auth_users.{user}");
        if user.is_empty() || user.contains(':') {
            return Err(invalid(
                &hash,
                key,
                "a user name must be non-empty and without ':'",
            ));
        }
        if bcrypt::HashParts::from_str(&hash.value).is_err() {
            // The message does not repeat the value: it may be a password pasted by mistake.
            return Err(invalid(
                &hash,
                key,
                "is not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters); make one with `htpasswd -nBC 10 USER`",
            ));
        }
        users.insert(user, Secret::new(hash.value));
    }
    Ok(users)
}

// The file as written; `Spanned` keeps positions for the errors.

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    /// The toolkit's HTTP/2 switch. This exporter serves HTTP/1.1, which is what Prometheus
    /// scrapes with, so either value is accepted.
    #[allow(dead_code)]
    http2: Option<bool>,
    headers: Option<Spanned<IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<Spanned<String>>,
    key_file: Option<Spanned<String>>,
    client_auth_type: Option<Spanned<String>>,
    client_ca_file: Option<Spanned<String>>,
    min_version: Option<Spanned<String>>,
    max_version: Option<Spanned<String>>,
    // Go crypto/tls settings with no rustls counterpart: named so that the error can say so.
    cipher_suites: Option<Spanned<IgnoredAny>>,
    curve_preferences: Option<Spanned<IgnoredAny>>,
    prefer_server_cipher_suites: Option<Spanned<IgnoredAny>>,
    client_allowed_sans: Option<Spanned<IgnoredAny>>,
}

/// The toolkit's `client_auth_type` values that this exporter serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    None,
    VerifyIfGiven,
    Require,
}

const KEY: &str = "tls_server_config";

impl RawTls {
    fn build(self, dir: &Path, fingerprint: &mut Sha256) -> Result<TlsAcceptor, Invalid> {
        let unsupported = [
            ("cipher_suites", &self.cipher_suites),
            ("curve_preferences", &self.curve_preferences),
            (
                "prefer_server_cipher_suites",
                &self.prefer_server_cipher_suites,
            ),
            ("client_allowed_sans", &self.client_allowed_sans),
        ];
        for (name, value) in unsupported {
            if let Some(value) = value {
                return Err(invalid(
                    value,
                    format!("{KEY}.{name}"),
                    "is not supported: rustls offers TLS 1.2 and 1.3 with modern cipher suites and curves only; remove it",
                ));
            }
        }
        let location = Location::UNKNOWN;
        let (Some(cert_file), Some(key_file)) = (&self.cert_file, &self.key_file) else {
            let missing = if self.cert_file.is_none() {
                "cert_file"
            } else {
                "key_file"
            };
            let at = self
                .cert_file
                .as_ref()
                .or(self.key_file.as_ref())
                .map_or(location, |s| s.referenced);
            return Err(invalid_at(
                at,
                format!("{KEY}.{missing}"),
                "missing; TLS needs both cert_file and key_file",
            ));
        };
        let certs_pem = read(dir, cert_file, "cert_file", fingerprint)?;
        let certs = CertificateDer::pem_slice_iter(&certs_pem)
            .collect::<Result<Vec<_>, _>>()
            .ok()
            .filter(|certs| !certs.is_empty())
            .ok_or_else(|| {
                invalid(
                    cert_file,
                    format!("{KEY}.cert_file"),
                    "holds no PEM certificate",
                )
            })?;
        let key_pem = read(dir, key_file, "key_file", fingerprint)?;
        // The key's own parse errors are not shown: they could quote it.
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
            invalid(
                key_file,
                format!("{KEY}.key_file"),
                "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
            )
        })?;

        let versions = self.versions()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| invalid_at(location, KEY, e.to_string()))?;
        let client_auth = self.client_auth()?;
        let builder = match (client_auth, &self.client_ca_file) {
            (ClientAuth::None, Some(ca)) => {
                return Err(invalid(
                    ca,
                    format!("{KEY}.client_ca_file"),
                    "is set but client_auth_type is NoClientCert; set client_auth_type to RequireAndVerifyClientCert or VerifyClientCertIfGiven",
                ));
            }
            (ClientAuth::None, None) => builder.with_no_client_auth(),
            (_, None) => {
                let at = self
                    .client_auth_type
                    .as_ref()
                    .map_or(location, |s| s.referenced);
                return Err(invalid_at(
                    at,
                    format!("{KEY}.client_ca_file"),
                    "missing; client certificates are verified against it",
                ));
            }
            (auth, Some(ca)) => {
                let ca_pem = read(dir, ca, "client_ca_file", fingerprint)?;
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(&ca_pem) {
                    let added = cert.ok().and_then(|cert| roots.add(cert).ok());
                    if added.is_none() {
                        return Err(invalid(
                            ca,
                            format!("{KEY}.client_ca_file"),
                            "holds a certificate that cannot be used as a CA",
                        ));
                    }
                }
                if roots.is_empty() {
                    return Err(invalid(
                        ca,
                        format!("{KEY}.client_ca_file"),
                        "holds no PEM certificate",
                    ));
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                );
                let verifier = if auth == ClientAuth::VerifyIfGiven {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| invalid(ca, format!("{KEY}.client_ca_file"), e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(certs, key).map_err(|e| {
            invalid(
                key_file,
                format!("{KEY}.key_file"),
                format!("does not go with cert_file: {e}"),
            )
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    fn versions(&self) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, Invalid> {
        let parse = |value: &Option<Spanned<String>>, name: &str, default: usize| match value {
            None => Ok(default),
            Some(v) => match v.value.as_str() {
                "TLS12" => Ok(0),
                "TLS13" => Ok(1),
                "TLS10" | "TLS11" => Err(invalid(
                    v,
                    format!("{KEY}.{name}"),
                    "TLS 1.0 and 1.1 are not supported (rustls); use TLS12 or TLS13",
                )),
                other => Err(invalid(
                    v,
                    format!("{KEY}.{name}"),
                    format!("unknown version {other:?}; expected TLS12 or TLS13"),
                )),
            },
        };
        let all = [&rustls::version::TLS12, &rustls::version::TLS13];
        let min = parse(&self.min_version, "min_version", 0)?;
        let max = parse(&self.max_version, "max_version", 1)?;
        if min > max {
            let at = self
                .max_version
                .as_ref()
                .map_or(Location::UNKNOWN, |s| s.referenced);
            return Err(invalid_at(
                at,
                format!("{KEY}.max_version"),
                "is lower than min_version",
            ));
        }
        Ok(all.get(min..=max).map(<[_]>::to_vec).unwrap_or_default())
    }

    fn client_auth(&self) -> Result<ClientAuth, Invalid> {
        let Some(value) = &self.client_auth_type else {
            // As the toolkit does: a CA file alone asks for verified client certificates.
            return Ok(if self.client_ca_file.is_some() {
                ClientAuth::Require
            } else {
                ClientAuth::None
            });
        };
        match value.value.as_str() {
            "NoClientCert" => Ok(ClientAuth::None),
            "VerifyClientCertIfGiven" => Ok(ClientAuth::VerifyIfGiven),
            "RequireAndVerifyClientCert" => Ok(ClientAuth::Require),
            "RequestClientCert" | "RequireAnyClientCert" => Err(invalid(
                value,
                format!("{KEY}.client_auth_type"),
                "is not supported: client certificates are always verified; use VerifyClientCertIfGiven or RequireAndVerifyClientCert",
            )),
            other => Err(invalid(
                value,
                format!("{KEY}.client_auth_type"),
                format!(
                    "unknown value {other:?}; expected NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                ),
            )),
        }
    }
}

/// Reads a file the web config names, relative to the web config's directory.
fn read(
    dir: &Path,
    name: &Spanned<String>,
    key: &str,
    fingerprint: &mut Sha256,
) -> Result<Vec<u8>, Invalid> {
    let path = dir.join(&name.value);
    let bytes = crate::files::read_bounded(&path, crate::files::MAX_PEM_BYTES).map_err(|e| {
        invalid(
            name,
            format!("{KEY}.{key}"),
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    fingerprint.update(&bytes);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls")
    }

    fn error(text: &str) -> String {
        match WebConfig::parse(text, &fixtures()) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e,
        }
    }

    const TLS: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

    #[test]
    fn rejects_what_it_cannot_serve_with_key_and_line() {
        let cases = [
            (
                "tls_server_config:\n  cert_file: server.crt\n",
                "tls_server_config.key_file: missing; TLS needs both cert_file and key_file at line 2, column 14",
            ),
            (
                "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n",
                "tls_server_config.cert_file: cannot read",
            ),
            (
                "tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n",
                "tls_server_config.cert_file: holds no PEM certificate at line 2",
            ),
            (
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.crt\n",
                "tls_server_config.key_file: holds no PEM private key (PKCS#8, PKCS#1 or SEC1) at line 3",
            ),
            (
                "tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n",
                "tls_server_config.key_file: does not go with cert_file",
            ),
            (
                &format!("{TLS}  min_version: TLS11\n"),
                "tls_server_config.min_version: TLS 1.0 and 1.1 are not supported (rustls); use TLS12 or TLS13 at line 4",
            ),
            (
                &format!("{TLS}  min_version: TLS14\n"),
                "tls_server_config.min_version: unknown version \"TLS14\"; expected TLS12 or TLS13",
            ),
            (
                &format!("{TLS}  min_version: TLS13\n  max_version: TLS12\n"),
                "tls_server_config.max_version: is lower than min_version at line 5",
            ),
            (
                &format!("{TLS}  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"),
                "tls_server_config.cipher_suites: is not supported",
            ),
            (
                &format!(
                    "{TLS}  client_auth_type: RequireAnyClientCert\n  client_ca_file: ca.crt\n"
                ),
                "tls_server_config.client_auth_type: is not supported: client certificates are always verified",
            ),
            (
                &format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n"),
                "tls_server_config.client_ca_file: missing; client certificates are verified against it at line 4",
            ),
            (
                &format!("{TLS}  client_auth_type: NoClientCert\n  client_ca_file: ca.crt\n"),
                "tls_server_config.client_ca_file: is set but client_auth_type is NoClientCert",
            ),
            (
                &format!("{TLS}  client_auth_type: Sometimes\n"),
                "tls_server_config.client_auth_type: unknown value \"Sometimes\"",
            ),
            (&format!("{TLS}  cert_fil: x\n"), "unknown field `cert_fil`"),
            (
                "basic_auth_users:\n  prometheus: hunter2\n",
                "basic_auth_users.prometheus: is not a bcrypt hash",
            ),
            (
                "basic_auth_users:\n  'a:b': '$2y$04$abcdefghijklmnopqrstuu5Uo0Y0HgHVdVxVRtgE6bQm1ZyV6Ewbe'\n",
                "basic_auth_users.a:b: a user name must be non-empty and without ':'",
            ),
            (
                "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
                "http_server_config.headers: is not supported",
            ),
            ("tls_config: {}\n", "unknown field `tls_config`"),
        ];
        for (text, expected) in cases {
            let error = error(text);
            assert!(
                error.contains(expected),
                "{text}\ngave: {error}\nwanted: {expected}"
            );
        }
        assert!(!error("basic_auth_users:\n  prometheus: hunter2\n").contains("hunter2"));
    }

    #[test]
    fn accepts_the_toolkit_forms() {
        let empty = WebConfig::parse("# nothing yet\n", &fixtures()).unwrap();
        assert!(empty.tls.is_none() && !empty.requires_auth());
        let tls = WebConfig::parse(
            &format!("{TLS}  client_ca_file: ca.crt\n  min_version: TLS12\nhttp_server_config:\n  http2: false\n"),
            &fixtures(),
        )
        .unwrap();
        assert!(tls.tls.is_some());
        // A different file is a different config; the same text is the same.
        assert!(tls != empty);
        assert!(empty == WebConfig::parse("# nothing yet\n", &fixtures()).unwrap());
    }

    #[test]
    fn basic_auth_checks_user_and_password() {
        let hash = bcrypt::hash("right", 4).unwrap();
        let web = WebConfig::parse(
            &format!("basic_auth_users:\n  prom: '{hash}'\n"),
            &fixtures(),
        )
        .unwrap();
        let header = |user: &str, password: &str| {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Basic {encoded}").into_bytes()
        };
        assert!(web.authorize(Some(&header("prom", "right"))));
        assert!(web.authorize(Some(&header("prom", "right"))), "remembered");
        assert!(!web.authorize(Some(&header("prom", "wrong"))));
        assert!(!web.authorize(Some(&header("other", "right"))));
        assert!(!web.authorize(None));
        assert!(!web.authorize(Some(b"Bearer abc")));
        assert!(!web.authorize(Some(b"Basic !!!")));
        assert_eq!(
            parse_basic(b"basic cHJvbTpwYTpzcw=="),
            Some(("prom".into(), "pa:ss".into()))
        );
    }
}
