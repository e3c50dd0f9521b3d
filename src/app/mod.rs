//! The console's loop — the only place where the TUI meets I/O: terminal events and I/O
//! messages in, effects out to the executor's tasks, one draw after the queue is drained.
//! `executor` holds one slot per kind of job, `jobs` one async function per effect; the
//! terminal, the keymap file and `NO_COLOR` are read here, at the edge.

pub mod executor;
pub mod input;
pub mod jobs;

pub use executor::Executor;
pub use input::{ChannelInput, InputEvent, InputSource, TerminalInput};

use crate::cli::{CmdResult, Exit, Failure};
use crate::config::Config;
use crate::tui::keymap::{Keymap, KeymapError};
use crate::tui::{update, Msg, State, Theme};
use ratatui::backend::Backend;
use ratatui::Terminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Capacity of the message channel: results queue here until the loop drains them.
pub const CHANNEL: usize = 1024;

fn now_ms() -> u64 {
    crate::engine::now_ms()
}

fn clock() -> String {
    let now = k8s_openapi::jiff::Zoned::now();
    now.strftime("%H:%M:%S").to_string()
}

fn tick() -> Msg {
    Msg::Tick {
        now_ms: now_ms(),
        clock: clock(),
    }
}

/// Applies a message and hands its effects to the executor.
pub fn dispatch(state: &mut State, exec: &mut Executor, msg: Msg) {
    for effect in update::update(state, msg) {
        exec.run(effect);
    }
}

/// The loop: draw, wait for an input event, a message or the clock, update, repeat.
/// Ends when the state asks to quit, the input ends, or SIGTERM arrives.
pub async fn run_loop<B: Backend, I: InputSource>(
    terminal: &mut Terminal<B>,
    mut input: I,
    state: &mut State,
    exec: &mut Executor,
    rx: &mut mpsc::Receiver<Msg>,
    theme: Theme,
) -> Result<(), String> {
    for effect in update::init(state) {
        exec.run(effect);
    }
    dispatch(state, exec, tick());
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
    loop {
        terminal
            .draw(|f| crate::tui::ui::draw(state, &theme, f))
            .map_err(|e| format!("cannot draw: {e}"))?;
        if state.shell.quit {
            return Ok(());
        }
        // A debounce (the launch dialog's --set) wants a tick before the regular one.
        let wake =
            update::wake_at(state).map(|at| Duration::from_millis(at.saturating_sub(now_ms())));
        tokio::select! {
            ev = input.next() => match ev {
                Some(InputEvent::Key(k)) => dispatch(state, exec, Msg::Key(k)),
                Some(InputEvent::Resize(w, h)) => dispatch(state, exec, Msg::Resize(w, h)),
                None => return Ok(()),
            },
            Some(msg) = rx.recv() => dispatch(state, exec, msg),
            _ = ticker.tick() => dispatch(state, exec, tick()),
            _ = tokio::time::sleep(wake.unwrap_or(Duration::from_secs(3600))), if wake.is_some() => {
                dispatch(state, exec, tick())
            }
            _ = term.recv() => return Ok(()),
        }
        while let Ok(msg) = rx.try_recv() {
            dispatch(state, exec, msg);
        }
    }
}

/// The user's keymap file: `$HELMDECK_KEYMAP`, else `<config dir>/keymap.yaml`.
pub fn user_keymap_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HELMDECK_KEYMAP").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    directories::ProjectDirs::from("io", "helmdeck", "helmdeck")
        .map(|d| d.config_dir().join("keymap.yaml"))
}

/// The default keys with the user's file on top, when it exists.
pub fn load_keymap(user_file: Option<&Path>) -> Result<Keymap, KeymapError> {
    let k = Keymap::defaults();
    let Some(p) = user_file.filter(|p| p.exists()) else {
        return Ok(k);
    };
    let text = std::fs::read_to_string(p).map_err(|e| KeymapError {
        file: p.display().to_string(),
        line: 0,
        message: format!("cannot read it: {e}"),
        hint: "fix its permissions or remove it to use the default keys".into(),
    })?;
    Keymap::parse(&text, &p.display().to_string(), Some(k))
}

/// Work the console starts beside the loop (the demo's first deploys), given the
/// executor's clients and the message channel.
pub type Beside = Box<
    dyn FnOnce(crate::engine::sessions::Sessions, mpsc::Sender<Msg>) -> tokio::task::JoinHandle<()>
        + Send,
>;

/// Runs the console on a real terminal; restores it on exit, error and panic.
pub async fn on_terminal(cfg: Config, beside: Option<Beside>) -> CmdResult {
    let theme = Theme::with_color(std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()));
    // A bad keymap stops here, before the terminal is taken over.
    let keymap = load_keymap(user_keymap_path().as_deref()).map_err(|e| {
        Failure::new(
            Exit::BadInput,
            format!("{}:{}: {}", e.file, e.line, e.message),
            e.hint,
        )
    })?;
    let (tx, mut rx) = mpsc::channel(CHANNEL);
    let mut state = crate::tui::rows::console_state(&cfg);
    state.shell.color = theme.color;
    state.shell.keymap = Arc::new(keymap);
    let mut exec = Executor::new(cfg, tx.clone());
    let mut terminal = ratatui::try_init().map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot open the terminal: {e}"),
            "run helmdeck in an interactive terminal (headless commands work anywhere)",
        )
    })?;
    let beside = beside.map(|f| f(exec.sessions().clone(), tx));
    let result = run_loop(
        &mut terminal,
        TerminalInput::new(),
        &mut state,
        &mut exec,
        &mut rx,
        theme,
    )
    .await;
    ratatui::restore();
    if let Some(t) = beside {
        t.abort();
    }
    if !exec.driving().is_empty() {
        eprintln!("stopping the console's drives at a safe point…");
    }
    for line in exec.shutdown(Duration::from_secs(20)).await {
        eprintln!("{line}");
    }
    drop(exec);
    result.map_err(|e| Failure::new(Exit::Failed, e, "see the log in the data directory"))?;
    Ok(Exit::Done)
}

/// `helmdeck [--config FILE]`: the console on a configuration.
pub async fn console(config: Option<&Path>) -> CmdResult {
    let cfg = crate::config::discover(config)?;
    on_terminal(cfg, None).await
}
