//! Messages in (keys, ticks, I/O results) and effects out (work for the executor).
//! Results carry the generation of their request; stale ones are dropped by `update`.

use super::keymap::Key;
use super::state::{
    Connection, DiffView, EventKind, HistoryEntry, KubeEvent, Preview, Problem, ReleaseRow,
    RolloutSnapshot,
};
use crate::domain::act::Act;
use crate::domain::run::{Status, StrategyKind};

#[derive(Debug, Clone)]
pub enum Msg {
    Key(Key),
    Resize(u16, u16),
    /// Twice a second, on start, and when a debounce asks for the time: the wall clock.
    Tick {
        now_ms: u64,
        clock: String,
    },
    Connection(Connection),
    PreviewLoaded {
        gen: u64,
        result: Result<Preview, Problem>,
    },
    /// Bytes of a chart or values download for the preview of generation `gen` (sources
    /// report through this while they fetch; the preview's result ends it).
    SourceProgress {
        gen: u64,
        done: u64,
        total: Option<u64>,
    },
    DiffLoaded {
        gen: u64,
        result: Result<DiffView, Problem>,
    },
    /// The launch dialog's Changes line (see `Effect::LoadChanges`).
    ChangesLoaded {
        gen: u64,
        result: Result<crate::domain::diff::DiffCounts, Problem>,
    },
    HistoryLoaded {
        gen: u64,
        result: Result<Vec<HistoryEntry>, Problem>,
    },
    ReleasesLoaded {
        gen: u64,
        result: Result<Vec<ReleaseRow>, Problem>,
    },
    /// A line of a drive's progress (already redacted).
    RunProgress {
        gen: u64,
        kind: EventKind,
        text: String,
    },
    /// A timed pause of this console's drive counting down (about once a second).
    PauseTick {
        gen: u64,
        index: usize,
        elapsed_ms: u64,
        total_ms: u64,
    },
    /// A drive stopped: finished, at a manual pause, or with an error.
    RunEnded {
        gen: u64,
        result: Result<RunEnd, Problem>,
    },
    /// New lines of the followed pod's log (or why it stopped).
    LogLines {
        gen: u64,
        lines: Vec<String>,
        error: Option<String>,
    },
    RolloutUpdated {
        gen: u64,
        snapshot: Box<RolloutSnapshot>,
    },
    /// The newest Kubernetes Events about the watched release (oldest first).
    ClusterEvents {
        gen: u64,
        events: Vec<KubeEvent>,
    },
    /// Releases changed elsewhere (the demo's first deploys): reload the release list.
    Reload,
    /// Something worth a line in the status bar.
    Notice {
        text: String,
        error: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd {
    pub revision: Option<u32>,
    pub status: Option<Status>,
    pub strategy: Option<StrategyKind>,
    pub paused: bool,
    pub note: String,
    /// When the drive ended (ms since the epoch): fresher than a record read before it.
    pub at_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadPreview {
        gen: u64,
        service: String,
        env: String,
    },
    LoadDiff {
        gen: u64,
        service: String,
        env: String,
        /// Against this recorded revision; None: against the live cluster.
        against: Option<u32>,
    },
    /// What deploying with `sets` would change against the live cluster (the launch
    /// dialog's Changes line); `sets` as the deploy would get them.
    LoadChanges {
        gen: u64,
        service: String,
        env: String,
        sets: Vec<String>,
    },
    LoadHistory {
        gen: u64,
        service: String,
        env: String,
    },
    LoadReleases {
        gen: u64,
        env: String,
    },
    /// Start (and keep) the live watch of a release for the rollout view.
    WatchRelease {
        gen: u64,
        service: String,
        env: String,
    },
    /// Deploy, promote, roll back or abort: a drive of this console (one per release; a
    /// new one for the same release replaces it).
    Act {
        gen: u64,
        service: String,
        env: String,
        act: Act,
    },
    /// Follow the log of `pod` (replacing any followed log).
    FollowLogs {
        gen: u64,
        service: String,
        env: String,
        pod: String,
    },
    StopLogs,
    Quit,
}
