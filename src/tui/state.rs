//! What the screen shows: plain data, filled by `update` from messages, read by `ui`.
//! Fixture states for tests are built from these types directly.

use crate::domain::act::Act;
use crate::domain::diff::{DiffCounts, LineTag};
use crate::domain::gate::GateRecord;
use crate::domain::run::{CanaryStep, Outcome, Reverse, Status, StrategyKind};
use crate::domain::strategy::Track;
use crate::domain::values::LayerKind;
use crate::tui::keymap::Mode;
use tui_input::Input;

/// A configured service, as the navigation lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceInfo {
    pub name: String,
    pub release: String,
    pub chart: String,
    pub strategy: StrategyKind,
    /// The configured canary steps (empty: the engine's default plan).
    pub canary_steps: Vec<CanaryStep>,
    /// Blue/green promotes without waiting for the operator.
    pub auto_promote: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnvInfo {
    pub name: String,
    pub context: String,
    pub namespace: String,
    pub protected: bool,
    pub auto_rollback: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RepoInfo {
    pub name: String,
    pub kind: String,
    pub location: String,
}

/// One release of the selected environment: where its newest run stands.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseRow {
    pub service: String,
    pub revision: Option<u32>,
    pub live_revision: Option<u32>,
    pub status: Option<Status>,
    pub strategy: Option<StrategyKind>,
    pub current_step: Option<String>,
    pub lease_holder: Option<String>,
}

/// The left navigation's sections, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    Services,
    Environments,
    Releases,
    Repositories,
}

impl Section {
    pub const ALL: [Section; 4] = [
        Section::Services,
        Section::Environments,
        Section::Releases,
        Section::Repositories,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::Services => "Services",
            Section::Environments => "Environments",
            Section::Releases => "Releases",
            Section::Repositories => "Repositories",
        }
    }
}

/// Where the keyboard goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Nav(Section),
    Main,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Manifests,
    Values,
    Diff,
    History,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Manifests, Tab::Values, Tab::Diff, Tab::History];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Manifests => "Manifests",
            Tab::Values => "Values",
            Tab::Diff => "Diff",
            Tab::History => "History",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// Why a request of the console failed: what happened, what to do, and what kind of
/// failure it is (the kind decides whether the connection indicator changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub hint: String,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Configuration, values, chart, arguments: the operator fixes the input.
    Input,
    /// The cluster (or a chart repository) cannot be reached.
    Unreachable,
    /// Another operator holds the release.
    Locked,
    /// Anything else that failed (a rollout, an API answer).
    Failed,
}

impl ProblemKind {
    /// Whether this problem says the cluster is out of reach.
    pub fn is_connection(self) -> bool {
        self == ProblemKind::Unreachable
    }
}

impl Problem {
    pub fn new(kind: ProblemKind, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            hint: hint.into(),
            kind,
        }
    }

    /// One line: what happened — what to do.
    pub fn text(&self) -> String {
        if self.hint.is_empty() {
            self.message.clone()
        } else {
            format!("{} — {}", self.message, self.hint)
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// Something loaded in the background: its request generation and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Loadable<T> {
    Idle,
    Loading { gen: u64 },
    Ready { gen: u64, value: T },
    Failed { gen: u64, error: Problem },
}

impl<T> Loadable<T> {
    pub fn gen(&self) -> Option<u64> {
        match self {
            Loadable::Idle => None,
            Loadable::Loading { gen }
            | Loadable::Ready { gen, .. }
            | Loadable::Failed { gen, .. } => Some(*gen),
        }
    }

    pub fn value(&self) -> Option<&T> {
        match self {
            Loadable::Ready { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn is_loading(&self) -> bool {
        matches!(self, Loadable::Loading { .. })
    }

    /// Takes a result if it answers the request in flight; a stale one is dropped.
    pub fn settle(&mut self, gen: u64, result: Result<T, Problem>) -> bool {
        if self.gen() != Some(gen) {
            return false;
        }
        *self = match result {
            Ok(value) => Loadable::Ready { gen, value },
            Err(error) => Loadable::Failed { gen, error },
        };
        true
    }
}

/// One rendered object, safe to show (Secret data masked, secrets redacted).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectEntry {
    pub kind: String,
    pub name: String,
    pub source: Option<String>,
    pub yaml: String,
}

/// One row of the Manifests list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestRow {
    Kind {
        kind: String,
        count: usize,
        folded: bool,
    },
    /// An index into `Preview::objects`.
    Object(usize),
}

/// One line of the Values tab.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueRow {
    pub key: String,
    pub value: String,
    pub layer: LayerKind,
    pub source: String,
    pub line: Option<usize>,
    pub secret: bool,
}

/// The preview of a service in an environment: its objects and values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Preview {
    pub chart: String,
    pub objects: Vec<ObjectEntry>,
    pub values: Vec<ValueRow>,
    pub warnings: Vec<String>,
}

/// The Diff tab: changed objects, each with its unified diff lines (already masked).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DiffView {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub lines: Vec<(LineTag, String)>,
    /// `live` or `r3`.
    pub against: String,
}

/// One revision in the History tab.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub revision: u32,
    pub status: Status,
    pub strategy: StrategyKind,
    pub chart: String,
    pub operator: String,
    pub updated: String,
    pub reason: Option<String>,
}

/// The launch dialog.
#[derive(Debug, Clone)]
pub struct LaunchDialog {
    pub service: String,
    pub env: String,
    pub protected: bool,
    pub strategy: StrategyKind,
    /// The canary steps of this run, as one editable line (see `tui::steps`).
    pub steps: Input,
    /// The service's configured steps (verify steps are kept from here).
    pub configured: Vec<CanaryStep>,
    /// Blue/green: promote without waiting for the operator (this run only).
    pub auto_promote: bool,
    pub configured_auto_promote: bool,
    pub field: LaunchField,
    /// One-off `--set` expressions, separated by spaces.
    pub sets: Input,
    /// The environment's name, typed, when it is protected.
    pub confirm: Input,
    pub error: Option<String>,
    /// The Changes line: the configuration with this dialog's `--set` against the live
    /// cluster (never the Diff tab's, which has no overrides).
    pub changes: Loadable<DiffCounts>,
    /// The `--set` expressions `changes` was asked for.
    pub changes_sets: Vec<String>,
    /// The `--set` text changed: the Changes line is recomputed once typing pauses.
    pub changes_debounce: Option<Debounce>,
}

/// Work waiting for the keyboard to rest, timed by `Msg::Tick`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debounce {
    /// When to do it (ms since the epoch, as ticks tell it); None until the first tick
    /// after the last key, which starts the wait (keys carry no time).
    pub due_ms: Option<u64>,
}

impl LaunchDialog {
    /// A dialog for `service` in `env`, its steps as configured.
    pub fn new(service: &ServiceInfo, env: &EnvInfo) -> LaunchDialog {
        let configured = if service.canary_steps.is_empty() {
            crate::domain::run::default_canary_steps()
        } else {
            service.canary_steps.clone()
        };
        LaunchDialog {
            service: service.name.clone(),
            env: env.name.clone(),
            protected: env.protected,
            strategy: service.strategy,
            steps: Input::new(crate::tui::steps::steps_text(&configured)),
            configured,
            auto_promote: service.auto_promote,
            configured_auto_promote: service.auto_promote,
            field: LaunchField::Strategy,
            sets: Input::default(),
            confirm: Input::default(),
            error: None,
            changes: Loadable::Idle,
            changes_sets: Vec::new(),
            changes_debounce: None,
        }
    }

    /// The fields Tab moves through, for the strategy chosen.
    pub fn fields(&self) -> Vec<LaunchField> {
        let mut f = vec![LaunchField::Strategy];
        match self.strategy {
            StrategyKind::Canary => f.push(LaunchField::Steps),
            StrategyKind::Bluegreen => f.push(LaunchField::AutoPromote),
            StrategyKind::Rolling => {}
        }
        f.push(LaunchField::Sets);
        if self.protected {
            f.push(LaunchField::Confirm);
        }
        f
    }

    /// The overrides text as the run gets it: space-separated `key=value` expressions
    /// (Helm's `--set`), each optionally after one of Helm's other override flags
    /// (`--set-string a=1`, `--set-json=a=[1]`, `--set-file tls.crt=./cert.pem`,
    /// `--set-literal k=v`). Typed `--set` comes out bare, the others as `FLAG EXPR`. The
    /// Changes line and the deploy both read it from here, so they agree.
    pub fn parsed_sets(&self) -> Result<Vec<String>, String> {
        use crate::domain::values::SetKind;
        let mut out = Vec::new();
        let mut words = self.sets.value().split_whitespace();
        while let Some(word) = words.next() {
            let (kind, expr) = match word.split_once('=') {
                Some((flag, rest)) if flag.starts_with("--") => match SetKind::from_flag(flag) {
                    Some(kind) => (kind, Some(rest.to_string())),
                    None => return Err(format!("`{flag}` is not one of Helm's --set flags")),
                },
                _ if word.starts_with("--") => match SetKind::from_flag(word) {
                    Some(kind) => (kind, words.next().map(str::to_string)),
                    None => return Err(format!("`{word}` is not one of Helm's --set flags")),
                },
                _ => (SetKind::Typed, Some(word.to_string())),
            };
            let Some(expr) = expr.filter(|e| e.contains('=') || e.trim_start().starts_with('{'))
            else {
                return Err(if word.starts_with("--") {
                    format!("`{word}` needs key=value after it")
                } else {
                    format!("`{word}` is not key=value (Helm --set syntax)")
                });
            };
            out.push(match kind {
                SetKind::Typed => expr,
                other => format!("{} {expr}", other.flag()),
            });
        }
        Ok(out)
    }

    /// The steps as typed, parsed.
    pub fn parsed_steps(&self) -> Result<Vec<CanaryStep>, String> {
        crate::tui::steps::parse_steps(self.steps.value(), &self.configured)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchField {
    Strategy,
    /// Canary only.
    Steps,
    /// Blue/green only.
    AutoPromote,
    Sets,
    Confirm,
}

/// A one-key confirmation of an act on a release.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmDialog {
    /// What `y` starts: a promote (past a paused gate when it names the gate's check), a
    /// rollback (to a revision chosen in the History tab), an abort.
    pub act: Act,
    pub service: String,
    pub env: String,
    /// What will happen, in one or two sentences.
    pub consequence: String,
}

#[derive(Debug, Clone)]
pub enum Popup {
    Launch(Box<LaunchDialog>),
    Confirm(ConfirmDialog),
    Help,
}

/// A step of the run's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Done,
    Current,
    Failed,
    Pending,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    pub text: String,
    pub state: StepState,
    pub outcome: Option<Outcome>,
}

/// The run as read from its record.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub revision: u32,
    pub strategy: StrategyKind,
    pub status: Status,
    pub steps: Vec<StepRow>,
    pub reason: Option<String>,
    /// Why the run goes backwards, when it does.
    pub reverse: Option<Reverse>,
    pub started_ms: u64,
    /// End of the timed pause in progress.
    pub pause_until_ms: Option<u64>,
    pub operator: String,
    /// The run's newest verification gate (measurements trimmed to the last few per check).
    pub gate: Option<GateRecord>,
    /// The check a run paused at a failed or inconclusive gate stopped on.
    pub paused_gate_check: Option<String>,
}

/// One progress bar: a Deployment's ready pods out of desired.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadBar {
    pub name: String,
    pub track: Track,
    pub ready: u32,
    pub desired: u32,
    pub updated: u32,
}

/// One row of the pod table.
#[derive(Debug, Clone, PartialEq)]
pub struct PodRow {
    pub name: String,
    pub track: Track,
    pub phase: String,
    pub ready: (u32, u32),
    pub restarts: u32,
    pub created_ms: u64,
    /// Why the pod is not well: CrashLoopBackOff, ImagePullBackOff, …
    pub reason: Option<String>,
}

/// What the live watch of a release saw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RolloutSnapshot {
    pub pods: Vec<PodRow>,
    pub workloads: Vec<WorkloadBar>,
    pub run: Option<RunView>,
    /// When `run` was read from the record (ms since the epoch; 0: never).
    pub run_read_ms: u64,
    pub lease_holder: Option<String>,
    pub watch_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Step,
    Info,
    Health,
    Reversing,
    Warning,
    Error,
    Done,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventLine {
    pub at_ms: u64,
    pub kind: EventKind,
    pub text: String,
}

/// The rollout view of one release.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub service: String,
    pub env: String,
    /// Generation of the watch and of the drive started from this view.
    pub gen: u64,
    pub snapshot: RolloutSnapshot,
    pub events: Vec<EventLine>,
    /// A drive of this console is running (a task holds the lease).
    pub driving: bool,
    pub pod_selected: usize,
    /// The log pane, following one pod (`L`).
    pub logs: Option<LogPane>,
    /// How this console's last drive ended: fresher than the record until the watch
    /// re-reads it.
    pub last_end: Option<crate::tui::msg::RunEnd>,
    /// The newest Kubernetes Events about the release's objects, oldest first.
    pub cluster_events: Vec<KubeEvent>,
    /// Narrow screens: the Kubernetes Events replace the run's events (`e`).
    pub show_cluster_events: bool,
    /// The timed pause this console's drive is waiting out, as last ticked.
    pub pause: Option<PauseClock>,
    /// The gate's measurements replace the run's events (`g`, or a run paused at a gate).
    pub show_gate: bool,
}

/// One Kubernetes Event about the release, as the "recent events" pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeEvent {
    pub warning: bool,
    pub reason: String,
    /// `Pod/web-6f5c…`.
    pub object: String,
    pub message: String,
    pub last_ms: u64,
    pub count: u32,
}

/// Where a timed pause stands, from the drive's ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseClock {
    /// The step's index in the plan.
    pub index: usize,
    pub elapsed_ms: u64,
    pub total_ms: u64,
}

/// The last lines of one pod's log, followed live.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPane {
    pub pod: String,
    pub gen: u64,
    pub lines: Vec<String>,
    pub error: Option<String>,
}

pub const MAX_LOG_LINES: usize = 500;

pub const MAX_EVENTS: usize = 200;

/// Cluster connection as last seen.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    Unknown,
    Connected,
    Failing(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    pub text: String,
    pub error: bool,
}

/// Which screen is up (popups draw over it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    /// Navigation and the preview tabs.
    #[default]
    Browse,
    /// The rollout view of `State::rollout` (which may exist behind the browse screen).
    Rollout,
}

/// What the whole console shares, whatever the screen: the configuration's services,
/// environments and repositories, the connection, the status line, the clock, the keymap.
#[derive(Debug, Clone)]
pub struct Shell {
    pub services: Vec<ServiceInfo>,
    pub environments: Vec<EnvInfo>,
    pub repositories: Vec<RepoInfo>,
    pub connection: Connection,
    pub status: Option<StatusLine>,
    pub now_ms: u64,
    pub clock: String,
    pub spinner: usize,
    pub next_gen: u64,
    pub quit: bool,
    pub color: bool,
    /// The command palette (`:`) is being typed.
    pub palette: Option<Input>,
    /// Mode + key → action (defaults and the user's file); the footer and help read it.
    pub keymap: std::sync::Arc<crate::tui::keymap::Keymap>,
}

impl Shell {
    /// A new generation number for a request.
    pub fn gen(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    /// Puts a line on the status bar.
    pub fn say(&mut self, text: impl Into<String>) {
        self.status = Some(StatusLine {
            text: text.into(),
            error: false,
        });
    }

    /// Puts an error on the status bar.
    pub fn complain(&mut self, text: impl Into<String>) {
        self.status = Some(StatusLine {
            text: text.into(),
            error: true,
        });
    }

    /// A problem of a request (what: `preview`, `diff`…) on the status bar; the connection
    /// indicator changes only when the problem is the cluster's reachability.
    pub fn report(&mut self, what: &str, p: &Problem) {
        if p.kind.is_connection() {
            self.connection = Connection::Failing(p.message.clone());
        }
        self.complain(format!("{what}: {}", p.text()));
    }
}

/// The browse screen: the selection in the navigation and the preview tabs' data.
#[derive(Debug, Clone)]
pub struct Browse {
    pub releases: Loadable<Vec<ReleaseRow>>,
    /// Cursor per navigation section.
    pub cursor: [usize; 4],
    /// Index of the selected service and environment in `Shell`'s lists.
    pub service: usize,
    pub env: usize,
    pub focus: Focus,
    pub tab: Tab,
    pub preview: Loadable<Preview>,
    pub diff: Loadable<DiffView>,
    pub history: Loadable<Vec<HistoryEntry>>,
    /// The Diff tab compares with the release's newest recorded revision, not the cluster.
    pub diff_against_revision: bool,
    /// Selected row of the Manifests list (kind headers and objects), and scroll of the
    /// main pane.
    pub object: usize,
    /// Kinds folded in the Manifests list.
    pub folded: Vec<String>,
    pub scroll: usize,
    pub filter: String,
    /// The filter narrows the services (typed in the navigation) rather than the open
    /// tab's list (typed in the main pane).
    pub filter_services: bool,
    /// The filter line is being typed.
    pub filtering: Option<Input>,
    /// A download the preview waits on: (generation, bytes done, bytes expected).
    pub fetching: Option<(u64, u64, Option<u64>)>,
}

impl Default for Browse {
    fn default() -> Self {
        Browse {
            releases: Loadable::Idle,
            cursor: [0; 4],
            service: 0,
            env: 0,
            focus: Focus::Nav(Section::Services),
            tab: Tab::Manifests,
            preview: Loadable::Idle,
            diff: Loadable::Idle,
            history: Loadable::Idle,
            diff_against_revision: false,
            object: 0,
            folded: Vec::new(),
            scroll: 0,
            filter: String::new(),
            filter_services: false,
            filtering: None,
            fetching: None,
        }
    }
}

/// Everything the console shows: what all screens share, each screen's own part, and the
/// popup over them.
#[derive(Debug, Clone)]
pub struct State {
    pub shell: Shell,
    pub browse: Browse,
    pub rollout: Option<Rollout>,
    pub screen: Screen,
    pub popup: Option<Popup>,
}

impl State {
    pub fn new(
        services: Vec<ServiceInfo>,
        environments: Vec<EnvInfo>,
        repositories: Vec<RepoInfo>,
    ) -> State {
        State {
            shell: Shell {
                services,
                environments,
                repositories,
                connection: Connection::Unknown,
                status: None,
                now_ms: 0,
                clock: String::new(),
                spinner: 0,
                next_gen: 1,
                quit: false,
                color: true,
                palette: None,
                keymap: std::sync::Arc::new(crate::tui::keymap::Keymap::defaults()),
            },
            browse: Browse::default(),
            rollout: None,
            screen: Screen::Browse,
            popup: None,
        }
    }

    pub fn gen(&mut self) -> u64 {
        self.shell.gen()
    }

    /// The keymap mode in force: a popup's, else the screen's.
    pub fn mode(&self) -> Mode {
        match &self.popup {
            Some(Popup::Confirm(_)) => Mode::Confirm,
            Some(Popup::Help) => Mode::Help,
            _ if self.showing_rollout() => Mode::Rollout,
            _ => Mode::Browse,
        }
    }

    /// The rollout view is on screen.
    pub fn showing_rollout(&self) -> bool {
        self.screen == Screen::Rollout && self.rollout.is_some()
    }

    pub fn selected_service(&self) -> Option<&ServiceInfo> {
        self.shell.services.get(self.browse.service)
    }

    pub fn selected_env(&self) -> Option<&EnvInfo> {
        self.shell.environments.get(self.browse.env)
    }

    /// The selected service and environment, by name.
    pub fn target(&self) -> Option<(String, String)> {
        Some((
            self.selected_service()?.name.clone(),
            self.selected_env()?.name.clone(),
        ))
    }

    /// The rollout view's release when it is the selected service in the selected
    /// environment.
    pub fn selected_rollout(&self) -> Option<&Rollout> {
        let r = self.rollout.as_ref()?;
        let shown = Some(r.service.as_str()) == self.selected_service().map(|s| s.name.as_str())
            && Some(r.env.as_str()) == self.selected_env().map(|e| e.name.as_str());
        shown.then_some(r)
    }

    /// Indices of the services that pass the filter.
    pub fn visible_services(&self) -> Vec<usize> {
        self.browse.visible_services(&self.shell.services)
    }

    /// Work in flight, for the spinner.
    pub fn pending(&self) -> usize {
        let b = &self.browse;
        [
            b.preview.is_loading(),
            b.diff.is_loading(),
            b.history.is_loading(),
            b.releases.is_loading(),
            self.rollout.as_ref().is_some_and(|r| r.driving),
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }

    /// The release row of the selected service, if loaded.
    pub fn selected_release(&self) -> Option<&ReleaseRow> {
        let svc = self.selected_service()?;
        self.browse
            .releases
            .value()?
            .iter()
            .find(|r| r.service == svc.name)
    }
}

impl Browse {
    /// Indices of the services that pass the filter.
    pub fn visible_services(&self, services: &[ServiceInfo]) -> Vec<usize> {
        let pattern = if self.filter_services {
            self.filter.as_str()
        } else {
            ""
        };
        filtered(pattern, services.iter().map(|s| s.name.as_str()))
    }

    /// Indices of the objects that pass the filter.
    pub fn visible_objects(&self) -> Vec<usize> {
        match self.preview.value() {
            Some(p) => filtered(
                self.main_filter(),
                p.objects.iter().map(|o| format!("{} {}", o.kind, o.name)),
            ),
            None => Vec::new(),
        }
    }

    fn main_filter(&self) -> &str {
        if self.filter_services {
            ""
        } else {
            &self.filter
        }
    }

    /// The Manifests list: objects that pass the filter, grouped under their kind (in order
    /// of first appearance), folded kinds showing their header only.
    pub fn manifest_rows(&self) -> Vec<ManifestRow> {
        let Some(p) = self.preview.value() else {
            return Vec::new();
        };
        let vis = self.visible_objects();
        let mut kinds: Vec<&str> = Vec::new();
        for i in &vis {
            if let Some(o) = p.objects.get(*i) {
                if !kinds.contains(&o.kind.as_str()) {
                    kinds.push(&o.kind);
                }
            }
        }
        let mut rows = Vec::new();
        for kind in kinds {
            let members: Vec<usize> = vis
                .iter()
                .copied()
                .filter(|i| p.objects.get(*i).is_some_and(|o| o.kind == kind))
                .collect();
            let folded = self.folded.iter().any(|k| k == kind);
            rows.push(ManifestRow::Kind {
                kind: kind.to_string(),
                count: members.len(),
                folded,
            });
            if !folded {
                rows.extend(members.into_iter().map(ManifestRow::Object));
            }
        }
        rows
    }

    /// The object shown in the YAML pane: the selected one, or the first of the selected
    /// kind.
    pub fn selected_object(&self) -> Option<usize> {
        let rows = self.manifest_rows();
        match rows.get(self.object.min(rows.len().saturating_sub(1)))? {
            ManifestRow::Object(i) => Some(*i),
            ManifestRow::Kind { kind, .. } => {
                let p = self.preview.value()?;
                self.visible_objects()
                    .into_iter()
                    .find(|i| p.objects.get(*i).is_some_and(|o| &o.kind == kind))
            }
        }
    }

    /// Indices of the value rows that pass the filter.
    pub fn visible_values(&self) -> Vec<usize> {
        match self.preview.value() {
            Some(p) => filtered(self.main_filter(), p.values.iter().map(|v| v.key.as_str())),
            None => Vec::new(),
        }
    }

    /// What the status line says while the preview waits on a download.
    pub fn fetching_text(&self) -> Option<String> {
        let (gen, done, total) = self.fetching?;
        if self.preview.gen() != Some(gen) || !self.preview.is_loading() {
            return None;
        }
        Some(match total {
            Some(t) if t > 0 => format!(
                "fetching {} of {} ({}%)",
                human_bytes(done),
                human_bytes(t),
                done.saturating_mul(100) / t
            ),
            _ => format!("fetching {}", human_bytes(done)),
        })
    }
}

/// Fuzzy subsequence match (case-insensitive): every character of `pattern`, in order.
pub fn fuzzy_match(pattern: &str, text: &str) -> bool {
    let mut chars = text.chars().flat_map(char::to_lowercase);
    pattern
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace())
        .all(|p| chars.any(|c| c == p))
}

fn filtered<S: AsRef<str>>(pattern: &str, items: impl Iterator<Item = S>) -> Vec<usize> {
    items
        .enumerate()
        .filter(|(_, s)| pattern.is_empty() || fuzzy_match(pattern, s.as_ref()))
        .map(|(i, _)| i)
        .collect()
}

/// Bytes for people: `512 B`, `340 KiB`, `1.2 MiB`.
pub fn human_bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if f < KIB {
        format!("{n} B")
    } else if f < KIB * KIB {
        format!("{:.0} KiB", f / KIB)
    } else {
        format!("{:.1} MiB", f / (KIB * KIB))
    }
}
