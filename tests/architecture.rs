//! The import rules of DESIGN.md "Code layout", checked by reading `use` lines (and inline
//! `crate::…` paths) of every source file.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for e in entries {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every source file of the crate, with its text. A checker that read nothing would pass
/// every rule: fewer files than the crate has, or a room missing, fails.
fn sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let rooms: std::collections::BTreeSet<String> = files.iter().map(|f| room(f)).collect();
    for r in [
        "domain",
        "tui/ui",
        "tui/update",
        "engine",
        "cluster",
        "sources",
        "render",
        "cli",
    ] {
        assert!(rooms.contains(r), "no source read in {r}: {rooms:?}");
    }
    assert!(files.len() >= 50, "only {} source files read", files.len());
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display()));
            (f, text)
        })
        .collect()
}

/// The paths one `use` statement imports, its groups expanded:
/// `crate::{a::b, c::{self, d}}` → `crate::a::b`, `crate::c`, `crate::c::d`.
fn expand_use(stmt: &str) -> Vec<String> {
    fn split_top(s: &str) -> Vec<&str> {
        let (mut depth, mut start, mut out) = (0, 0, Vec::new());
        for (i, c) in s.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(&s[start..]);
        out
    }
    fn walk(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        if tree.is_empty() {
            return;
        }
        let join = |p: &str, t: &str| {
            if p.is_empty() {
                t.to_string()
            } else {
                format!("{p}::{t}")
            }
        };
        match tree.find('{') {
            Some(open) if tree.ends_with('}') => {
                let head = tree[..open].trim_end_matches("::").trim();
                let base = join(prefix, head);
                for part in split_top(&tree[open + 1..tree.len() - 1]) {
                    walk(&base, part, out);
                }
            }
            _ => {
                let name = tree.split(" as ").next().unwrap_or(tree).trim();
                if name == "self" {
                    out.push(prefix.to_string());
                } else {
                    out.push(join(prefix, name));
                }
            }
        }
    }
    let body: String = stmt.split_whitespace().collect::<Vec<_>>().join(" ");
    let body = body.trim().trim_end_matches(';');
    let body = body
        .split_once("use ")
        .map(|(_, rest)| rest)
        .unwrap_or(body)
        .trim_start_matches("::");
    let mut out = Vec::new();
    walk("", body, &mut out);
    out
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

/// Every module path the file refers to, as (line number, path text): `use` statements
/// (groups expanded, across lines) and inline `crate::x::…` / `tokio::…` paths, skipping
/// comments and test modules.
fn references(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    // A `#[cfg(test)]` item is skipped up to its closing brace (code after a test module
    // is checked again).
    let mut test_attr = false;
    let mut test_depth: Option<i64> = None;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with("#[cfg(test)]") {
            test_attr = true;
            continue;
        }
        if let Some(depth) = test_depth.as_mut() {
            *depth += t.matches('{').count() as i64 - t.matches('}').count() as i64;
            if *depth <= 0 {
                test_depth = None;
            }
            continue;
        }
        if test_attr {
            test_attr = false;
            let opened = t.matches('{').count() as i64 - t.matches('}').count() as i64;
            if opened > 0 {
                test_depth = Some(opened);
            }
            continue;
        }
        if t.starts_with("//") {
            continue;
        }
        let starts_use = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .any(|p| t.starts_with(p));
        if starts_use || pending.is_some() {
            let (at, mut stmt) = pending.take().unwrap_or((i + 1, String::new()));
            stmt.push(' ');
            stmt.push_str(t);
            if stmt.contains(';') {
                out.extend(expand_use(&stmt).into_iter().map(|p| (at, p)));
            } else {
                pending = Some((at, stmt));
            }
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
    }
    out
}

fn violations(rule: &str, forbidden: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let mut bad = Vec::new();
    for (f, text) in sources() {
        let r = room(&f);
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
    let mut bad = Vec::new();
    for (f, text) in sources() {
        let r = room(&f);
        if !(r == "domain" || r == "tui" || r.starts_with("tui/")) {
            continue;
        }
        // Grouped imports (`use std::{env, fs}`, `use crate::{cluster, …}`) name their
        // paths only once expanded.
        for (n, path) in references(&text) {
            let io = IO.iter().find(|p| {
                let p = p.trim_end_matches("::");
                path == p || path.starts_with(&format!("{p}::"))
            });
            if let Some(p) = io {
                bad.push(format!(
                    "{}:{n}: {r} must stay pure ({p}): {path}",
                    f.display()
                ));
            }
        }
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
    let mut big: Vec<String> = sources()
        .iter()
        .filter(|(f, _)| !f.ends_with("tests.rs"))
        .filter_map(|(f, text)| {
            let n = code_lines(text).len();
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
    let mut bad = Vec::new();
    for (f, text) in sources() {
        let r = room(&f);
        if r != "tui/ui" && r != "tui/update" {
            continue;
        }
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
    assert!(refs.iter().any(|(_, p)| p == "tokio::sync::mpsc"));
    assert!(refs.iter().any(|(_, p)| crate_room(p) == Some("tui")));
    let refs = references("// use tokio::x;\n#[cfg(test)]\nmod tests { use crate::tui; }\n");
    assert!(refs.is_empty(), "{refs:?}");
    // Code after a test module is read again.
    let refs = references("#[cfg(test)]\nmod tests {\n    fn f() {\n        crate::tui::x();\n    }\n}\nuse crate::tui;\n");
    assert_eq!(refs, [(7, "crate::tui".to_string())]);
    // Grouped imports, on one line or several, nested, renamed, with `self`.
    let refs = references(
        "use crate::{domain::values, tui::{self, state::State}};\npub(crate) use tokio::{\n    sync::mpsc as ch,\n    time,\n};\nuse ::kube::Api;\n",
    );
    let paths: Vec<&str> = refs.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "crate::domain::values",
            "crate::tui",
            "crate::tui::state::State",
            "tokio::sync::mpsc",
            "tokio::time",
            "kube::Api"
        ]
    );
    assert_eq!(refs[3].0, 2, "a statement is reported at its first line");
    assert!(refs.iter().any(|(_, p)| crate_room(p) == Some("tui")));
}

/// Functions of `text` as (first line, signature, body), split at `fn` lines.
fn functions(text: &str) -> Vec<(usize, String, String)> {
    let mut out: Vec<(usize, String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let is_fn = [
            "fn ",
            "pub fn ",
            "async fn ",
            "pub async fn ",
            "pub(crate) fn ",
        ]
        .iter()
        .any(|p| t.starts_with(p));
        if is_fn {
            out.push((i + 1, t.to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            if !last.1.contains('{') {
                last.1.push_str(t);
            }
            last.2.push_str(line);
            last.2.push('\n');
        }
    }
    out
}

/// Tests that change the process environment hold the one lock of tests/support
/// (`support::env_lock`), or hold an `EnvGuard` a helper took or a caller passed.
#[test]
fn tests_that_change_the_environment_hold_the_one_lock() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"),
        &mut files,
    );
    assert!(files.len() >= 20, "only {} test files read", files.len());
    let mut bad = Vec::new();
    let mut changing = 0;
    for f in files {
        if f.ends_with("architecture.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("read a test file");
        for (line, sig, body) in functions(&text) {
            let changes = ["env::set_var(", "env::remove_var("]
                .iter()
                .any(|c| body.contains(c));
            if !changes {
                continue;
            }
            changing += 1;
            if !(body.contains("env_lock") || sig.contains("EnvGuard") || body.contains("EnvGuard"))
            {
                bad.push(format!(
                    "{}:{line}: changes the environment without support::env_lock(): {sig}",
                    f.display()
                ));
            }
        }
    }
    assert!(
        changing >= 10,
        "only {changing} functions change the environment"
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
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
