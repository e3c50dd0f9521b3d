//! Colours and styles; `NO_COLOR` gives a monochrome theme that keeps meaning through
//! bold, reverse and symbols.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colours when `color`, else monochrome (the edge decides, from `NO_COLOR`).
    pub fn with_color(color: bool) -> Theme {
        Theme { color }
    }

    pub fn monochrome() -> Theme {
        Theme { color: false }
    }

    pub fn colored() -> Theme {
        Theme { color: true }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn base(&self) -> Style {
        Style::default()
    }
    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray)
    }
    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn bar(&self) -> Style {
        if self.color {
            Style::default().bg(Color::Blue).fg(Color::White)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }
    pub fn selected(&self) -> Style {
        if self.color {
            Style::default()
                .bg(Color::DarkGray)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan)
        } else {
            self.fg(Color::DarkGray)
        }
    }
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn yaml_key(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn yaml_string(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn yaml_number(&self) -> Style {
        self.fg(Color::Magenta)
    }
    pub fn comment(&self) -> Style {
        self.fg(Color::DarkGray).add_modifier(Modifier::ITALIC)
    }
    pub fn insert(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn delete(&self) -> Style {
        self.fg(Color::Red)
    }
    pub fn hunk(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn header(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub fn canary(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn secret(&self) -> Style {
        self.fg(Color::Magenta)
    }
}
