//! Progress on stderr. On a terminal, indicatif's spinner or bar, redrawn
//! in place. Anywhere else (a CI log, `2>file`) a redrawn bar is garbage
//! and silence looks like a hang, so a plain line every few seconds.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a plain progress line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: ProgressBar,
    /// Off a terminal: when the last plain line was printed.
    plain: Option<Mutex<Instant>>,
    started: Instant,
}

impl Progress {
    fn new(enabled: bool, bar: impl FnOnce() -> ProgressBar) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress {
            bar: if enabled && terminal {
                bar()
            } else {
                ProgressBar::hidden()
            },
            plain: (enabled && !terminal).then(|| Mutex::new(Instant::now())),
            started: Instant::now(),
        }
    }

    /// A spinner with a message, for one check.
    pub fn spinner(enabled: bool, what: &str) -> Progress {
        Progress::new(enabled, || {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .expect("a valid template"),
            );
            pb.set_message(what.to_string());
            pb.enable_steady_tick(Duration::from_millis(120));
            pb
        })
    }

    /// A bar of `len` items, for a batch.
    pub fn bar(enabled: bool, len: u64, unit: &str) -> Progress {
        Progress::new(enabled, || {
            let pb = ProgressBar::new(len);
            pb.set_style(
                ProgressStyle::with_template(&format!(
                    "{{bar:30}} {{pos}}/{{len}} {unit}, {{elapsed}} {{msg}}"
                ))
                .expect("a valid template"),
            );
            pb
        })
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The current state of the work; off a terminal, printed at most
    /// every few seconds.
    pub fn message(&self, msg: String) {
        if let Some(last) = &self.plain {
            let mut last = last.lock().expect("no progress call panics");
            if last.elapsed() >= PLAIN_EVERY {
                *last = Instant::now();
                // A closed stderr (`2>&1 | head`) must not stop the check.
                let _ = writeln!(
                    std::io::stderr(),
                    "insync: {:>5.0} s  {msg}",
                    self.started.elapsed().as_secs_f64()
                );
            }
        }
        self.bar.set_message(msg);
    }

    pub fn inc(&self) {
        self.bar.inc(1);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
