//! What the user meant, independent of the key that said it.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Left,
    Right,
    Open,
    Back,
    NextPane,
    PrevPane,
    NextTab,
    PrevTab,
    Tab(usize),
    OpenLaunch,
    Promote,
    Rollback,
    Abort,
    OpenRollout,
    Logs,
    /// The gate's measurements instead of the run's events.
    GateDetail,
    /// Kubernetes Events instead of the run's events (narrow screens).
    ClusterEvents,
    Filter,
    Palette,
    ToggleDiffBase,
    Help,
    Refresh,
    Confirm,
    Cancel,
}
