//! Pure conversions of what the engine and the cluster give into what the console shows: a
//! pod's JSON as a table row, a Deployment as a bar, a release record as a timeline, a
//! rendered chart as a preview, a manifest diff as the Diff tab, a drive's progress as an
//! event line. No I/O: the executor's jobs fetch, these functions shape (and are tested
//! alone).

use crate::config::Config;
use crate::domain::diff::{key_label, LineTag, ManifestDiff};
use crate::domain::gate::{CheckKind, Verdict};
use crate::domain::health::Health;
use crate::domain::manifest::Object;
use crate::domain::mask::{masked, Redactor};
use crate::domain::progress::Progress;
use crate::domain::record::ReleaseRecord;
use crate::domain::run::{Run, Step};
use crate::domain::strategy::{Track, LABEL_RELEASE};
use crate::domain::values::Explained;
use crate::tui::msg::RunEnd;
use crate::tui::state::{
    DiffView, EnvInfo, EventKind, ObjectEntry, PodRow, Preview, RepoInfo, RunView, ServiceInfo,
    State, StepRow, StepState, ValueRow, WorkloadBar,
};
use serde_json::Value;

/// The console's view of a configuration: services, environments, repositories.
pub fn console_state(cfg: &Config) -> State {
    let services = cfg
        .file
        .services
        .iter()
        .map(|s| ServiceInfo {
            name: s.name.clone(),
            release: s.release_name().to_string(),
            chart: format!(
                "{}/{}{}",
                s.chart.repository,
                s.chart.name,
                s.chart
                    .version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default()
            ),
            strategy: s.strategy,
            canary_steps: s
                .canary
                .as_ref()
                .map(|c| c.steps.clone())
                .unwrap_or_default(),
            auto_promote: s.bluegreen.as_ref().is_some_and(|b| b.auto_promote),
        })
        .collect();
    let environments = cfg
        .file
        .environments
        .iter()
        .map(|e| EnvInfo {
            name: e.name.clone(),
            context: e
                .cluster
                .context
                .clone()
                .unwrap_or_else(|| "(current)".into()),
            namespace: e.cluster.namespace.clone(),
            protected: e.policy.protected,
            auto_rollback: e.policy.auto_rollback,
        })
        .collect();
    let repositories = cfg
        .file
        .repositories
        .iter()
        .map(|r| RepoInfo {
            name: r.name.clone(),
            kind: r.kind.as_str().to_string(),
            location: r.url.clone().or_else(|| r.path.clone()).unwrap_or_default(),
        })
        .collect();
    State::new(services, environments, repositories)
}

/// A value as one line of the Values tab: strings bare, anything else as compact JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// The Manifests and Values tabs of a rendered chart: every object masked (Secret values)
/// and redacted (secret values anywhere), every value with its layer.
pub fn preview<'a>(
    chart: String,
    objects: impl Iterator<Item = &'a Object>,
    values: Vec<Explained>,
    warnings: &[String],
    red: &Redactor,
) -> Preview {
    let objects = objects
        .map(|o| ObjectEntry {
            kind: o.kind.clone(),
            name: o.name.clone(),
            source: o.source.clone(),
            yaml: red
                .redact(&crate::domain::yaml::to_string(&masked(o)))
                .into_owned(),
        })
        .collect();
    let values = values
        .into_iter()
        .map(|e| ValueRow {
            key: e.key,
            value: red.redact(&value_text(&e.value)).into_owned(),
            layer: e.layer,
            source: e.source,
            line: e.line,
            secret: e.secret,
        })
        .collect();
    Preview {
        chart,
        objects,
        values,
        warnings: warnings
            .iter()
            .map(|w| red.redact(w).into_owned())
            .collect(),
    }
}

/// The Diff tab: first the values files from git that moved (`moved`, one line each: often
/// they are why the objects changed), then per changed object a header and its unified
/// diff (Secrets already masked by the diff; secret values redacted here).
pub fn diff_view(
    d: &ManifestDiff,
    moved: Vec<String>,
    red: &Redactor,
    against: Option<u32>,
) -> DiffView {
    let mut lines: Vec<_> = moved
        .into_iter()
        .map(|l| (LineTag::HunkHeader, l))
        .collect();
    for e in d.changes() {
        lines.push((
            LineTag::FileHeader,
            format!("{} {}", e.change.sigil(), key_label(&e.key)),
        ));
        if let Some(u) = &e.unified {
            for l in u.lines() {
                if l.tag == LineTag::FileHeader {
                    continue;
                }
                lines.push((l.tag, red.redact(l.text).into_owned()));
            }
        }
    }
    DiffView {
        added: d.counts.added,
        changed: d.counts.changed,
        removed: d.counts.removed,
        unchanged: d.counts.unchanged,
        lines,
        against: match against {
            Some(n) => format!("r{n}"),
            None => "live".into(),
        },
    }
}

fn label<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// Whether an object labelled as `label` tells is part of `release` (Helm's instance label
/// or helmdeck's release label).
pub fn of_release<'a>(label: impl Fn(&str) -> Option<&'a str>, release: &str) -> bool {
    label("app.kubernetes.io/instance") == Some(release) || label(LABEL_RELEASE) == Some(release)
}

fn ms_of(ts: Option<&str>) -> u64 {
    ts.and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .map(|t| t.as_millisecond().max(0) as u64)
        .unwrap_or(0)
}

/// One pod as the table shows it (a pure row of the pod's JSON).
pub fn pod_row(p: &Value) -> PodRow {
    let name = p
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let statuses = p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let containers = p
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(statuses.len()) as u32;
    let ready = statuses
        .iter()
        .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
        .count() as u32;
    let restarts = statuses
        .iter()
        .filter_map(|c| c.get("restartCount").and_then(Value::as_u64))
        .sum::<u64>() as u32;
    let reason = statuses.iter().find_map(|c| {
        c.pointer("/state/waiting/reason")
            .or_else(|| c.pointer("/state/terminated/reason"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let phase = if p.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating".to_string()
    } else {
        p.pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("Pending")
            .to_string()
    };
    PodRow {
        track: Track::of(|k| label(p, k), ""),
        created_ms: ms_of(
            p.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str),
        ),
        name,
        phase,
        ready: (ready, containers),
        restarts,
        reason,
    }
}

/// Pods in table order: by track (what serves first), then oldest first, then by name.
pub fn sort_pods(pods: &mut [PodRow]) {
    pods.sort_by(|a, b| {
        a.track
            .rank()
            .cmp(&b.track.rank())
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// One Deployment as a bar: ready pods out of desired.
pub fn workload_bar(d: &Value) -> WorkloadBar {
    let name = d
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let n = |ptr: &str| d.pointer(ptr).and_then(Value::as_u64).unwrap_or(0) as u32;
    let template = d.pointer("/spec/template").unwrap_or(&Value::Null);
    WorkloadBar {
        track: Track::of(|k| label(template, k), &name),
        ready: n("/status/readyReplicas"),
        desired: n("/spec/replicas"),
        updated: n("/status/updatedReplicas"),
        name,
    }
}

/// A gate's measurements for its timeline line: per check, a mark for each measurement
/// (✓ pass, ✗ fail, ? inconclusive) and the last value — ` · smoke ✓✓✗ 500`.
pub fn gate_marks(run: &Run, started_ms: u64, ended_ms: Option<u64>) -> String {
    let Some(g) = run
        .gates
        .iter()
        .rev()
        .find(|g| g.started_ms >= started_ms && ended_ms.is_none_or(|e| g.started_ms <= e))
    else {
        return String::new();
    };
    g.checks
        .iter()
        .map(|c| {
            let marks: String = c
                .measurements
                .iter()
                .rev()
                .take(12)
                .rev()
                .map(|m| m.outcome.mark())
                .collect();
            let last = c
                .measurements
                .last()
                .and_then(|m| m.value.clone())
                .map(|v| format!(" {v}"))
                .unwrap_or_default();
            // Numbers a query measures read better as a trend.
            let trend = (c.kind == Some(CheckKind::Prometheus))
                .then(|| {
                    let values: Vec<f64> =
                        c.measurements.iter().filter_map(|m| m.number()).collect();
                    crate::domain::gate::sparkline(&values[values.len().saturating_sub(12)..])
                })
                .flatten()
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            format!(" · {} {marks}{last}{trend}", c.name)
        })
        .collect()
}

/// Measurements per check the gate pane keeps (the record keeps them all).
const GATE_MEASUREMENTS_SHOWN: usize = 20;

/// The run of a record as the timeline shows it: what was done, what runs, what is left.
pub fn run_view(rec: &ReleaseRecord) -> RunView {
    let run = &rec.run;
    let mut steps: Vec<StepRow> = run
        .phases
        .iter()
        .map(|p| StepRow {
            text: match &p.step {
                Step::Verify { .. } => format!(
                    "{}{}",
                    p.step.describe(),
                    gate_marks(run, p.started_ms, p.ended_ms)
                ),
                other => other.describe(),
            },
            state: match (&p.ended_ms, &p.outcome) {
                (None, _) => StepState::Current,
                (Some(_), Some(o)) if o.is_failure() => StepState::Failed,
                _ => StepState::Done,
            },
            outcome: p.outcome.clone(),
        })
        .collect();
    let open = run.phases.last().is_some_and(|p| p.ended_ms.is_none());
    if !run.status.is_terminal() {
        let from = if open { run.cursor + 1 } else { run.cursor };
        steps.extend(run.plan.iter().skip(from).map(|s| StepRow {
            text: s.describe(),
            state: StepState::Pending,
            outcome: None,
        }));
    }
    let pause_until_ms = match (run.current(), run.current_started_ms()) {
        (
            Some(Step::Pause {
                duration_ms: Some(ms),
            }),
            Some(started),
        ) => Some(started + ms),
        _ => None,
    };
    RunView {
        revision: rec.revision,
        strategy: rec.strategy,
        status: run.status,
        steps,
        reason: run.reason.clone(),
        reverse: run.reverse,
        started_ms: run.phases.first().map(|p| p.started_ms).unwrap_or(0),
        pause_until_ms,
        operator: rec.operator.clone(),
        gate: run.gates.last().map(|g| {
            let mut g = g.clone();
            for c in &mut g.checks {
                let extra = c.measurements.len().saturating_sub(GATE_MEASUREMENTS_SHOWN);
                c.measurements.drain(..extra);
            }
            g
        }),
        paused_gate_check: run.paused_gate_check().map(str::to_string),
    }
}

/// How a drive of this console ended, from the record it left (`paused`: at a manual pause
/// or a paused gate; `at_ms`: now).
pub fn run_end(rec: &ReleaseRecord, paused: bool, at_ms: u64) -> RunEnd {
    RunEnd {
        revision: Some(rec.revision),
        status: Some(rec.run.status),
        strategy: Some(rec.strategy),
        paused,
        note: rec.run.reason.clone().unwrap_or_default(),
        at_ms,
    }
}

/// A drive's progress as a line of the rollout view's events, with its kind (colour); None
/// for progress the console shows elsewhere (timed pauses count down in the header).
pub fn progress_event(p: &Progress) -> Option<(EventKind, String)> {
    use crate::domain::gate::Outcome as Measured;
    let kind = match p {
        Progress::StepStarted { .. } | Progress::GateStarted { .. } => EventKind::Step,
        Progress::StepEnded { outcome, .. } if outcome.is_failure() => EventKind::Error,
        Progress::StepEnded { .. } => EventKind::Info,
        Progress::Waiting { what } if what.starts_with("pause:") => return None,
        Progress::Waiting { .. } => EventKind::Info,
        Progress::PauseTick { .. } => return None,
        Progress::Health { health, .. } => match health {
            Health::Failed { .. } => EventKind::Error,
            Health::Current => EventKind::Done,
            Health::InProgress { .. } => EventKind::Health,
        },
        Progress::Reversing { .. } => EventKind::Reversing,
        Progress::Warning(_) | Progress::Unreachable { .. } => EventKind::Warning,
        Progress::Reachable { .. } => EventKind::Info,
        Progress::GateMeasured { measurement, .. } => match measurement.outcome {
            Measured::Pass => EventKind::Done,
            Measured::Fail => EventKind::Error,
            Measured::Inconclusive => EventKind::Warning,
        },
        Progress::GateEnded { verdict, .. } => match verdict {
            Verdict::Passed => EventKind::Done,
            Verdict::Failed { .. } => EventKind::Error,
            Verdict::Inconclusive { .. } => EventKind::Warning,
        },
        // One line per hook; a failed hook's log tail is for `status` and the pod's log (`L`).
        Progress::Hook { run } => {
            let kind = match run.outcome {
                None => EventKind::Step,
                Some(crate::domain::hooks::HookOutcome::Succeeded) => EventKind::Done,
                Some(crate::domain::hooks::HookOutcome::Failed { .. }) => EventKind::Error,
            };
            return Some((kind, format!("  {}", run.line())));
        }
    };
    Some((kind, p.line()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::run::Outcome;

    #[test]
    fn a_failed_step_is_an_error_line_and_a_timed_pause_is_not_listed() {
        let ended = Progress::StepEnded {
            step: Step::Pause { duration_ms: None },
            outcome: Outcome::Failed("web: CrashLoopBackOff".into()),
        };
        let (kind, text) = progress_event(&ended).expect("listed");
        assert_eq!(kind, EventKind::Error);
        assert!(text.ends_with("failed: web: CrashLoopBackOff"), "{text}");
        let tick = Progress::PauseTick {
            index: 1,
            elapsed_ms: 2_000,
            total_ms: 30_000,
        };
        assert_eq!(progress_event(&tick), None);
        let waiting = Progress::Waiting {
            what: "pause: 28s left".into(),
        };
        assert_eq!(progress_event(&waiting), None);
    }

    #[test]
    fn pods_sort_by_track_first() {
        let pod = |name: &str, track| PodRow {
            name: name.into(),
            track,
            phase: "Running".into(),
            ready: (1, 1),
            restarts: 0,
            created_ms: 0,
            reason: None,
        };
        let mut pods = vec![
            pod("web-canary-1", Track::Canary),
            pod("web-2", Track::Stable),
            pod("web-1", Track::Stable),
        ];
        sort_pods(&mut pods);
        let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["web-1", "web-2", "web-canary-1"]);
    }

    #[test]
    fn a_diff_view_lists_moved_values_files_first_and_redacts() {
        let red = Redactor::new(vec!["hunter2".to_string()]);
        let d = crate::domain::diff::diff(
            &[],
            &[Object {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("demo".into()),
                name: "web".into(),
                source: None,
                body: serde_json::json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "web", "namespace": "demo"},
                    "data": {"password": "hunter2"}
                }),
            }],
            &Default::default(),
        );
        let v = diff_view(&d, vec!["values git:platform a → b".into()], &red, Some(3));
        assert_eq!(v.against, "r3");
        assert_eq!(v.added, 1);
        assert_eq!(v.lines[0].1, "values git:platform a → b");
        assert!(v.lines.iter().all(|(_, l)| !l.contains("hunter2")));
    }
}
