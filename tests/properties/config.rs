//! helmdeck.yaml (src/config): any text gives a configuration or an error located in the
//! file (`file:line:column` when a place is at fault) with a hint.

use crate::gen;
use crate::harness::{bounded, config, corpus};
use helmdeck::config::Config;
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A folder with what the seed configurations point at (./charts, ./svc.yaml).
fn folder() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(d.path().join("charts")).expect("mkdir");
        std::fs::write(d.path().join("svc.yaml"), "a: 1\n").expect("write");
        d
    });
    dir.path().to_path_buf()
}

const SEED: &str = include_str!("../corpus/config/full.yaml");

const TOKENS: &[&str] = &[
    "name",
    "type",
    "local",
    "http",
    "oci",
    "s3",
    "git",
    "url",
    "path",
    "services",
    "chart",
    "environments",
    "repositories",
    "strategy",
    "canary",
    "steps",
    "pause",
    "percent",
    "replicas",
    "verify",
    "policy",
    "secrets",
    "from",
    "env",
    "cluster",
    "namespace",
    ": ",
    "- ",
    "\n",
    "  ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "~",
    "yes",
    "0777",
    "-1",
    "1e3",
    "10m",
    "1h30",
    "x",
    "^1",
    "*",
    "&a ",
    "*a",
    "<<: ",
    "\t",
    "é",
    "null",
    "{}",
    "[]",
];

fn check(path: &std::path::Path, text: &str) {
    let shown = path.display().to_string();
    if let Err(e) = Config::from_text(path, text) {
        let location = e
            .location
            .as_deref()
            .unwrap_or_else(|| panic!("an error without a location: {e}\n{text}"));
        assert!(location.starts_with(&shown), "{location} is not in {shown}");
        if let Some(rest) = location.strip_prefix(&format!("{shown}:")) {
            let mut parts = rest.split(':').map(|n| n.parse::<usize>());
            let (line, col) = (parts.next(), parts.next());
            assert!(
                matches!(line, Some(Ok(l)) if l >= 1) && matches!(col, Some(Ok(c)) if c >= 1),
                "location {location} is not file:line:column: {e}"
            );
            let lines = text.split('\n').count();
            assert!(
                matches!(line, Some(Ok(l)) if l <= lines + 1),
                "line past the end ({lines} lines): {e}\n{text}"
            );
        }
        assert!(!e.message.is_empty(), "{e}");
        assert!(!e.hint.is_empty(), "an error without a hint: {e}");
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_mutation_of_a_full_configuration_is_loaded_or_located(
        text in gen::mutate(SEED.to_string(), TOKENS)
    ) {
        let path = folder().join("helmdeck.yaml");
        let t = text.clone();
        bounded("Config::from_text", &text, move || check(&path, &t));
    }

    #[test]
    fn any_text_is_loaded_or_located(text in gen::yamlish()) {
        let path = folder().join("helmdeck.yaml");
        let t = text.clone();
        bounded("Config::from_text", &text, move || check(&path, &t));
    }
}

/// The seeds in tests/corpus/config: the full example loads; the others load or fail
/// located.
#[test]
fn corpus_config() {
    let path = folder().join("helmdeck.yaml");
    Config::from_text(&path, SEED).expect("the full example loads");
    for (name, text) in corpus("config") {
        let path = path.clone();
        bounded("config corpus", &name, move || check(&path, &text));
    }
}
