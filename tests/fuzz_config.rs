//! Property-based fuzzing of `Config::parse`: arbitrary text, the adversarial YAML files of
//! `tests/fixtures/fuzz/config/`, and `config.example.yaml` mutated line by line (lines
//! deleted, repeated, swapped, re-indented, inserted or uncommented; values replaced by extreme
//! ones). Parsing never panics, every error says where (line and column), and every config
//! that parses prints (`to_redacted_yaml`) as YAML that parses back to the same config.
//!
//! Later stages are not exercised: some accepted values (a `rate_limit` of 1e-12, a lookback
//! of 300000y) are being bounded on main, and only parsing is under test here.
//!
//! `FUZZ_CASES=N` raises the number of cases per property; see `tests/fixtures/fuzz/README.md`.

use std::path::Path;

use cloud_task_exporter::config::{Config, Credentials};
use cloud_task_exporter::secret::{REDACTED, Secret};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;

fn cases(default: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn proptest_config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default_cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fuzz/fuzz_config.proptest-regressions"
        )))),
        ..ProptestConfig::default()
    }
}

/// The example with its `${VAR}` credentials written out, so that it parses without touching
/// the environment (the crate forbids the `unsafe` that `set_var` needs).
fn example() -> String {
    include_str!("../config.example.yaml")
        .replace("${TENCENTCLOUD_SECRET_ID}", "AKIDexample")
        .replace("${TENCENTCLOUD_SECRET_KEY}", "example-key")
        .replace("${HUAWEICLOUD_SDK_AK}", "AKexample")
        .replace("${HUAWEICLOUD_SDK_SK}", "example-key")
        .replace("${ALIBABA_CLOUD_ACCESS_KEY_ID}", "LTAIexample")
        .replace("${ALIBABA_CLOUD_ACCESS_KEY_SECRET}", "example-secret")
}

const SECRET_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/fuzz/secret.txt"
);

/// Values a key may be given. Paths that never end (`/dev/zero`, `/dev/urandom`, FIFOs) are
/// left out: a `*_file` naming one makes `parse` read forever (see the README).
const EXTREME_VALUES: &[&str] = &[
    "1e-12",
    "1e308",
    "1e309",
    "-1",
    "0",
    "0.0",
    "-0.0",
    ".inf",
    "-.inf",
    ".nan",
    "0x1F",
    "1_000",
    "300000y",
    "584942417y",
    "18446744073709551615ms",
    "18446744073709551616ms",
    "1y1w1d1h1m1s1ms",
    "1h1h",
    "1m1h",
    "0s",
    "59s",
    "1m",
    "1ms",
    "0.5s",
    "5",
    "~",
    "null",
    "''",
    "\"\"",
    "' '",
    "[]",
    "{}",
    "[1, 2]",
    "[1, 1]",
    "[2, 1]",
    "[x, x]",
    "[0]",
    "{a: b}",
    "true",
    "yes",
    "no",
    "tencent",
    "huawei",
    "alibaba",
    "tencent_postgres",
    "tencent_mysql",
    "tencent_redis",
    "huawei_rds",
    "alibaba_rds",
    "alibaba_polardb",
    "${UNSET_VAR_FOR_FUZZ}",
    "${HOME}",
    "x${HOME}y",
    "$${HOME}",
    "a$$b",
    "$",
    "${",
    "${}",
    "'${HOME'",
    "/nonexistent/secret",
    "/",
    "/etc/hostname",
    SECRET_FILE,
    "http://{region}.example.test",
    "https://",
    "ftp://x",
    "http://[::1]:80",
    "!!str 5",
    "!!binary aGVsbG8=",
    "!custom x",
    "&anchor x",
    "*anchor",
    "*missing",
    "|",
    ">-",
    "'quoted'",
    "\"\\u0000\"",
    "\"\\t\"",
    "\"\\ud800\"",
    "'日本語'",
    "<redacted>",
    "# only a comment",
    "- item",
    "key: value",
];

/// The keys of the config, so that inserted lines sometimes mean something.
const KEYS: &[&str] = &[
    "global",
    "lookback",
    "scrape_timeout",
    "min_interval",
    "histogram_buckets",
    "labels",
    "instance_id",
    "accounts",
    "name",
    "provider",
    "credentials",
    "secret_id",
    "secret_id_file",
    "secret_key",
    "secret_key_file",
    "token",
    "token_file",
    "access_key",
    "access_key_file",
    "project_id",
    "project_ids",
    "cn-north-4",
    "targets",
    "kind",
    "regions",
    "endpoint",
    "rate_limit",
    "instance_ids",
    "task_types",
    "<<",
    "?",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(EXTREME_VALUES).prop_map(str::to_owned),
        1 => "\\PC{0,24}",
        1 => (0usize..100_000).prop_map(|n| "a".repeat(n)),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-z_]{1,12}",
    ]
}

fn new_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0usize..12, any::<bool>(), key(), value()).prop_map(|(indent, item, k, v)| {
            format!("{}{}{k}: {v}", " ".repeat(indent), if item { "- " } else { "" })
        }),
        1 => (0usize..12, value()).prop_map(|(indent, v)| format!("{}- {v}", " ".repeat(indent))),
        1 => "\\PC{0,40}",
        1 => Just(String::new()),
        1 => Just("\t".to_owned()),
        1 => Just("---".to_owned()),
        1 => Just("...".to_owned()),
    ]
}

/// One change to the example, at the line (or the value-carrying line) chosen by an index.
#[derive(Debug, Clone)]
enum Edit {
    Delete(Index),
    Repeat(Index, usize),
    Swap(Index, Index),
    Insert(Index, String),
    Reindent(Index, i8),
    /// Turns `# key: value` into `key: value`, keeping the indentation.
    Uncomment(Index),
    /// Replaces the value of a `key: value` line.
    ReplaceValue(Index, String),
    /// Cuts the text at a byte (on a char boundary).
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<Index>;
    prop_oneof![
        2 => at().prop_map(Edit::Delete),
        1 => (at(), 1usize..50).prop_map(|(i, n)| Edit::Repeat(i, n)),
        1 => (at(), at()).prop_map(|(i, j)| Edit::Swap(i, j)),
        2 => (at(), new_line()).prop_map(|(i, l)| Edit::Insert(i, l)),
        1 => (at(), -4i8..=4).prop_map(|(i, d)| Edit::Reindent(i, d)),
        2 => at().prop_map(Edit::Uncomment),
        6 => (at(), value()).prop_map(|(i, v)| Edit::ReplaceValue(i, v)),
        1 => at().prop_map(Edit::Truncate),
    ]
}

/// Lines of the form `[indent][- ]key: value` with a value, not comments.
fn value_lines(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, line)| {
            let t = line.trim_start().trim_start_matches("- ");
            !t.starts_with('#')
                && t.split_once(": ")
                    .is_some_and(|(_, v)| !v.trim().is_empty())
        })
        .map(|(i, _)| i)
        .collect()
}

fn commented_options(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, line)| {
            let t = line.trim_start();
            t.strip_prefix("# ").is_some_and(|rest| {
                rest.split_once(':').is_some_and(|(k, _)| {
                    !k.is_empty()
                        && k.chars().all(|c| {
                            c.is_ascii_lowercase() || c == '_' || c == '-' || c.is_ascii_digit()
                        })
                })
            })
        })
        .map(|(i, _)| i)
        .collect()
}

fn apply(lines: &mut Vec<String>, edit: &Edit) {
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match edit {
        Edit::Delete(i) => {
            lines.remove(i.index(n));
        }
        Edit::Repeat(i, times) => {
            let line = lines[i.index(n)].clone();
            let at = i.index(n);
            lines.splice(at..at, std::iter::repeat_n(line, *times));
        }
        Edit::Swap(i, j) => lines.swap(i.index(n), j.index(n)),
        Edit::Insert(i, line) => lines.insert(i.index(n + 1), line.clone()),
        Edit::Reindent(i, delta) => {
            let line = &mut lines[i.index(n)];
            if *delta >= 0 {
                line.insert_str(0, &" ".repeat(*delta as usize));
            } else {
                let strip = line
                    .chars()
                    .take(delta.unsigned_abs() as usize)
                    .take_while(|c| *c == ' ')
                    .count();
                line.drain(..strip);
            }
        }
        Edit::Uncomment(i) => {
            let found = commented_options(lines);
            if !found.is_empty() {
                let line = &mut lines[found[i.index(found.len())]];
                *line = line.replacen("# ", "", 1);
            }
        }
        Edit::ReplaceValue(i, value) => {
            let found = value_lines(lines);
            if !found.is_empty() {
                let line = &mut lines[found[i.index(found.len())]];
                let (key, _) = line.split_once(": ").unwrap();
                *line = format!("{key}: {value}");
            }
        }
        Edit::Truncate(i) => {
            let mut text = lines.join("\n");
            let mut cut = i.index(text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            *lines = text.split('\n').map(str::to_owned).collect();
        }
    }
}

/// Every `line L, column C` a message names.
fn positions(message: &str) -> Vec<(usize, usize)> {
    message
        .match_indices("line ")
        .filter_map(|(at, _)| {
            let rest = &message[at + "line ".len()..];
            let (line, rest) = rest.split_once(", column ")?;
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            Some((line.parse().ok()?, rest[..digits].parse().ok()?))
        })
        .collect()
}

/// An error ends with where it is: `at line L, column C`, or for a value reached through an
/// alias `(defined at line L, column C) (used at line L2, column C2)`; every line is within
/// the text (or one past it, for an error at the end of input).
fn check_error(text: &str, message: &str) -> Result<(), TestCaseError> {
    let found = positions(message);
    let ends_with_position = message
        .trim_end_matches(')')
        .rsplit_once(", column ")
        .is_some_and(|(_, column)| {
            !column.is_empty() && column.bytes().all(|b| b.is_ascii_digit())
        });
    prop_assert!(
        !found.is_empty() && ends_with_position,
        "error does not end with its line and column: {message}"
    );
    // YAML breaks lines at `\r\n`, `\r` and `\n`.
    let lines = text.replace("\r\n", "\n").split(['\r', '\n']).count();
    for (line, column) in found {
        prop_assert!(
            (1..=lines + 1).contains(&line) && column >= 1,
            "line {line} of a {lines}-line text: {message}"
        );
    }
    // Each key and value named in a message is from the text, so a message is never much
    // longer than the text.
    prop_assert!(
        message.len() <= 3 * text.len() + 512,
        "a {}-byte text gave a {}-byte message",
        text.len(),
        message.len()
    );
    Ok(())
}

/// `config` with every secret replaced by `value`: what its printout parses back to.
fn with_secrets(config: &Config, value: &str) -> Config {
    let mut config = config.clone();
    for account in &mut config.accounts {
        match &mut account.credentials {
            Credentials::Tencent {
                secret_key, token, ..
            }
            | Credentials::Huawei {
                secret_key, token, ..
            } => {
                *secret_key = Secret::new(value.to_owned());
                if let Some(token) = token {
                    *token = Secret::new(value.to_owned());
                }
            }
            Credentials::Alibaba {
                access_key_secret,
                security_token,
                ..
            } => {
                *access_key_secret = Secret::new(value.to_owned());
                if let Some(token) = security_token {
                    *token = Secret::new(value.to_owned());
                }
            }
        }
    }
    config
}

const PLACEHOLDER: &str = "redacted-secret";

/// The printed config with a value in place of each redacted secret (and of nothing else: an
/// account may be named `<redacted>`).
fn unredact(printed: &str) -> String {
    printed
        .lines()
        .map(|line| {
            let key = line.trim_start().trim_start_matches("- ");
            let secret = ["secret_key", "token", "access_key_secret", "security_token"]
                .iter()
                .any(|name| key == format!("{name}: {REDACTED}"));
            if secret {
                line.replace(REDACTED, PLACEHOLDER)
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What every parse must satisfy: no panic, an error that says where, and a config that prints
/// as YAML that parses back to itself.
fn check(text: &str) -> Result<(), TestCaseError> {
    match Config::parse(text) {
        Err(message) => check_error(text, &message),
        Ok(config) => {
            let printed = config.to_redacted_yaml();
            prop_assert!(!printed.starts_with("# cannot print config"), "{}", printed);
            let again = Config::parse(&unredact(&printed));
            let again = match again {
                Ok(again) => again,
                Err(e) => {
                    return Err(TestCaseError::fail(format!(
                        "the printed config does not parse: {e}\n{printed}"
                    )));
                }
            };
            prop_assert_eq!(
                with_secrets(&config, PLACEHOLDER),
                again,
                "printed:\n{}",
                printed
            );
            Ok(())
        }
    }
}

fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/config");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), text)
        })
        .collect()
}

fn yaml_ish() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,200}",
        "[a-z_:\\-\\[\\]{}, \n\t'\"#&*!|>%@`0-9.$~?<]{0,300}",
        prop::collection::vec(new_line(), 0..20).prop_map(|lines| lines.join("\n")),
        (prop::collection::vec(any::<Index>(), 1..30), any::<Index>()).prop_map(|(picks, cut)| {
            // Lines of the example, in a random order, possibly cut short.
            let example = example();
            let lines: Vec<&str> = example.lines().collect();
            let text: Vec<&str> = picks.iter().map(|i| lines[i.index(lines.len())]).collect();
            let text = text.join("\n");
            let mut end = cut.index(text.len() + 1);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text[..end].to_owned()
        }),
    ]
}

proptest! {
    #![proptest_config(proptest_config(512))]

    #[test]
    fn arbitrary_text_never_panics(text in yaml_ish()) {
        check(&text)?;
    }

    #[test]
    fn mutated_example_never_panics_and_round_trips(
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let mut lines: Vec<String> = example().lines().map(str::to_owned).collect();
        for e in &edits {
            apply(&mut lines, e);
        }
        check(&lines.join("\n"))?;
    }

    #[test]
    fn mutated_corpus_never_panics(
        file in any::<Index>(),
        edits in prop::collection::vec(edit(), 0..4),
    ) {
        let corpus = corpus();
        let (_, text) = &corpus[file.index(corpus.len())];
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for e in &edits {
            apply(&mut lines, e);
        }
        check(&lines.join("\n"))?;
    }
}

#[test]
fn the_example_parses_and_round_trips() {
    let text = example();
    assert!(Config::parse(&text).is_ok());
    check(&text).unwrap();
    // Every option the example shows commented out can be uncommented by a mutation.
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(commented_options(&lines).len() >= 8);
    assert!(value_lines(&lines).len() >= 15);
}

#[test]
fn positions_are_read_from_both_message_shapes() {
    assert_eq!(
        positions("global.lookback: must be at least 1m at line 2, column 13"),
        [(2, 13)]
    );
    let alias =
        "expected sequence start (defined at line 16, column 21) (used at line 70, column 18)";
    assert_eq!(positions(alias), [(16, 21), (70, 18)]);
    let text = "x\n".repeat(70);
    check_error(&text, alias).unwrap();
    assert!(check_error(&text, "no position").is_err());
    assert!(check_error("a: b", alias).is_err());
}

#[test]
fn every_corpus_file_is_checked() {
    let corpus = corpus();
    assert!(!corpus.is_empty());
    for (name, text) in corpus {
        if let Err(e) = check(&text) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn dollar_in_a_credential_round_trips() {
    let text = "
accounts:
  - name: a
    provider: tencent
    credentials: {secret_id: 'AKID$${HOME}', secret_key: k}
    targets: [{kind: tencent_redis, regions: [ap-guangzhou]}]
  - name: b
    provider: huawei
    credentials:
      access_key: 'HW$$'
      secret_key: k
      project_id: '$${X}'
      project_ids: {cn-north-4: 'p$$q'}
    targets: [{kind: huawei_rds, regions: [cn-north-4]}]
";
    let config = Config::parse(text).unwrap();
    let again = Config::parse(&unredact(&config.to_redacted_yaml()))
        .unwrap_or_else(|e| panic!("the printout does not parse: {e}"));
    assert_eq!(with_secrets(&config, PLACEHOLDER), again);
}
