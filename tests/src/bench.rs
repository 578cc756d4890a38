//! What the benchmark binaries (`signet-bench`, `signet-tray-bench`, `signet-switcher-bench`) share: statistics of timings, how a
//! timing is printed, and the command line's `--flag value` reading.

use std::time::Duration;

/// Median and p10–p90 of timings, with the samples in the order they were taken (round `i` of every
/// program is `samples[i]`). No samples: every figure is zero and `runs` is 0.
#[derive(Debug, Clone)]
pub struct Stats {
    pub runs: usize,
    pub median: Duration,
    pub p10: Duration,
    pub p90: Duration,
    pub samples: Vec<Duration>,
}

impl Stats {
    pub fn of(samples: Vec<Duration>) -> Stats {
        let mut sorted = samples.clone();
        sorted.sort();
        let at = |q: f64| {
            sorted
                .get((sorted.len().saturating_sub(1) as f64 * q).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        Stats {
            runs: samples.len(),
            median: at(0.5),
            p10: at(0.1),
            p90: at(0.9),
            samples,
        }
    }

    /// The timings as the tables print them: `median (p10–p90), n=runs`; one sample alone as
    /// `median, n=1`; `?` without samples.
    pub fn spread(&self) -> String {
        match self.runs {
            0 => "?".into(),
            1 => format!("{}, n=1", ms(self.median)),
            runs => format!(
                "{} ({}–{}), n={runs}",
                ms(self.median),
                ms(self.p10),
                ms(self.p90)
            ),
        }
    }
}

/// A timing for the tables: two decimals under 10 ms, one above.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// A benchmark's command line: `-h`/`--help` prints `usage` and exits; `--keep` is returned as `true`;
/// every other flag takes one value and goes to `set`, which says why a flag or value is wrong. A wrong
/// command line ends the program with the reason and `usage`.
pub fn parse_flags(
    program: &str,
    usage: &str,
    mut set: impl FnMut(&str, String) -> Result<(), String>,
) -> bool {
    let mut keep = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{usage}");
            std::process::exit(0);
        }
        if flag == "--keep" {
            keep = true;
            continue;
        }
        let Some(value) = args.next() else {
            fail(program, usage, &format!("{flag} needs a value"))
        };
        if let Err(why) = set(&flag, value) {
            fail(program, usage, &why);
        }
    }
    keep
}

/// A positive count given to `flag`.
pub fn count(flag: &str, value: &str) -> Result<usize, String> {
    value
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{flag}: not a positive number: {value}"))
}

/// Ends the program: `program: msg`, then the usage.
pub fn fail(program: &str, usage: &str, msg: &str) -> ! {
    eprintln!("{program}: {msg}\n{usage}");
    std::process::exit(1)
}
