//! What a cloud is, for the config and the providers alike: its name in the config, the
//! credentials an account of it holds, which credential keys it takes, and how its requests
//! are signed. A leaf: it imports nothing of the exporter's but [`crate::secret`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use crate::secret::Secret;

/// The cloud an account belongs to, which decides its credentials and signing scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    Tencent,
    Huawei,
    Alibaba,
}

/// A request-signing scheme (implemented in [`crate::signing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// Tencent Cloud API 3.0.
    Tc3HmacSha256,
    /// Huawei Cloud API Gateway AK/SK.
    SdkHmacSha256,
    /// Alibaba Cloud OpenAPI V3.
    Acs3HmacSha256,
}

impl Signing {
    /// The algorithm's name, as the `Authorization` header starts.
    pub fn name(self) -> &'static str {
        match self {
            Signing::Tc3HmacSha256 => "TC3-HMAC-SHA256",
            Signing::SdkHmacSha256 => "SDK-HMAC-SHA256",
            Signing::Acs3HmacSha256 => "ACS3-HMAC-SHA256",
        }
    }
}

/// What the config's `credentials` of an account of one cloud may hold.
#[derive(Debug)]
pub struct CredentialRules {
    /// Every key of `credentials` this cloud takes (a secret's `<key>_file` goes with it).
    pub keys: &'static [&'static str],
    /// The same, as an error message lists them.
    pub takes: &'static str,
}

impl Cloud {
    /// The config's `provider` value.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Tencent => "tencent",
            Cloud::Huawei => "huawei",
            Cloud::Alibaba => "alibaba",
        }
    }

    /// How every API of this cloud is signed.
    pub fn signing(self) -> Signing {
        match self {
            Cloud::Tencent => Signing::Tc3HmacSha256,
            Cloud::Huawei => Signing::SdkHmacSha256,
            Cloud::Alibaba => Signing::Acs3HmacSha256,
        }
    }

    pub fn credential_rules(self) -> &'static CredentialRules {
        match self {
            Cloud::Tencent => &CredentialRules {
                keys: &["secret_id", "secret_key", "token"],
                takes: "secret_id, secret_key and token",
            },
            Cloud::Huawei => &CredentialRules {
                keys: &[
                    "access_key",
                    "secret_key",
                    "token",
                    "project_id",
                    "project_ids",
                ],
                takes: "access_key, secret_key, token and project_id or project_ids",
            },
            // The names of alibabacloud-tea-openapi's `Config` (access_key_id,
            // access_key_secret, security_token).
            Cloud::Alibaba => &CredentialRules {
                keys: &["access_key_id", "access_key_secret", "security_token"],
                takes: "access_key_id, access_key_secret and security_token",
            },
        }
    }
}

impl std::fmt::Display for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An account's credentials, resolved (`${VAR}` expanded, `*_file` read). Serialised as the
/// config would spell them, secrets redacted.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Credentials {
    Tencent {
        #[serde(serialize_with = "serialize_literal")]
        secret_id: String,
        secret_key: Secret,
        #[serde(skip_serializing_if = "Option::is_none")]
        token: Option<Secret>,
    },
    Huawei {
        #[serde(serialize_with = "serialize_literal")]
        access_key: String,
        secret_key: Secret,
        #[serde(skip_serializing_if = "Option::is_none")]
        token: Option<Secret>,
        #[serde(
            skip_serializing_if = "Option::is_none",
            serialize_with = "serialize_optional_literal"
        )]
        project_id: Option<String>,
        #[serde(
            skip_serializing_if = "BTreeMap::is_empty",
            serialize_with = "serialize_literal_values"
        )]
        project_ids: BTreeMap<String, String>,
    },
    Alibaba {
        #[serde(serialize_with = "serialize_literal")]
        access_key_id: String,
        access_key_secret: Secret,
        /// An STS token, for temporary credentials.
        #[serde(skip_serializing_if = "Option::is_none")]
        security_token: Option<Secret>,
    },
}

/// A credential value as the config file would spell it: its `${VAR}` references are
/// already expanded, so a `$` in it is written `$$`, or the printout would read it as one.
fn serialize_literal<S: Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&literal(value))
}

/// A value whose `${VAR}`s are already expanded, as the config file would spell it: `$` as `$$`.
pub fn literal(value: &str) -> String {
    value.replace('$', "$$")
}

fn serialize_optional_literal<S: Serializer>(
    value: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serialize_literal(value, serializer),
        None => serializer.serialize_none(),
    }
}

fn serialize_literal_values<S: Serializer>(
    values: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(values.iter().map(|(k, v)| (k, v.replace('$', "$$"))))
}

/// The keys of a set of credentials, whichever cloud: an id, its secret and, for temporary
/// credentials, a session token.
#[derive(Debug, Clone)]
pub struct Keys {
    pub id: String,
    pub secret: Secret,
    pub token: Option<Secret>,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            id: String::new(),
            secret: Secret::new(String::new()),
            token: None,
        }
    }
}

impl Keys {
    /// `cloud`'s credentials with these keys; Huawei's also name the account's projects.
    pub fn into_credentials(
        self,
        cloud: Cloud,
        project_id: Option<String>,
        project_ids: BTreeMap<String, String>,
    ) -> Credentials {
        match cloud {
            Cloud::Tencent => Credentials::Tencent {
                secret_id: self.id,
                secret_key: self.secret,
                token: self.token,
            },
            Cloud::Huawei => Credentials::Huawei {
                access_key: self.id,
                secret_key: self.secret,
                token: self.token,
                project_id,
                project_ids,
            },
            Cloud::Alibaba => Credentials::Alibaba {
                access_key_id: self.id,
                access_key_secret: self.secret,
                security_token: self.token,
            },
        }
    }
}

impl Credentials {
    pub fn cloud(&self) -> Cloud {
        match self {
            Credentials::Tencent { .. } => Cloud::Tencent,
            Credentials::Huawei { .. } => Cloud::Huawei,
            Credentials::Alibaba { .. } => Cloud::Alibaba,
        }
    }

    /// The same account's credentials with other keys (Huawei's projects are kept).
    pub fn with_keys(&self, keys: Keys) -> Credentials {
        let (project_id, project_ids) = match self {
            Credentials::Huawei {
                project_id,
                project_ids,
                ..
            } => (project_id.clone(), project_ids.clone()),
            _ => (None, BTreeMap::new()),
        };
        keys.into_credentials(self.cloud(), project_id, project_ids)
    }
}
