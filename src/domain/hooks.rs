//! Helm's chart hooks with Helm's own rules (helm.sh/docs "Chart Hooks" and Helm v4's
//! pkg/release/v1/util/manifest_sorter.go and pkg/action/hooks.go): the `helm.sh/hook`
//! events of an object (a list naming an unknown event makes Helm skip the object), its
//! `helm.sh/hook-weight` (a Go `strconv.Atoi`; anything else is 0) and
//! `helm.sh/hook-delete-policy` (`before-hook-creation` when none is given); the order of
//! an event's hooks — ascending weight, then name, stable over the rendered order (which is
//! Helm's install order by kind); and what a run of them records. Pure.

use crate::domain::health::Health;
use crate::domain::kstatus;
use crate::domain::manifest::Object;
use serde::{Deserialize, Serialize};

pub const ANNOTATION_HOOK: &str = "helm.sh/hook";
pub const ANNOTATION_WEIGHT: &str = "helm.sh/hook-weight";
pub const ANNOTATION_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";
/// The track label hook objects and their pods carry (the rollout view shows them so).
pub const TRACK_HOOK: &str = "hook";

/// A point of a release's life where hooks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookEvent {
    PreInstall,
    PostInstall,
    PreUpgrade,
    PostUpgrade,
    PreRollback,
    PostRollback,
    PreDelete,
    PostDelete,
    Test,
}

impl HookEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::Test => "test",
        }
    }

    /// Helm's names, with `test-success` (Helm 2's test hook) read as `test`.
    pub fn parse(s: &str) -> Option<HookEvent> {
        Some(match s {
            "pre-install" => HookEvent::PreInstall,
            "post-install" => HookEvent::PostInstall,
            "pre-upgrade" => HookEvent::PreUpgrade,
            "post-upgrade" => HookEvent::PostUpgrade,
            "pre-rollback" => HookEvent::PreRollback,
            "post-rollback" => HookEvent::PostRollback,
            "pre-delete" => HookEvent::PreDelete,
            "post-delete" => HookEvent::PostDelete,
            "test" | "test-success" => HookEvent::Test,
            _ => return None,
        })
    }
}

impl std::fmt::Display for HookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a hook's object is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeletePolicy {
    /// Before the hook is created again (Helm's default).
    BeforeHookCreation,
    /// Once every hook of the event succeeded.
    HookSucceeded,
    /// When the hook failed (its log is read first).
    HookFailed,
}

/// One hook of a rendered chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub object: Object,
    pub events: Vec<HookEvent>,
    pub weight: i64,
    pub delete_policies: Vec<DeletePolicy>,
}

/// An object annotated as a hook that Helm skips.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {name} is skipped: its `helm.sh/hook: {events}` names an event Helm does not know (Helm skips such objects)")]
pub struct UnknownHook {
    pub kind: String,
    pub name: String,
    pub events: String,
}

/// Go's `strconv.Atoi` on a 64-bit platform: an optional sign and decimal digits, nothing
/// else (no spaces); anything else gives Helm's 0.
fn atoi(s: &str) -> i64 {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    s.parse().unwrap_or(0)
}

impl Hook {
    /// Reads the hook annotations of `o`; None when it is not a hook.
    pub fn of(o: &Object) -> Option<Result<Hook, UnknownHook>> {
        let events_text = o.annotation(ANNOTATION_HOOK)?;
        let mut events = Vec::new();
        for e in events_text.split(',') {
            match HookEvent::parse(&e.trim().to_lowercase()) {
                Some(ev) => events.push(ev),
                None => {
                    return Some(Err(UnknownHook {
                        kind: o.kind.clone(),
                        name: o.name.clone(),
                        events: events_text.to_string(),
                    }))
                }
            }
        }
        let mut delete_policies = Vec::new();
        for p in o
            .annotation(ANNOTATION_DELETE_POLICY)
            .unwrap_or_default()
            .split(',')
        {
            // Helm keeps unknown policies (and never matches them); they change nothing.
            match p.trim().to_lowercase().as_str() {
                "before-hook-creation" => delete_policies.push(DeletePolicy::BeforeHookCreation),
                "hook-succeeded" => delete_policies.push(DeletePolicy::HookSucceeded),
                "hook-failed" => delete_policies.push(DeletePolicy::HookFailed),
                _ => {}
            }
        }
        // A hook without the annotation gets `before-hook-creation`; Helm keeps unknown
        // (even empty) values, so an annotation naming none it knows leaves no policy.
        if o.annotation(ANNOTATION_DELETE_POLICY).is_none() {
            delete_policies.push(DeletePolicy::BeforeHookCreation);
        }
        Some(Ok(Hook {
            weight: o.annotation(ANNOTATION_WEIGHT).map(atoi).unwrap_or(0),
            events,
            delete_policies,
            object: o.clone(),
        }))
    }

    pub fn has_policy(&self, p: DeletePolicy) -> bool {
        // Helm never deletes a CRD hook: it could take every custom resource with it.
        self.object.kind != "CustomResourceDefinition" && self.delete_policies.contains(&p)
    }

    /// `Kind/name`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.object.kind, self.object.name)
    }

    /// Done once applied: only Jobs and Pods run to completion.
    pub fn runs(&self) -> bool {
        matches!(
            (self.object.group(), self.object.kind.as_str()),
            ("batch", "Job") | ("", "Pod")
        )
    }
}

/// The hooks of `objects` (in rendered order), and the objects Helm would skip.
pub fn parse(objects: &[Object]) -> (Vec<Hook>, Vec<UnknownHook>) {
    let mut hooks = Vec::new();
    let mut skipped = Vec::new();
    for o in objects {
        match Hook::of(o) {
            Some(Ok(h)) => hooks.push(h),
            Some(Err(e)) => skipped.push(e),
            None => {}
        }
    }
    (hooks, skipped)
}

/// The hooks of `event` in the order Helm runs them: ascending weight, then name; hooks
/// equal in both keep the rendered order (Helm's `sort.Stable` over hooks already sorted
/// by kind in install order).
pub fn for_event(hooks: &[Hook], event: HookEvent) -> Vec<&Hook> {
    let mut out: Vec<&Hook> = hooks.iter().filter(|h| h.events.contains(&event)).collect();
    out.sort_by(|a, b| {
        a.weight
            .cmp(&b.weight)
            .then_with(|| a.object.name.cmp(&b.object.name))
    });
    out
}

/// The events `hooks` has hooks for.
pub fn events(hooks: &[Hook]) -> Vec<HookEvent> {
    let mut out: Vec<HookEvent> = hooks.iter().flat_map(|h| h.events.clone()).collect();
    out.sort();
    out.dedup();
    out
}

/// Where a running hook stands (Helm's WatchUntilReady): a Job is done when it completes,
/// a Pod when it Succeeds; either fails on its failure, or at once on a fast-fail signal of
/// its pods (an image that cannot be pulled, config it cannot read, a crash loop).
pub fn hook_health(
    kind: &str,
    obj: &serde_json::Value,
    pods: &[&serde_json::Value],
    threshold: u32,
) -> Health {
    match kind {
        "Job" => kstatus::workload("batch", "Job", obj, pods, threshold),
        "Pod" => match kstatus::pod(obj) {
            h @ Health::Failed { .. } => h,
            _ if obj
                .pointer("/status/phase")
                .and_then(serde_json::Value::as_str)
                == Some("Succeeded") =>
            {
                Health::Current
            }
            _ => match crate::domain::health::pod_failure(obj, threshold) {
                Some(f) => Health::Failed {
                    reason: format!("{} in container {}", f.reason, f.container),
                    pod: Some(f.pod),
                },
                None => Health::InProgress {
                    reason: format!(
                        "Pod {}",
                        obj.pointer("/status/phase")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or("Pending")
                    ),
                },
            },
        },
        _ => Health::Current,
    }
}

/// One hook's execution within a run, as the record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRun {
    /// The run's phase (index in `phases`) the hook ran in.
    pub phase: usize,
    pub event: HookEvent,
    pub kind: String,
    pub name: String,
    pub weight: i64,
    pub started_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<u64>,
    /// None while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<HookOutcome>,
    /// The last lines of its pod's log when it failed (secrets redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum HookOutcome {
    Succeeded,
    Failed { reason: String },
}

impl HookRun {
    pub fn label(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// `✓ pre-upgrade Job/migrate (weight -5)` and the like.
    pub fn line(&self) -> String {
        let (mark, tail) = match &self.outcome {
            None => ("▸", String::new()),
            Some(HookOutcome::Succeeded) => ("✓", String::new()),
            Some(HookOutcome::Failed { reason }) => ("✗", format!(" — {reason}")),
        };
        format!(
            "{mark} {} {} (weight {}){tail}",
            self.event,
            self.label(),
            self.weight
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hook(
        kind: &str,
        name: &str,
        events: &str,
        weight: Option<&str>,
        policy: Option<&str>,
    ) -> Object {
        let mut ann = json!({ANNOTATION_HOOK: events});
        if let Some(w) = weight {
            ann[ANNOTATION_WEIGHT] = json!(w);
        }
        if let Some(p) = policy {
            ann[ANNOTATION_DELETE_POLICY] = json!(p);
        }
        let api = if kind == "Job" { "batch/v1" } else { "v1" };
        Object::from_body(
            json!({"apiVersion": api, "kind": kind, "metadata": {"name": name, "annotations": ann}}),
            "ns",
        )
        .expect("object")
    }

    fn names(hs: &[&Hook]) -> Vec<String> {
        hs.iter().map(|h| h.label()).collect()
    }

    #[test]
    fn hooks_run_by_weight_then_name_keeping_the_rendered_order_for_ties() {
        // Rendered order is Helm's install order by kind: ServiceAccount before Job.
        let objs = vec![
            hook(
                "ServiceAccount",
                "migrator",
                "pre-install,pre-upgrade",
                Some("-10"),
                None,
            ),
            hook("ConfigMap", "same", "pre-upgrade", Some("0"), None),
            hook(
                "Job",
                "migrate",
                "pre-install, Pre-Upgrade",
                Some("-5"),
                Some("before-hook-creation,hook-succeeded"),
            ),
            hook("Job", "b-second", "pre-upgrade", None, None),
            hook("Job", "a-first", "pre-upgrade", Some("+0"), None),
            hook("Secret", "same", "pre-upgrade", Some("0"), None),
            hook("Job", "notify", "post-upgrade", Some("5"), None),
        ];
        let (hooks, skipped) = parse(&objs);
        assert!(skipped.is_empty());
        assert_eq!(
            names(&for_event(&hooks, HookEvent::PreUpgrade)),
            vec![
                "ServiceAccount/migrator",
                "Job/migrate",
                "Job/a-first",
                "Job/b-second",
                "ConfigMap/same",
                "Secret/same",
            ]
        );
        assert_eq!(
            names(&for_event(&hooks, HookEvent::PreInstall)),
            vec!["ServiceAccount/migrator", "Job/migrate"]
        );
        assert_eq!(
            events(&hooks),
            vec![
                HookEvent::PreInstall,
                HookEvent::PreUpgrade,
                HookEvent::PostUpgrade
            ]
        );
    }

    #[test]
    fn weights_are_read_like_go_atoi() {
        for (w, want) in [
            ("-5", -5),
            ("+7", 7),
            ("12", 12),
            (" 3", 0),
            ("3.5", 0),
            ("x", 0),
            ("", 0),
            ("-", 0),
        ] {
            let h = Hook::of(&hook("Job", "j", "pre-install", Some(w), None))
                .expect("hook")
                .expect("known");
            assert_eq!(h.weight, want, "{w:?}");
        }
    }

    #[test]
    fn delete_policies_default_to_before_hook_creation_and_never_delete_crds() {
        let h = Hook::of(&hook("Job", "j", "test", None, None))
            .expect("hook")
            .expect("ok");
        assert_eq!(h.delete_policies, vec![DeletePolicy::BeforeHookCreation]);
        let h = Hook::of(&hook(
            "Job",
            "j",
            "test",
            None,
            Some("hook-succeeded, HOOK-FAILED"),
        ))
        .expect("hook")
        .expect("ok");
        assert_eq!(
            h.delete_policies,
            vec![DeletePolicy::HookSucceeded, DeletePolicy::HookFailed]
        );
        assert!(!h.has_policy(DeletePolicy::BeforeHookCreation));
        let mut crd = hook("Job", "c", "pre-install", None, Some("hook-succeeded"));
        crd.kind = "CustomResourceDefinition".into();
        let h = Hook::of(&crd).expect("hook").expect("ok");
        assert!(!h.has_policy(DeletePolicy::HookSucceeded));
    }

    #[test]
    fn a_hook_pod_is_done_when_it_succeeds_not_when_it_runs() {
        let running = json!({"metadata": {"name": "t"}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(matches!(
            hook_health("Pod", &running, &[], 3),
            Health::InProgress { .. }
        ));
        let done = json!({"status": {"phase": "Succeeded"}});
        assert_eq!(hook_health("Pod", &done, &[], 3), Health::Current);
        let pulling = json!({"metadata": {"name": "t"}, "status": {"phase": "Pending", "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}});
        assert!(hook_health("Pod", &pulling, &[], 3).is_failed());
        let job = json!({"status": {"startTime": "t", "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "m"}]}});
        assert!(hook_health("Job", &job, &[], 3).is_failed());
        assert_eq!(
            hook_health("ServiceAccount", &json!({}), &[], 3),
            Health::Current
        );
    }

    #[test]
    fn an_unknown_event_makes_helm_skip_the_object_and_test_success_is_test() {
        let (hooks, skipped) = parse(&[
            hook("Job", "old", "crd-install", None, None),
            hook("Pod", "t", "test-success", None, None),
        ]);
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].to_string().contains("crd-install"));
        assert_eq!(hooks[0].events, vec![HookEvent::Test]);
        assert!(hooks[0].runs());
    }
}
