//! Progress bars for long steps, quiet when not attached to a terminal or when asked.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether bars are drawn; library users and tests get none by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Progress {
    #[default]
    Hidden,
    /// Draw on stderr (hidden automatically when stderr is not a terminal).
    Bars,
}

impl Progress {
    /// A bar of `len` steps with a message, or a hidden bar.
    pub fn bar(self, len: u64, message: &str) -> ProgressBar {
        let bar = match self {
            Progress::Hidden => {
                ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden())
            }
            Progress::Bars => ProgressBar::new(len),
        };
        let style = ProgressStyle::with_template(
            "{msg:>24} [{bar:32.cyan/blue}] {human_pos}/{human_len} ({elapsed}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(message.to_owned());
        bar
    }

    /// A spinner for steps of unknown length.
    pub fn spinner(self, message: &str) -> ProgressBar {
        let bar = match self {
            Progress::Hidden => ProgressBar::hidden(),
            Progress::Bars => ProgressBar::new_spinner(),
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }
}
