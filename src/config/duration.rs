//! Durations in the Prometheus notation (`24h`, `1m30s`, `500ms`), as operators write them in
//! every other Prometheus config.

use std::time::Duration;

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// Parses `[0-9]+(y|w|d|h|m|s|ms)` terms, largest unit first, each unit at most once.
pub fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "invalid duration {text:?}: expected a number and a unit, like 30s, 5m, 24h or 1h30m"
        )
    };
    if text.is_empty() {
        return Err(invalid());
    }
    let mut rest = text;
    let mut millis: u64 = 0;
    let mut last_unit = None;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        if digits == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let (index, (_, unit_millis)) = UNITS
            .iter()
            .enumerate()
            .find(|(_, (name, _))| *name == unit)
            .ok_or_else(invalid)?;
        if last_unit.is_some_and(|last| index <= last) {
            return Err(invalid());
        }
        last_unit = Some(index);
        millis = number
            .checked_mul(*unit_millis)
            .and_then(|m| millis.checked_add(m))
            .ok_or_else(|| format!("duration {text:?} is too long"))?;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_millis(millis))
}

/// Formats a duration the way [`parse`] reads it, in hours at most (`24h`, not `1d`), `0s`
/// for zero.
pub fn format(duration: Duration) -> String {
    let mut millis = duration.as_millis() as u64;
    if millis == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (name, size) in UNITS.iter().skip(3) {
        if millis >= *size {
            out.push_str(&format!("{}{name}", millis / size));
            millis %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(parse("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2w"), Ok(Duration::from_secs(14 * 86400)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        for bad in [
            "",
            "10",
            "s",
            "1.5h",
            "10 s",
            "30m1h",
            "1h1h",
            "-5s",
            "5sec",
            "600000000y",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn formats_what_it_parses() {
        for text in ["24h", "1m30s", "500ms", "10s", "26h", "0s"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
    }
}
