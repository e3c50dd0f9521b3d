//! Canary steps as the launch dialog writes them: one line, steps separated by commas
//! (`1 pod, pause, 50%, pause 30s, verify smoke`). Pure text ↔ steps; no I/O.

use crate::domain::duration::HumanDuration;
use crate::domain::run::{CanaryStep, Pause};

fn verify_text(checks: &[crate::domain::gate::Check]) -> String {
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    if names.is_empty() {
        "verify".into()
    } else {
        format!("verify {}", names.join("+"))
    }
}

/// One step as the dialog writes it.
pub fn step_text(step: &CanaryStep) -> String {
    match step {
        CanaryStep::Replicas(n) => format!("{n} pod{}", if *n == 1 { "" } else { "s" }),
        CanaryStep::Percent(p) => format!("{p}%"),
        CanaryStep::Pause(Pause { duration: None }) => "pause".into(),
        CanaryStep::Pause(Pause { duration: Some(d) }) => format!("pause {d}"),
        CanaryStep::Verify(checks) => verify_text(checks),
    }
}

/// The steps as one editable line.
pub fn steps_text(steps: &[CanaryStep]) -> String {
    steps.iter().map(step_text).collect::<Vec<_>>().join(", ")
}

const SYNTAX: &str = "write `N pods`, `P%`, `pause`, `pause 30s` or `verify`";

/// Parses the dialog's line. `verify` steps cannot be written here (their checks live in
/// helmdeck.yaml): `verify NAME+NAME` keeps the configured verify step with those checks,
/// a bare `verify` the next configured one not used yet.
pub fn parse_steps(text: &str, configured: &[CanaryStep]) -> Result<Vec<CanaryStep>, String> {
    let verifies: Vec<&Vec<crate::domain::gate::Check>> = configured
        .iter()
        .filter_map(|s| match s {
            CanaryStep::Verify(c) => Some(c),
            _ => None,
        })
        .collect();
    let mut used = vec![false; verifies.len()];
    let mut out = Vec::new();
    for (i, raw) in text.split(',').enumerate() {
        let t = raw.trim();
        let n = i + 1;
        if t.is_empty() {
            if text.trim().is_empty() {
                break;
            }
            return Err(format!("step {n} is empty: {SYNTAX}, separated by commas"));
        }
        let lower = t.to_ascii_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| c.is_whitespace() || c == ':')
            .filter(|w| !w.is_empty())
            .collect();
        let step = match words.as_slice() {
            ["pause"] | ["pause", "manual"] => CanaryStep::Pause(Pause::default()),
            ["pause", d] => {
                let d = HumanDuration::parse(d)
                    .map_err(|e| format!("step {n} `{t}`: bad duration — {e}"))?;
                if d.as_duration().is_zero() {
                    return Err(format!(
                        "step {n} `{t}`: a timed pause needs a duration above 0 (or `pause` to wait for P)"
                    ));
                }
                CanaryStep::Pause(Pause { duration: Some(d) })
            }
            ["verify"] => {
                let Some(k) = used.iter().position(|u| !u) else {
                    return Err(format!(
                        "step {n} `verify`: the service configures no (more) verify steps — gates are defined in helmdeck.yaml"
                    ));
                };
                used[k] = true;
                CanaryStep::Verify(verifies[k].clone())
            }
            ["verify", names] => {
                let want: Vec<&str> = names.split('+').collect();
                let Some(k) = verifies.iter().position(|c| {
                    c.len() == want.len()
                        && c.iter()
                            .zip(&want)
                            .all(|(c, w)| c.name.eq_ignore_ascii_case(w))
                }) else {
                    let known: Vec<String> = verifies.iter().map(|c| verify_text(c)).collect();
                    return Err(format!(
                        "step {n} `{t}`: no configured verify step has these checks (configured: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ));
                };
                used[k] = true;
                CanaryStep::Verify(verifies[k].clone())
            }
            _ => parse_amount(t, &lower, n)?,
        };
        out.push(step);
    }
    if out.is_empty() {
        return Err(format!("a canary needs at least one step: {SYNTAX}"));
    }
    if !out
        .iter()
        .any(|s| matches!(s, CanaryStep::Replicas(_) | CanaryStep::Percent(_)))
    {
        return Err("the steps never create a canary pod: add `1 pod` or a `P%` step".into());
    }
    Ok(out)
}

fn parse_amount(t: &str, lower: &str, n: usize) -> Result<CanaryStep, String> {
    let bad = || format!("step {n} `{t}`: {SYNTAX}");
    let number = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let percent = compact
        .strip_suffix('%')
        .or_else(|| compact.strip_prefix("percent:"))
        .or_else(|| compact.strip_prefix("percent"));
    if let Some(p) = percent {
        let p = number(p)?;
        if !(1..=100).contains(&p) {
            return Err(format!(
                "step {n} `{t}`: a percentage runs from 1 to 100 (got {p})"
            ));
        }
        return Ok(CanaryStep::Percent(p));
    }
    let pods = compact
        .strip_suffix("pods")
        .or_else(|| compact.strip_suffix("pod"))
        .or_else(|| compact.strip_prefix("replicas:"))
        .or_else(|| compact.strip_prefix("replicas"));
    let n_pods = match pods {
        Some(p) => number(p)?,
        None => number(&compact)?,
    };
    if n_pods == 0 {
        return Err(format!(
            "step {n} `{t}`: a canary step needs at least 1 pod"
        ));
    }
    Ok(CanaryStep::Replicas(n_pods))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Vec<CanaryStep>, String> {
        parse_steps(t, &[])
    }

    #[test]
    fn the_line_round_trips() {
        let steps = vec![
            CanaryStep::Replicas(1),
            CanaryStep::Pause(Pause::default()),
            CanaryStep::Percent(50),
            CanaryStep::Pause(Pause {
                duration: Some(HumanDuration::from_secs(30)),
            }),
        ];
        assert_eq!(steps_text(&steps), "1 pod, pause, 50%, pause 30s");
        assert_eq!(parse(&steps_text(&steps)), Ok(steps));
    }

    #[test]
    fn yaml_like_spellings_are_accepted() {
        assert_eq!(
            parse("replicas: 2, percent: 40, pause: 1m, pause manual"),
            Ok(vec![
                CanaryStep::Replicas(2),
                CanaryStep::Percent(40),
                CanaryStep::Pause(Pause {
                    duration: Some(HumanDuration::from_secs(60))
                }),
                CanaryStep::Pause(Pause::default()),
            ])
        );
    }

    #[test]
    fn bad_steps_say_which_and_why() {
        let e = parse("1 pod, 0%").unwrap_err();
        assert!(e.contains("step 2") && e.contains("1 to 100"), "{e}");
        assert!(parse("150%").unwrap_err().contains("got 150"));
        assert!(parse("0 pods").unwrap_err().contains("at least 1 pod"));
        assert!(parse("1 pod, pause 5x")
            .unwrap_err()
            .contains("bad duration"));
        assert!(parse("1 pod, wait").unwrap_err().contains("`wait`"));
        assert!(parse("1 pod,, pause").unwrap_err().contains("empty"));
        assert!(parse("").unwrap_err().contains("at least one step"));
        assert!(parse("pause").unwrap_err().contains("never create"));
        assert!(parse("1 pod, verify")
            .unwrap_err()
            .contains("no (more) verify"));
    }

    #[test]
    fn verify_keeps_the_configured_checks() {
        let check = |name: &str| crate::domain::gate::Check {
            name: name.into(),
            ..serde_json::from_value(serde_json::json!({"name": name, "command": ["true"]}))
                .expect("check")
        };
        let configured = vec![
            CanaryStep::Replicas(1),
            CanaryStep::Verify(vec![check("smoke")]),
            CanaryStep::Verify(vec![check("errors"), check("e2e")]),
        ];
        assert_eq!(
            steps_text(&configured),
            "1 pod, verify smoke, verify errors+e2e"
        );
        let got = parse_steps("2 pods, verify errors+e2e, verify", &configured).expect("parses");
        assert_eq!(got[1], configured[2]);
        assert_eq!(got[2], configured[1]);
        assert!(parse_steps("1 pod, verify nope", &configured)
            .unwrap_err()
            .contains("verify smoke"));
    }
}
