//! Mode + key → Action. The footer and the `?` help are generated from this table, so what
//! is shown is what works.

use super::action::Action;

/// A key press, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyCode {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Backspace,
    Delete,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    pub const fn char(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }

    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    /// How the key is written in the footer and the help.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "enter".into(),
            KeyCode::Esc => "esc".into(),
            KeyCode::Tab => "tab".into(),
            KeyCode::BackTab => "S-tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "pgup".into(),
            KeyCode::PageDown => "pgdn".into(),
            KeyCode::Home => "home".into(),
            KeyCode::End => "end".into(),
            KeyCode::Backspace => "bksp".into(),
            KeyCode::Delete => "del".into(),
        };
        if self.ctrl {
            format!("C-{base}")
        } else {
            base
        }
    }
}

/// Which keymap is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Services, environments, releases and the preview tabs.
    Browse,
    /// A run's live view.
    Rollout,
    /// A yes/no question.
    Confirm,
    /// The help overlay.
    Help,
}

impl Mode {
    pub fn title(self) -> &'static str {
        match self {
            Mode::Browse => "Browse",
            Mode::Rollout => "Rollout",
            Mode::Confirm => "Confirm",
            Mode::Help => "Help",
        }
    }
}

/// One binding: in `mode`, `key` means `action`; `help` says so; `footer` keeps it short.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub mode: Mode,
    pub key: Key,
    pub action: Action,
    pub help: &'static str,
    /// The footer's short label; empty: not in the footer.
    pub footer: &'static str,
}

const fn b(
    mode: Mode,
    key: Key,
    action: Action,
    help: &'static str,
    footer: &'static str,
) -> Binding {
    Binding {
        mode,
        key,
        action,
        help,
        footer,
    }
}

use KeyCode as K;
use Mode::*;

/// The default keymap (DESIGN.md "Screens").
pub const DEFAULT: &[Binding] = &[
    b(Browse, Key::char('j'), Action::Down, "move down", ""),
    b(Browse, Key::plain(K::Down), Action::Down, "move down", ""),
    b(Browse, Key::char('k'), Action::Up, "move up", ""),
    b(Browse, Key::plain(K::Up), Action::Up, "move up", ""),
    b(
        Browse,
        Key::plain(K::PageDown),
        Action::PageDown,
        "page down",
        "",
    ),
    b(Browse, Key::plain(K::PageUp), Action::PageUp, "page up", ""),
    b(Browse, Key::char('g'), Action::Top, "first", ""),
    b(Browse, Key::char('G'), Action::Bottom, "last", ""),
    b(
        Browse,
        Key::plain(K::BackTab),
        Action::PrevPane,
        "previous pane",
        "",
    ),
    b(Browse, Key::char(']'), Action::NextTab, "next tab", ""),
    b(Browse, Key::char('['), Action::PrevTab, "previous tab", ""),
    b(
        Browse,
        Key::plain(K::Right),
        Action::NextTab,
        "next tab",
        "",
    ),
    b(
        Browse,
        Key::plain(K::Left),
        Action::PrevTab,
        "previous tab",
        "",
    ),
    b(Browse, Key::char('1'), Action::Tab(0), "Manifests tab", ""),
    b(Browse, Key::char('2'), Action::Tab(1), "Values tab", ""),
    b(Browse, Key::char('3'), Action::Tab(2), "Diff tab", ""),
    b(Browse, Key::char('4'), Action::Tab(3), "History tab", ""),
    b(
        Browse,
        Key::char('d'),
        Action::OpenLaunch,
        "deploy (launch dialog)",
        "deploy",
    ),
    b(
        Browse,
        Key::char('o'),
        Action::OpenRollout,
        "open the rollout view",
        "rollout",
    ),
    b(
        Browse,
        Key::char('P'),
        Action::Promote,
        "promote the active run",
        "promote",
    ),
    b(
        Browse,
        Key::char('R'),
        Action::Rollback,
        "roll back",
        "rollback",
    ),
    b(
        Browse,
        Key::char('A'),
        Action::Abort,
        "abort the active run",
        "abort",
    ),
    b(
        Browse,
        Key::char('/'),
        Action::Filter,
        "filter (fuzzy)",
        "filter",
    ),
    b(
        Browse,
        Key::char('v'),
        Action::ToggleDiffBase,
        "diff: live ↔ last revision",
        "",
    ),
    b(
        Browse,
        Key::char(':'),
        Action::Palette,
        "command palette (:deploy, :env x)",
        "",
    ),
    b(Browse, Key::char('r'), Action::Refresh, "refresh", ""),
    b(Browse, Key::char('?'), Action::Help, "help", "help"),
    b(Browse, Key::char('q'), Action::Quit, "quit", "quit"),
    b(Browse, Key::ctrl('c'), Action::Quit, "quit", ""),
    b(
        Browse,
        Key::plain(K::Enter),
        Action::Open,
        "open / select",
        "open",
    ),
    b(
        Browse,
        Key::plain(K::Tab),
        Action::NextPane,
        "next pane",
        "pane",
    ),
    b(
        Rollout,
        Key::char('P'),
        Action::Promote,
        "promote",
        "promote",
    ),
    b(
        Rollout,
        Key::char('R'),
        Action::Rollback,
        "roll back",
        "rollback",
    ),
    b(Rollout, Key::char('A'), Action::Abort, "abort", "abort"),
    b(
        Rollout,
        Key::char('L'),
        Action::Logs,
        "follow the selected pod's logs",
        "logs",
    ),
    b(
        Rollout,
        Key::char('g'),
        Action::GateDetail,
        "gate measurements ↔ run events",
        "gate",
    ),
    b(
        Rollout,
        Key::char('e'),
        Action::ClusterEvents,
        "Kubernetes events ↔ run events (narrow screens)",
        "",
    ),
    b(Rollout, Key::char('j'), Action::Down, "next pod", ""),
    b(Rollout, Key::plain(K::Down), Action::Down, "next pod", ""),
    b(Rollout, Key::char('k'), Action::Up, "previous pod", ""),
    b(Rollout, Key::plain(K::Up), Action::Up, "previous pod", ""),
    b(
        Rollout,
        Key::plain(K::PageDown),
        Action::PageDown,
        "page down",
        "",
    ),
    b(
        Rollout,
        Key::plain(K::PageUp),
        Action::PageUp,
        "page up",
        "",
    ),
    b(
        Rollout,
        Key::char('d'),
        Action::OpenLaunch,
        "deploy again",
        "",
    ),
    b(
        Rollout,
        Key::plain(K::Esc),
        Action::Back,
        "back to browse",
        "back",
    ),
    b(
        Rollout,
        Key::char(':'),
        Action::Palette,
        "command palette",
        "",
    ),
    b(Rollout, Key::char('?'), Action::Help, "help", "help"),
    b(Rollout, Key::char('q'), Action::Quit, "quit", "quit"),
    b(Rollout, Key::ctrl('c'), Action::Quit, "quit", ""),
    b(
        Confirm,
        Key::char('y'),
        Action::Confirm,
        "yes, do it",
        "yes",
    ),
    b(
        Confirm,
        Key::plain(K::Enter),
        Action::Confirm,
        "yes, do it",
        "",
    ),
    b(Confirm, Key::char('n'), Action::Cancel, "no", "no"),
    b(Confirm, Key::plain(K::Esc), Action::Cancel, "no", ""),
    b(Confirm, Key::ctrl('c'), Action::Quit, "quit", ""),
    b(
        Help,
        Key::plain(K::Esc),
        Action::Back,
        "close help",
        "close",
    ),
    b(Help, Key::char('?'), Action::Back, "close help", ""),
    b(Help, Key::char('q'), Action::Back, "close help", ""),
    b(Help, Key::ctrl('c'), Action::Quit, "quit", ""),
];

/// The action of `key` in `mode`, if any.
pub fn lookup(mode: Mode, key: Key) -> Option<Action> {
    DEFAULT
        .iter()
        .find(|b| b.mode == mode && b.key == key)
        .map(|b| b.action)
}

/// The footer of `mode`: one `key label` pair per footer binding.
pub fn footer(mode: Mode) -> Vec<(String, &'static str)> {
    DEFAULT
        .iter()
        .filter(|b| b.mode == mode && !b.footer.is_empty())
        .map(|b| (b.key.label(), b.footer))
        .collect()
}

/// Every binding of `mode`, keys of one action joined (`j/↓  move down`).
pub fn help(mode: Mode) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for bnd in DEFAULT.iter().filter(|b| b.mode == mode) {
        if let Some(e) = out.iter_mut().find(|(_, h)| *h == bnd.help) {
            e.0.push('/');
            e.0.push_str(&bnd.key.label());
        } else {
            out.push((bnd.key.label(), bnd.help));
        }
    }
    out
}
