//! Progress bars (indicatif) on standard error, shown only to a person: when standard
//! output is a terminal and the output is not JSON.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Makes bars that are drawn, or hidden ones that draw nothing.
pub struct Progress {
    shown: bool,
}

/// One bar or spinner; lines printed through it appear above it, or on standard output
/// when it is hidden.
pub struct Bar {
    bar: ProgressBar,
    shown: bool,
}

impl Progress {
    /// Bars shown when `wanted` and standard output is a terminal.
    pub fn new(wanted: bool) -> Self {
        Progress {
            shown: wanted && std::io::stdout().is_terminal(),
        }
    }

    /// A spinner with `message`, for work of unknown length.
    pub fn spinner(&self, message: &str) -> Bar {
        let bar = self.bar(ProgressBar::new_spinner());
        bar.bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("a valid template"),
        );
        bar.bar.set_message(message.to_owned());
        bar.bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }

    /// A bar of `steps` steps, with the current step as its message.
    pub fn steps(&self, steps: u64) -> Bar {
        let bar = self.bar(ProgressBar::new(steps));
        bar.bar.set_style(
            ProgressStyle::with_template("[{bar:30}] {pos}/{len} {wide_msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar
    }

    fn bar(&self, bar: ProgressBar) -> Bar {
        Bar {
            bar: if self.shown {
                bar
            } else {
                ProgressBar::hidden()
            },
            shown: self.shown,
        }
    }
}

impl Bar {
    /// Sets the bar's message.
    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Advances the bar.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Prints `line` above the bar, or to standard output when the bar is hidden.
    pub fn println(&self, line: String) {
        if self.shown {
            self.bar.println(line);
        } else {
            println!("{line}");
        }
    }

    /// Removes the bar.
    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }
}
