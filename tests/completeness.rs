//! Every registered provider kind is wired everywhere a kind must be: a simulator route, a
//! demo target, a fixtures directory of real answers, an entry in `config.example.yaml` and a
//! row in README's provider table. A kind missing one of them fails here, by name, instead of
//! in front of a user.

use std::collections::HashSet;
use std::path::Path;

use cloud_task_exporter::{demo, providers};

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_kind_is_wired_everywhere() {
    let demo = demo::start(1).await.unwrap();
    let demo_kinds: HashSet<&str> = demo
        .config
        .accounts
        .iter()
        .flat_map(|a| a.targets.iter().map(|t| t.kind.name()))
        .collect();
    let simulated = cloud_task_simulator::kinds();
    let example = read("config.example.yaml");
    let readme = read("README.md");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");

    let mut missing = Vec::new();
    for kind in providers::names() {
        if !simulated.contains(&kind) {
            missing.push(format!(
                "{kind}: no simulator route (ROUTES in sim/src/lib.rs)"
            ));
        }
        if !demo_kinds.contains(kind) {
            missing.push(format!("{kind}: no target in --demo (src/demo.rs)"));
        }
        let answers = std::fs::read_dir(fixtures.join(kind)).map_or(0, |dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        });
        if answers == 0 {
            missing.push(format!(
                "{kind}: no fixtures (JSON answers) in tests/fixtures/{kind}/"
            ));
        }
        if !example
            .lines()
            .any(|l| l.trim() == format!("- kind: {kind}"))
        {
            missing.push(format!("{kind}: no target in config.example.yaml"));
        }
        if !readme
            .lines()
            .any(|l| l.starts_with(&format!("| `{kind}` |")))
        {
            missing.push(format!("{kind}: no row in README's provider table"));
        }
    }
    // And nothing the registry does not know.
    for kind in simulated {
        if providers::lookup(kind).is_none() {
            missing.push(format!(
                "{kind}: simulated but not registered (REGISTRY in src/providers/mod.rs)"
            ));
        }
    }
    assert!(missing.is_empty(), "\n{}", missing.join("\n"));
}
