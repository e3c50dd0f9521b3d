//! Terminal events in the console's own terms: crossterm's key events become [`Key`]s, so
//! that `update` and the tests never see the terminal library; and where events come from
//! (the terminal, or a test's channel).

use crate::tui::keymap::{Key, KeyCode};
use crossterm::event::{Event, KeyEventKind, KeyModifiers};
use futures::StreamExt;
use tokio::sync::mpsc;

/// What the terminal said that the console cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEvent {
    Key(Key),
    Resize(u16, u16),
}

/// A crossterm event as an [`InputEvent`]; None for what the console ignores (key releases,
/// focus, mouse, paste).
pub fn from_crossterm(ev: &Event) -> Option<InputEvent> {
    match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => {
            use crossterm::event::KeyCode as C;
            let code = match k.code {
                C::Char(c) => KeyCode::Char(c),
                C::Enter => KeyCode::Enter,
                C::Esc => KeyCode::Esc,
                C::Tab => KeyCode::Tab,
                C::BackTab => KeyCode::BackTab,
                C::Up => KeyCode::Up,
                C::Down => KeyCode::Down,
                C::Left => KeyCode::Left,
                C::Right => KeyCode::Right,
                C::PageUp => KeyCode::PageUp,
                C::PageDown => KeyCode::PageDown,
                C::Home => KeyCode::Home,
                C::End => KeyCode::End,
                C::Backspace => KeyCode::Backspace,
                C::Delete => KeyCode::Delete,
                _ => return None,
            };
            Some(InputEvent::Key(Key {
                code,
                ctrl: k.modifiers.contains(KeyModifiers::CONTROL),
            }))
        }
        Event::Resize(w, h) => Some(InputEvent::Resize(*w, *h)),
        _ => None,
    }
}

/// Where terminal events come from: the real terminal, or a test's script.
pub trait InputSource: Send {
    /// The next event; None when the source has ended.
    fn next(&mut self) -> impl std::future::Future<Output = Option<InputEvent>> + Send;
}

/// Keys and resizes from the terminal (crossterm's event stream needs a TTY).
pub struct TerminalInput(crossterm::event::EventStream);

impl TerminalInput {
    pub fn new() -> Self {
        TerminalInput(crossterm::event::EventStream::new())
    }
}

impl Default for TerminalInput {
    fn default() -> Self {
        TerminalInput::new()
    }
}

impl InputSource for TerminalInput {
    async fn next(&mut self) -> Option<InputEvent> {
        loop {
            match self.0.next().await? {
                Ok(ev) => {
                    if let Some(e) = from_crossterm(&ev) {
                        return Some(e);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "terminal input failed");
                    return None;
                }
            }
        }
    }
}

/// Events fed by a test (or any other task).
pub struct ChannelInput(pub mpsc::Receiver<InputEvent>);

impl InputSource for ChannelInput {
    async fn next(&mut self) -> Option<InputEvent> {
        self.0.recv().await
    }
}
