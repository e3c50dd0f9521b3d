//! Semver constraints as Helm reads them (src/domain/chartver.rs).

use crate::harness::{bounded, config, corpus};
use helmdeck::domain::chartver::{parse_lenient, resolve, Constraint};
use proptest::prelude::*;
use semver::Version;

const TOKENS: &[&str] = &[
    "^",
    "~",
    "~>",
    ">=",
    ">",
    "<=",
    "<",
    "=",
    "!=",
    "1",
    "2",
    "0",
    "10",
    ".",
    "x",
    "X",
    "*",
    "-",
    "alpha",
    "rc.1",
    "+build",
    " ",
    "||",
    ",",
    "v",
    "V",
    "a",
    "01",
    "99999999999999999999",
    " - ",
    "é",
];

fn constraint_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(TOKENS), 0..12).prop_map(|v| v.concat()),
        1 => any::<String>(),
    ]
}

fn version() -> impl Strategy<Value = Version> {
    (
        0u64..4,
        0u64..4,
        0u64..4,
        prop::sample::select(vec!["", "alpha", "alpha.1", "rc.2", "0", "beta-2"]),
        prop::sample::select(vec!["", "build.5", "sha.abc"]),
    )
        .prop_map(|(ma, mi, pa, pre, build)| {
            let mut text = format!("{ma}.{mi}.{pa}");
            if !pre.is_empty() {
                text.push_str(&format!("-{pre}"));
            }
            if !build.is_empty() {
                text.push_str(&format!("+{build}"));
            }
            Version::parse(&text).expect("a valid version")
        })
}

fn check(text: &str, versions: &[Version]) {
    match Constraint::parse(text) {
        Ok(c) => {
            for v in versions {
                let _ = c.matches(v);
            }
            // What it prints reads back as the same constraint.
            let again = Constraint::parse(&c.to_string()).unwrap_or_else(|e| {
                panic!("{text:?} prints as {:?}, which fails: {e}", c.to_string())
            });
            for v in versions {
                assert_eq!(
                    c.matches(v),
                    again.matches(v),
                    "{text:?} vs {:?} on {v}",
                    c.to_string()
                );
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let _ = parse_lenient(text);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_constraint_answers_in_bounded_time(
        text in constraint_text(),
        versions in prop::collection::vec(version(), 0..8),
    ) {
        let t = text.clone();
        bounded("chartver::Constraint::parse", &text, move || check(&t, &versions));
    }

    /// A stable version satisfies `V`, `=V`, `^V`, `~V`, `>=V`, `<=V` and not `>V`, `<V`, `!=V`.
    #[test]
    fn a_version_satisfies_the_constraints_that_name_it(
        (ma, mi, pa) in (0u64..20, 0u64..20, 0u64..20),
        build in prop::sample::select(vec!["", "+b.1"]),
    ) {
        let v = Version::parse(&format!("{ma}.{mi}.{pa}{build}")).expect("valid");
        let core = format!("{}.{}.{}", v.major, v.minor, v.patch);
        for yes in ["", "=", "^", "~", ">=", "<="] {
            let c = Constraint::parse(&format!("{yes}{core}")).expect("parses");
            prop_assert!(c.matches(&v), "{yes}{core} should match {v}");
        }
        for no in [">", "<", "!="] {
            let c = Constraint::parse(&format!("{no}{core}")).expect("parses");
            prop_assert!(!c.matches(&v), "{no}{core} should not match {v}");
        }
    }

    /// resolve picks an available version that satisfies the constraint, and no available
    /// version that satisfies it is higher.
    #[test]
    fn resolve_picks_the_highest_satisfying_version(
        text in prop::sample::select(vec!["", "*", "^1", "~1.2", ">=1.0.0 <3", "1.x", ">0.0.0-0", "^0.2.1", "<2 || >=3"]),
        available in prop::collection::vec(version(), 0..10),
    ) {
        let texts: Vec<String> = available.iter().map(ToString::to_string).collect();
        let picked = resolve(Some(text), texts.iter().map(String::as_str)).expect("valid constraint");
        let c = Constraint::parse(if text.is_empty() { "*" } else { text }).expect("parses");
        let satisfying: Vec<&Version> = available.iter().filter(|v| c.matches(v)).collect();
        match picked {
            None => prop_assert!(satisfying.is_empty(), "nothing picked among {satisfying:?}"),
            Some(p) => {
                let p = Version::parse(p).expect("one of ours");
                prop_assert!(c.matches(&p));
                for v in satisfying {
                    prop_assert!(v.cmp_precedence(&p) != std::cmp::Ordering::Greater, "{v} > picked {p}");
                }
            }
        }
    }
}

/// The seeds in tests/corpus/chartver (one constraint a line).
#[test]
fn corpus_chartver() {
    let versions: Vec<Version> = ["0.1.0", "1.0.0", "1.2.3", "1.2.4-rc.1", "2.0.0", "10.1.1+b"]
        .iter()
        .map(|v| Version::parse(v).expect("valid"))
        .collect();
    for (name, text) in corpus("chartver") {
        let versions = versions.clone();
        bounded("chartver corpus", &name, move || {
            for line in text.lines() {
                check(line, &versions);
            }
        });
    }
}
