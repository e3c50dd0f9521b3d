//! The import rules of DESIGN.md "Code layout", checked by reading `use` lines (and inline
//! `crate::…` paths) of every source file.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The room a file lives in: `domain`, `tui/ui`, `cli`, …
fn room(path: &Path) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rel = path.strip_prefix(&src).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    match parts.as_slice() {
        [first, second, ..] if first == "tui" && (second == "ui" || second == "update") => {
            format!("tui/{second}")
        }
        [first, ..] => first.clone(),
        [] => String::new(),
    }
}

/// Every module path the file refers to, as (line number, path text): `use` lines and
/// inline `crate::x::…` / `tokio::…` paths, skipping comments and test modules.
fn references(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_tests = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with("#[cfg(test)]") {
            in_tests = true;
        }
        if in_tests || t.starts_with("//") {
            continue;
        }
        for prefix in [
            "crate::",
            "helmdeck::",
            "tokio::",
            "kube::",
            "k8s_openapi::",
            "ratatui::",
            "crossterm::",
            "reqwest::",
            "axum::",
        ] {
            let mut rest = t;
            while let Some(idx) = rest.find(prefix) {
                let before = rest[..idx].chars().last();
                let start = &rest[idx..];
                let end = start
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(start.len());
                if !matches!(before, Some(c) if c.is_alphanumeric() || c == '_') {
                    out.push((i + 1, start[..end].to_string()));
                }
                rest = &start[end..];
            }
        }
        if let Some(u) = t
            .strip_prefix("use ")
            .or_else(|| t.strip_prefix("pub use "))
        {
            let root = u
                .split("::")
                .next()
                .unwrap_or("")
                .trim_end_matches(';')
                .to_string();
            out.push((i + 1, root));
        }
    }
    out
}

fn violations(rule: &str, forbidden: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut bad = Vec::new();
    for f in files {
        let r = room(&f);
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for (line, path) in references(&text) {
            if forbidden(&r, &path) {
                bad.push(format!("{}:{line}: {rule}: `{path}`", f.display()));
            }
        }
    }
    bad
}

fn crate_room(path: &str) -> Option<&str> {
    path.strip_prefix("crate::")
        .map(|p| p.split("::").next().unwrap_or(""))
}

#[test]
fn domain_imports_nothing_from_the_rest_of_the_crate_nor_runtime_crates() {
    let bad = violations("domain is pure", |room, path| {
        room == "domain"
            && (matches!(crate_room(path), Some(r) if r != "domain")
                || [
                    "tokio",
                    "kube",
                    "k8s_openapi",
                    "ratatui",
                    "crossterm",
                    "reqwest",
                    "axum",
                ]
                .iter()
                .any(|c| path == *c || path.starts_with(&format!("{c}::"))))
    });
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn io_rooms_never_import_the_tui() {
    let bad = violations(
        "sources, render, cluster and engine never import tui",
        |room, path| {
            ["sources", "render", "cluster", "engine", "config", "domain"].contains(&room)
                && crate_room(path) == Some("tui")
        },
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn production_code_never_imports_the_simulated_cluster() {
    let bad = violations("no production module imports sim", |room, path| {
        !["sim", "main", "lib", "cli", "demo"].contains(&room) && crate_room(path) == Some("sim")
    });
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// What doing I/O looks like in a line of Rust: runtime, network, files, processes, the
/// environment, the terminal, and the rooms of the crate that do I/O.
const IO: [&str; 17] = [
    "tokio::",
    "kube::",
    "reqwest::",
    "axum::",
    "crossterm::",
    "std::fs",
    "std::process",
    "std::net",
    "std::env",
    "crate::cluster",
    "crate::engine",
    "crate::sources",
    "crate::render",
    "crate::app",
    "crate::sim",
    "crate::cli",
    "crate::demo",
];

/// Lines of `text` outside test modules and comments: (line number, trimmed text).
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        out.push((i + 1, t));
    }
    out
}

#[test]
fn every_console_room_is_pure_and_every_domain_file_too() {
    // The console (state, messages, rows, keymap, steps, theme, update, ui) and the domain
    // neither do I/O nor await: files are read, terminals opened and tasks spawned by
    // `app` (and the engine) only.
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut bad = Vec::new();
    for f in files {
        let r = room(&f);
        if !(r == "domain" || r == "tui" || r.starts_with("tui/")) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for (n, t) in code_lines(&text) {
            let io = IO.iter().find(|p| t.contains(*p));
            if let Some(p) = io {
                bad.push(format!(
                    "{}:{n}: {r} must stay pure ({p}): {t}",
                    f.display()
                ));
            }
            if t.contains(".await") || t.contains("async fn") {
                bad.push(format!("{}:{n}: {r} never awaits: {t}", f.display()));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn no_source_file_is_over_a_thousand_lines_of_code() {
    // Tests may live beside the code (a `#[cfg(test)]` module or file); comments and blank
    // lines do not count.
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut big: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("tests.rs"))
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            let n = code_lines(&text).len();
            (n > 1000).then(|| format!("{}: {n} lines of code", f.display()))
        })
        .collect();
    big.sort();
    assert!(
        big.is_empty(),
        "split these into rooms:\n{}",
        big.join("\n")
    );
}

#[test]
fn tui_ui_draws_without_io_and_update_never_awaits() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut bad = Vec::new();
    for f in files {
        let r = room(&f);
        if r != "tui/ui" && r != "tui/update" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.starts_with("//") {
                continue;
            }
            let io = [
                "tokio::",
                "kube::",
                "reqwest::",
                "std::fs",
                "std::process",
                "crate::cluster",
                "crate::engine",
                "crate::sources",
                "crate::render",
            ];
            if io.iter().any(|p| t.contains(p)) || t.contains(".await") || t.contains("async fn") {
                bad.push(format!(
                    "{}:{}: {r} must stay pure: {t}",
                    f.display(),
                    i + 1
                ));
            }
            if r == "tui/ui" && (t.contains("&mut State") || t.contains("&mut AppState")) {
                bad.push(format!(
                    "{}:{}: ui reads state, never mutates it: {t}",
                    f.display(),
                    i + 1
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_checker_sees_violations() {
    // Code lines stop at the tests and skip comments.
    let lines = code_lines("// c\nfn a() {}\n\n#[cfg(test)]\nmod tests { fn b() {} }\n");
    assert_eq!(lines, vec![(2, "fn a() {}")]);
    // The rules above must be able to fail: a domain file importing tokio is caught.
    let refs = references("use tokio::sync::mpsc;\nfn f() { crate::tui::x(); }\n");
    assert!(refs.iter().any(|(_, p)| p == "tokio"));
    assert!(refs.iter().any(|(_, p)| crate_room(p) == Some("tui")));
    let refs = references("// use tokio::x;\n#[cfg(test)]\nmod tests { use crate::tui; }\n");
    assert!(refs.is_empty(), "{refs:?}");
}

/// Every write to the cluster from the engine, the CLI, the console and `cluster` goes
/// through `Cluster::write`, which fences it by the lease term of the run being driven:
/// a kube `Api` write called any other way would escape the fence. Only the lease itself
/// and operator requests (written by processes that do not drive the run) are exempt.
#[test]
fn cluster_writes_go_through_the_fence() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(!files.is_empty(), "no source read under {}", src.display());
    let exempt = ["cluster/lease.rs", "cluster/requests.rs"];
    let mut bad = Vec::new();
    let mut seen = 0;
    for f in &files {
        let rel = f
            .strip_prefix(&src)
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("sim/") || exempt.contains(&rel.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let mut in_tests = false;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.starts_with("#[cfg(test)]") {
                in_tests = true;
            }
            if in_tests || t.starts_with("//") {
                continue;
            }
            for call in [
                "api.create(",
                "api.replace(",
                "api.patch(",
                "api.delete(",
                ".create_subresource(",
                ".patch_status(",
                ".replace_status(",
            ] {
                if t.contains(call) {
                    seen += 1;
                    if !t.contains(".write(") {
                        bad.push(format!("src/{rel}:{}: {t}", i + 1));
                    }
                }
            }
        }
    }
    assert!(seen > 0, "no cluster write found: the rule reads nothing");
    assert!(
        bad.is_empty(),
        "writes outside Cluster::write:\n{}",
        bad.join("\n")
    );
}
