//! Popups over the screen: launch dialog, confirmations, help.

pub mod confirm;
pub mod help;
pub mod launch;

use crate::tui::state::{Popup, State};
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::Frame;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    match &state.popup {
        Some(Popup::Launch(d)) => launch::draw(d, theme, frame, area),
        Some(Popup::Confirm(c)) => confirm::draw(c, theme, frame, area),
        Some(Popup::Help) => help::draw(state, theme, frame, area),
        None => {}
    }
}
