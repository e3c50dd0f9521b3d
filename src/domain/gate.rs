//! Verification gates (DESIGN.md "Verification"): the checks a gate runs, the measurements
//! they take, and the pure rules that turn measurements into a verdict — `count`
//! measurements `interval` apart, more than `failure_limit` failures fail, an error reaching
//! a check is inconclusive (as in Argo Rollouts' analysis). No I/O: the engine measures.

use crate::domain::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// A verification check: exactly one of `http`, `prometheus`, `command`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    #[serde(default = "default_http_path")]
    pub path: String,
    /// A port number or a port name of the Service (default: its first port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Value>,
    /// The chart's Service to probe (default: the first one with a canary / stage copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<HttpExpect>,
}

fn default_http_path() -> String {
    "/".into()
}

/// What an HTTP answer must be: a status (default: any 2xx), text the body contains, and a
/// condition on the JSON body (`$.status == ok`, see [`json_condition`]).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonpath: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusCheck {
    pub query: String,
    /// `result OP NUMBER`, OP one of `<`, `<=`, `>`, `>=`, `==`, `!=`.
    pub condition: String,
    /// Overrides the environment's `prometheus.address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
}

/// The kinds of check, for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    Http,
    Prometheus,
    Command,
}

impl Check {
    pub fn kind(&self) -> Option<CheckKind> {
        match (&self.http, &self.prometheus, &self.command) {
            (Some(_), None, None) => Some(CheckKind::Http),
            (None, Some(_), None) => Some(CheckKind::Prometheus),
            (None, None, Some(_)) => Some(CheckKind::Command),
            _ => None,
        }
    }
    pub fn interval(&self) -> Duration {
        self.interval
            .map(HumanDuration::as_duration)
            .unwrap_or(Duration::from_secs(10))
    }
    /// Measurements to take (at least one).
    pub fn count(&self) -> u32 {
        self.count.unwrap_or(1).max(1)
    }
    pub fn failure_limit(&self) -> u32 {
        self.failure_limit.unwrap_or(0)
    }
    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
            .map(HumanDuration::as_duration)
            .unwrap_or_default()
    }
    /// How long one measurement may take (a command is killed after it).
    pub fn timeout(&self) -> Duration {
        self.timeout
            .map(HumanDuration::as_duration)
            .unwrap_or(Duration::from_secs(30))
    }
}

/// Where in a strategy a gate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateStage {
    /// A `verify` step among the canary steps (probes the `-canary` Services).
    Canary,
    /// Blue/green before the switch (probes the `-stage` Services).
    PrePromotion,
    /// Blue/green after the switch (probes the chart's Services, now on the new slot).
    PostPromotion,
    /// Rolling, once healthy (probes the chart's Services).
    Rolling,
}

impl GateStage {
    pub fn as_str(self) -> &'static str {
        match self {
            GateStage::Canary => "canary",
            GateStage::PrePromotion => "pre-promotion",
            GateStage::PostPromotion => "post-promotion",
            GateStage::Rolling => "rolling",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    /// The check could not be made (connection refused, proxy error, no data).
    Inconclusive,
}

impl Outcome {
    /// The mark the console and `status` show for a measurement: ✓ ✗ ?
    pub fn mark(self) -> char {
        match self {
            Outcome::Pass => '✓',
            Outcome::Fail => '✗',
            Outcome::Inconclusive => '?',
        }
    }

    /// The outcome in a word, as a sentence reads it: passed, failed, inconclusive.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "passed",
            Outcome::Fail => "failed",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// One measurement of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measurement {
    pub at_ms: u64,
    pub outcome: Outcome,
    /// What was measured, short: `200`, `0.004`, `exit 1`.
    pub value: Option<String>,
    /// Why, or the (bounded, redacted) output.
    pub detail: String,
}

impl Measurement {
    /// The value as a number, for sparklines.
    pub fn number(&self) -> Option<f64> {
        self.value.as_deref()?.trim().parse().ok()
    }
}

/// The measurements of one check in one gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub name: String,
    pub kind: Option<CheckKind>,
    pub measurements: Vec<Measurement>,
}

/// The outcome of a gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed { check: String, detail: String },
    Inconclusive { check: String, detail: String },
}

impl Verdict {
    /// One line naming the check, for the run's reason.
    pub fn describe(&self, stage: GateStage) -> String {
        match self {
            Verdict::Passed => format!("{} gate passed", stage.as_str()),
            Verdict::Failed { check, detail } => {
                format!("{} gate: check `{check}` failed: {detail}", stage.as_str())
            }
            Verdict::Inconclusive { check, detail } => format!(
                "{} gate: check `{check}` is inconclusive: {detail}",
                stage.as_str()
            ),
        }
    }
}

/// One run of a gate: the step it belongs to and every measurement taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateRecord {
    /// Index of the `verify` step in the run's plan.
    pub step: usize,
    pub stage: GateStage,
    pub started_ms: u64,
    pub ended_ms: Option<u64>,
    pub checks: Vec<CheckRecord>,
    pub verdict: Option<Verdict>,
}

impl GateRecord {
    pub fn new(step: usize, stage: GateStage, checks: &[Check], now_ms: u64) -> GateRecord {
        GateRecord {
            step,
            stage,
            started_ms: now_ms,
            ended_ms: None,
            checks: checks
                .iter()
                .map(|c| CheckRecord {
                    name: c.name.clone(),
                    kind: c.kind(),
                    measurements: Vec::new(),
                })
                .collect(),
            verdict: None,
        }
    }

    /// The measurements taken for the check named `name`, oldest first.
    pub fn taken(&self, name: &str) -> &[Measurement] {
        self.checks
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.measurements.as_slice())
            .unwrap_or(&[])
    }

    /// Where each of `checks` stands in this gate, in the order given.
    pub fn states<'c>(&self, checks: &'c [Check]) -> Vec<(&'c Check, CheckState)> {
        checks
            .iter()
            .map(|c| (c, check_state(c, self.started_ms, self.taken(&c.name))))
            .collect()
    }
}

/// Where one check stands.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckState {
    /// Take the next measurement at this time.
    Due {
        at_ms: u64,
    },
    Passed,
    Failed {
        detail: String,
    },
    Inconclusive {
        detail: String,
    },
}

/// Most measurements a check may ask for: every one is kept in the release record, which
/// must fit in a Secret.
pub const MAX_COUNT: u32 = 500;

/// The state of `check` after `taken` (oldest first), in a gate started at `started_ms`.
pub fn check_state(check: &Check, started_ms: u64, taken: &[Measurement]) -> CheckState {
    let failures = taken.iter().filter(|m| m.outcome == Outcome::Fail).count() as u32;
    let last = taken.last();
    if failures > check.failure_limit() {
        let detail = taken
            .iter()
            .rev()
            .find(|m| m.outcome == Outcome::Fail)
            .map(|m| m.detail.clone())
            .unwrap_or_default();
        return CheckState::Failed {
            detail: format!(
                "{failures} of {} measurements failed (failure_limit {}); last: {detail}",
                taken.len(),
                check.failure_limit()
            ),
        };
    }
    if let Some(m) = taken.iter().find(|m| m.outcome == Outcome::Inconclusive) {
        return CheckState::Inconclusive {
            detail: m.detail.clone(),
        };
    }
    if taken.len() as u32 >= check.count() {
        return CheckState::Passed;
    }
    CheckState::Due {
        at_ms: match last {
            Some(m) => m.at_ms + check.interval().as_millis() as u64,
            None => started_ms + check.initial_delay().as_millis() as u64,
        },
    }
}

/// The gate's verdict once it has one, from its checks' states ([`GateRecord::states`]):
/// the first failed check fails it at once; otherwise it waits for every check, then is
/// inconclusive if any check was, else passes.
pub fn verdict(states: &[(&Check, CheckState)]) -> Option<Verdict> {
    for (c, st) in states {
        if let CheckState::Failed { detail } = st {
            return Some(Verdict::Failed {
                check: c.name.clone(),
                detail: detail.clone(),
            });
        }
    }
    if states
        .iter()
        .any(|(_, s)| matches!(s, CheckState::Due { .. }))
    {
        return None;
    }
    for (c, st) in states {
        if let CheckState::Inconclusive { detail } = st {
            return Some(Verdict::Inconclusive {
                check: c.name.clone(),
                detail: detail.clone(),
            });
        }
    }
    Some(Verdict::Passed)
}

/// A numeric condition `result OP NUMBER`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    pub op: CompareOp,
    pub threshold: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, String> {
        let t = text.trim();
        let rest = t.strip_prefix("result").ok_or_else(|| {
            format!("condition `{t}` must read `result OP NUMBER`, e.g. `result < 0.01`")
        })?;
        let rest = rest.trim_start();
        let (op, num) = [
            ("<=", CompareOp::Le),
            (">=", CompareOp::Ge),
            ("==", CompareOp::Eq),
            ("!=", CompareOp::Ne),
            ("<", CompareOp::Lt),
            (">", CompareOp::Gt),
        ]
        .iter()
        .find_map(|(s, op)| rest.strip_prefix(s).map(|n| (*op, n)))
        .ok_or_else(|| {
            format!("condition `{t}`: expected one of < <= > >= == != after `result`")
        })?;
        let threshold: f64 = num
            .trim()
            .parse()
            .map_err(|_| format!("condition `{t}`: `{}` is not a number", num.trim()))?;
        Ok(Condition { op, threshold })
    }

    pub fn holds(&self, v: f64) -> bool {
        let t = self.threshold;
        match self.op {
            CompareOp::Lt => v < t,
            CompareOp::Le => v <= t,
            CompareOp::Gt => v > t,
            CompareOp::Ge => v >= t,
            CompareOp::Eq => v == t,
            CompareOp::Ne => v != t,
        }
    }
}

/// A condition on a JSON body, JSONPath-ish: `$.a.b[0].c` alone (present, not null, not
/// false), or followed by `== VALUE` / `!= VALUE` (VALUE compared with the field's text;
/// quotes optional). Errors say what is wrong with the expression.
pub fn json_condition(body: &Value, expr: &str) -> Result<bool, String> {
    let (path, cmp) = match expr.find("==").or_else(|| expr.find("!=")) {
        Some(i) => (
            &expr[..i],
            Some((&expr[i..i + 2] == "==", expr[i + 2..].trim())),
        ),
        None => (expr, None),
    };
    let path = path.trim();
    let path = path.strip_prefix('$').unwrap_or(path);
    let mut at = body;
    let mut missing = false;
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let (name, indexes) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg, ""),
        };
        if !name.is_empty() {
            match at.get(name) {
                Some(v) => at = v,
                None => {
                    missing = true;
                    break;
                }
            }
        }
        for ix in indexes.split('[').filter(|s| !s.is_empty()) {
            let n: usize = ix
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("`{expr}`: `[{ix}` is not an index"))?;
            match at.get(n) {
                Some(v) => at = v,
                None => {
                    missing = true;
                    break;
                }
            }
        }
        if missing {
            break;
        }
    }
    Ok(match cmp {
        None => !missing && !at.is_null() && at != &Value::Bool(false),
        Some((eq, want)) => {
            let want = want.trim_matches(|c| c == '"' || c == '\'');
            let got = match at {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let same = !missing && got == want;
            same == eq
        }
    })
}

/// A one-line sparkline (`▁▂▃▄▅▆▇█`) of the numeric values, scaled between their least and
/// greatest; None when fewer than two are numbers.
pub fn sparkline(values: &[f64]) -> Option<String> {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let vs: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if vs.len() < 2 {
        return None;
    }
    let lo = vs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(
        vs.iter()
            .map(|v| {
                if hi > lo {
                    BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize]
                } else {
                    BARS[3]
                }
            })
            .collect(),
    )
}

/// Replaces `{{release}}`, `{{namespace}}` and `{{track}}` in a query.
pub fn fill_placeholders(text: &str, release: &str, namespace: &str, track: &str) -> String {
    text.replace("{{release}}", release)
        .replace("{{namespace}}", namespace)
        .replace("{{track}}", track)
}

/// Cuts `text` to at most `max` bytes on a character boundary, saying so.
pub fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes cut)", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(count: u32, failure_limit: u32) -> Check {
        Check {
            name: "smoke".into(),
            http: None,
            prometheus: None,
            command: Some(vec!["true".into()]),
            interval: Some(HumanDuration::from_secs(1)),
            count: Some(count),
            failure_limit: Some(failure_limit),
            initial_delay: None,
            timeout: None,
        }
    }

    fn m(at_ms: u64, outcome: Outcome) -> Measurement {
        Measurement {
            at_ms,
            outcome,
            value: None,
            detail: format!("{outcome:?}"),
        }
    }

    use Outcome::{Fail as F, Inconclusive as I, Pass as P};

    #[test]
    fn a_check_needs_count_measurements_and_fails_past_its_failure_limit() {
        // (count, failure_limit, outcomes, expected)
        let cases: Vec<(u32, u32, Vec<Outcome>, &str)> = vec![
            (3, 0, vec![], "due"),
            (3, 0, vec![P, P], "due"),
            (3, 0, vec![P, P, P], "passed"),
            (3, 0, vec![F], "failed"),
            (5, 1, vec![F], "due"),
            (5, 1, vec![F, F], "failed"),
            (5, 3, vec![F, F, P, P], "due"),
            (5, 3, vec![F, F, P, P, P], "passed"),
            (3, 1, vec![P, I], "inconclusive"),
            (3, 0, vec![I, F], "failed"),
        ];
        for (count, limit, outcomes, want) in cases {
            let taken: Vec<Measurement> = outcomes
                .iter()
                .enumerate()
                .map(|(i, o)| m(i as u64 * 1000, *o))
                .collect();
            let got = match check_state(&check(count, limit), 0, &taken) {
                CheckState::Due { .. } => "due",
                CheckState::Passed => "passed",
                CheckState::Failed { .. } => "failed",
                CheckState::Inconclusive { .. } => "inconclusive",
            };
            assert_eq!(got, want, "count {count} limit {limit} {outcomes:?}");
        }
    }

    #[test]
    fn measurements_are_interval_apart_after_the_initial_delay() {
        let mut c = check(3, 0);
        c.initial_delay = Some(HumanDuration::from_secs(5));
        assert_eq!(check_state(&c, 100, &[]), CheckState::Due { at_ms: 5_100 });
        assert_eq!(
            check_state(&c, 100, &[m(6_000, P)]),
            CheckState::Due { at_ms: 7_000 }
        );
    }

    #[test]
    fn a_gate_fails_at_once_but_waits_for_every_check_before_inconclusive() {
        let checks = vec![check(2, 0), {
            let mut c = check(2, 0);
            c.name = "other".into();
            c
        }];
        let mut g = GateRecord::new(3, GateStage::Canary, &checks, 0);
        g.checks[0].measurements = vec![m(0, I)];
        assert_eq!(
            verdict(&g.states(&checks)),
            None,
            "the other check still runs"
        );
        g.checks[1].measurements = vec![m(0, P), m(1000, P)];
        assert!(matches!(
            verdict(&g.states(&checks)),
            Some(Verdict::Inconclusive { check, .. }) if check == "smoke"
        ));
        g.checks[1].measurements = vec![m(0, F)];
        assert!(matches!(
            verdict(&g.states(&checks)),
            Some(Verdict::Failed { check, .. }) if check == "other"
        ));
        g.checks[0].measurements = vec![m(0, P), m(1000, P)];
        g.checks[1].measurements = vec![m(0, P), m(1000, P)];
        assert_eq!(verdict(&g.states(&checks)), Some(Verdict::Passed));
    }

    #[test]
    fn conditions_compare_the_result() {
        let cases = [
            ("result < 0.01", 0.005, true),
            ("result < 0.01", 0.01, false),
            ("result <= 0.01", 0.01, true),
            ("result>5", 6.0, true),
            ("result >= 5", 4.0, false),
            ("result == 1", 1.0, true),
            ("result != 1", 1.0, false),
        ];
        for (text, v, want) in cases {
            let c = Condition::parse(text).expect(text);
            assert_eq!(c.holds(v), want, "{text} with {v}");
        }
        for bad in ["x < 1", "result ~ 1", "result < abc", ""] {
            assert!(Condition::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_conditions_read_a_path_and_compare() {
        let body = json!({"status": "ok", "pod": "web-1", "items": [{"ready": true}], "n": 3, "off": false});
        let cases = [
            ("$.status == ok", true),
            ("$.status == \"ok\"", true),
            ("status != ok", false),
            ("$.items[0].ready", true),
            ("$.items[1].ready", false),
            ("$.n == 3", true),
            ("$.off", false),
            ("$.missing", false),
            ("$.missing != x", true),
        ];
        for (expr, want) in cases {
            assert_eq!(json_condition(&body, expr), Ok(want), "{expr}");
        }
        assert!(json_condition(&body, "$.items[x]").is_err());
    }

    #[test]
    fn sparklines_scale_between_least_and_greatest() {
        assert_eq!(sparkline(&[0.0, 0.5, 1.0]).as_deref(), Some("▁▅█"));
        assert_eq!(sparkline(&[2.0, 2.0]).as_deref(), Some("▄▄"));
        assert_eq!(sparkline(&[1.0]), None);
        assert_eq!(sparkline(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn placeholders_and_bounds() {
        assert_eq!(
            fill_placeholders(
                "x{release=\"{{release}}\",ns=\"{{namespace}}\",t=\"{{track}}\"}",
                "web",
                "prod",
                "canary"
            ),
            "x{release=\"web\",ns=\"prod\",t=\"canary\"}"
        );
        assert_eq!(bounded("héllo", 2), "h… (5 bytes cut)");
        assert_eq!(bounded("abc", 5), "abc");
    }
}
