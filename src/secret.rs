//! Secret values: a type that never prints what it holds.

use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, Serializer};

/// The text shown wherever a secret would otherwise appear.
pub const REDACTED: &str = "<redacted>";

/// A credential (secret key, session token). `Debug` and `Serialize` show [`REDACTED`], there is
/// no `Display`, and the memory is zeroed on drop; [`Secret::expose`] is the one way to read it,
/// used only where a request is signed.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(SecretString::from(value))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::new("canary-7f3a".into());
        assert_eq!(format!("{secret:?}"), REDACTED);
        assert_eq!(
            format!("{:#?}", Some(&secret)),
            format!("Some(\n    {REDACTED},\n)")
        );
        assert_eq!(
            serde_json::to_string(&secret).unwrap(),
            format!("\"{REDACTED}\"")
        );
        assert_eq!(secret.expose(), "canary-7f3a");
    }
}
