//! `source: environment`: the keys from the variables the official SDKs read (names in
//! `docs/sources/credentials.md`), read when the config is loaded or reloaded.

use crate::cloud::{Cloud, Keys};
use crate::secret::Secret;

/// The variables of `cloud`'s id, secret and session token.
pub fn variables(cloud: Cloud) -> [&'static str; 3] {
    match cloud {
        Cloud::Tencent => [
            "TENCENTCLOUD_SECRET_ID",
            "TENCENTCLOUD_SECRET_KEY",
            "TENCENTCLOUD_SESSION_TOKEN",
        ],
        Cloud::Huawei => [
            "HUAWEICLOUD_SDK_AK",
            "HUAWEICLOUD_SDK_SK",
            "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        ],
        Cloud::Alibaba => [
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "ALIBABA_CLOUD_SECURITY_TOKEN",
        ],
    }
}

/// The keys in `cloud`'s variables: the id and secret are required, the token optional. The
/// error names the variable, never a value.
pub fn read(cloud: Cloud) -> Result<Keys, String> {
    let [id, secret, token] = variables(cloud);
    let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let required = |name: &str| {
        get(name).ok_or_else(|| format!("environment: the variable {name} is not set or empty"))
    };
    Ok(Keys {
        id: required(id)?,
        secret: Secret::new(required(secret)?),
        token: get(token).map(Secret::new),
    })
}
