//! Progress: spinners on a terminal, plain timestamped lines otherwise (CI, pipes).

use std::io::IsTerminal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};

/// Reports steps of a long operation on standard error.
pub(crate) struct Progress {
    tty: bool,
    bar: Option<ProgressBar>,
    last_line: std::time::Instant,
}

/// `HH:MM:SS` in UTC.
fn clock() -> String {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

impl Progress {
    /// Spinners only when standard error is a terminal and `quiet` is off.
    pub(crate) fn new(quiet: bool) -> Self {
        Progress {
            tty: !quiet && std::io::stderr().is_terminal(),
            bar: None,
            last_line: std::time::Instant::now(),
        }
    }
    /// Starts a step.
    pub(crate) fn start(&mut self, msg: &str) {
        self.finish_bar();
        if self.tty {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b.set_message(msg.to_string());
            self.bar = Some(b);
        } else {
            self.last_line = std::time::Instant::now();
            eprintln!("{} {msg}", clock());
        }
    }
    /// Updates the current step (plain output: at most one line every ten seconds).
    pub(crate) fn update(&mut self, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(msg.to_string()),
            None if self.last_line.elapsed() >= Duration::from_secs(10) => {
                self.last_line = std::time::Instant::now();
                eprintln!("{}   {msg}", clock());
            }
            None => {}
        }
    }
    /// A line of its own, during the current step.
    pub(crate) fn note(&mut self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(msg),
            None => eprintln!("{} {msg}", clock()),
        }
    }
    /// Ends the current step with a line.
    pub(crate) fn done(&mut self, msg: &str) {
        match self.bar.take() {
            Some(b) => b.finish_with_message(msg.to_string()),
            None => eprintln!("{} {msg}", clock()),
        }
    }
    fn finish_bar(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish_bar();
    }
}
