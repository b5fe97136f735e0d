//! loadgen watching itself: when its own CPU use stays above 90% of the cores it can
//! use, response times include time spent waiting for loadgen rather than for the
//! target, and the request rate is capped by loadgen. Locust warns in that case; so does
//! loadgen, once per episode, and the run's outcome and reports carry the warning.
//!
//! Once a second the process's CPU time (`utime + stime` from `/proc/self/stat`) is
//! compared with the wall time that passed and the number of cores the runtime's worker
//! threads can occupy. The arithmetic ([`CpuMonitor`]) is separate from the sampling
//! ([`watch`]), so it is tested on synthetic samples.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Locust's warning text, kept word for word so that people who know Locust recognise it.
pub(crate) const CPU_WARNING: &str = "CPU usage above 90%! This may constrain your throughput and may even give inconsistent response time measurements!";

/// Usage (of the cores available) above which a second counts as saturated.
pub(crate) const CPU_WARNING_THRESHOLD: f64 = 0.90;

/// Saturated seconds in a row before an episode is reported: a single busy second (the
/// start of the run, a burst of new connections) is not yet a constraint.
pub(crate) const SUSTAINED_SECONDS: u32 = 3;

/// Clock ticks per second of `/proc/<pid>/stat`'s times (`USER_HZ`, 100 on every Linux
/// architecture's user ABI).
const USER_HZ: u64 = 100;

/// One reading: CPU time used by the process so far, and when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuSample {
    /// User plus system CPU time of all threads so far.
    pub cpu: Duration,
    /// When it was read.
    pub at: Instant,
}

/// One stretch of time during which loadgen's CPU use stayed above the threshold.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CpuEpisode {
    /// Seconds from the start of monitoring to the first saturated second's start.
    pub start_s: f64,
    /// Seconds from the start of monitoring to the end of the last saturated second
    /// (the end of the run when the episode lasted until then).
    pub end_s: f64,
    /// The highest usage seen in the episode, as a fraction of the available cores
    /// (may exceed 1.0 briefly, from sampling jitter).
    pub peak: f64,
}

/// What the monitor saw over a run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CpuReport {
    /// Cores the usage is measured against (the runtime's worker threads, at most the
    /// cores the process may run on).
    pub cores: usize,
    /// The highest one-second usage, as a fraction of `cores`.
    pub peak: f64,
    /// Mean usage over the whole run, as a fraction of `cores`.
    pub mean: f64,
    /// Episodes of sustained saturation, in order.
    pub episodes: Vec<CpuEpisode>,
}

impl CpuReport {
    /// The warnings to show with the results: Locust's text when any episode occurred,
    /// with how long loadgen was saturated.
    pub fn warnings(&self) -> Vec<String> {
        if self.episodes.is_empty() {
            return Vec::new();
        }
        let seconds: f64 = self.episodes.iter().map(|e| e.end_s - e.start_s).sum();
        vec![format!(
            "{CPU_WARNING} (loadgen used over {:.0}% of {} core(s) for {:.0} s in {} episode(s), peak {:.0}%)",
            CPU_WARNING_THRESHOLD * 100.0,
            self.cores,
            seconds,
            self.episodes.len(),
            self.peak * 100.0
        )]
    }
}

/// The arithmetic of the monitor, fed one sample at a time.
#[derive(Debug, Clone)]
pub(crate) struct CpuMonitor {
    cores: usize,
    first: Option<CpuSample>,
    last: Option<CpuSample>,
    /// Saturated seconds in a row so far, and when the first of them started.
    streak: u32,
    streak_start: Option<Instant>,
    streak_peak: f64,
    /// True while an episode is open (already reported).
    in_episode: bool,
    report: CpuReport,
}

/// What one sample changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CpuEvent {
    /// Nothing to report.
    None,
    /// Usage has now stayed above the threshold long enough: warn (once per episode).
    EpisodeStarted {
        /// Usage over the last interval, as a fraction of the cores.
        usage: f64,
    },
    /// Usage fell back below the threshold.
    EpisodeEnded,
}

impl CpuMonitor {
    /// A monitor measuring against `cores` cores (at least one).
    pub(crate) fn new(cores: usize) -> Self {
        Self {
            cores: cores.max(1),
            first: None,
            last: None,
            streak: 0,
            streak_start: None,
            streak_peak: 0.0,
            in_episode: false,
            report: CpuReport {
                cores: cores.max(1),
                ..CpuReport::default()
            },
        }
    }

    /// Usage between two samples, as a fraction of `cores`; `None` when no wall time
    /// passed.
    pub(crate) fn usage(from: &CpuSample, to: &CpuSample, cores: usize) -> Option<f64> {
        let wall = to.at.checked_duration_since(from.at)?.as_secs_f64();
        if wall <= 0.0 {
            return None;
        }
        let cpu = to.cpu.saturating_sub(from.cpu).as_secs_f64();
        Some(cpu / (wall * cores.max(1) as f64))
    }

    /// Takes the next sample and says whether an episode started or ended.
    pub(crate) fn observe(&mut self, sample: CpuSample) -> CpuEvent {
        let Some(last) = self.last.replace(sample) else {
            self.first = Some(sample);
            return CpuEvent::None;
        };
        let Some(usage) = Self::usage(&last, &sample, self.cores) else {
            return CpuEvent::None;
        };
        self.report.peak = self.report.peak.max(usage);
        if usage > CPU_WARNING_THRESHOLD {
            if self.streak == 0 {
                self.streak_start = Some(last.at);
                self.streak_peak = 0.0;
            }
            self.streak += 1;
            self.streak_peak = self.streak_peak.max(usage);
            if self.in_episode {
                self.extend_episode(sample.at);
                return CpuEvent::None;
            }
            if self.streak >= SUSTAINED_SECONDS {
                self.in_episode = true;
                let start = self.seconds(self.streak_start.unwrap_or(last.at));
                let end = self.seconds(sample.at);
                self.report.episodes.push(CpuEpisode {
                    start_s: start,
                    end_s: end,
                    peak: self.streak_peak,
                });
                return CpuEvent::EpisodeStarted { usage };
            }
            return CpuEvent::None;
        }
        self.streak = 0;
        self.streak_start = None;
        if std::mem::take(&mut self.in_episode) {
            return CpuEvent::EpisodeEnded;
        }
        CpuEvent::None
    }

    fn extend_episode(&mut self, at: Instant) {
        let end = self.seconds(at);
        let peak = self.streak_peak;
        if let Some(e) = self.report.episodes.last_mut() {
            e.end_s = end;
            e.peak = e.peak.max(peak);
        }
    }

    fn seconds(&self, at: Instant) -> f64 {
        self.first
            .and_then(|f| at.checked_duration_since(f.at))
            .map_or(0.0, |d| d.as_secs_f64())
    }

    /// What was seen, with the mean over all samples.
    pub(crate) fn report(&self) -> CpuReport {
        let mut report = self.report.clone();
        if let (Some(first), Some(last)) = (&self.first, &self.last) {
            report.mean = Self::usage(first, last, self.cores).unwrap_or(0.0);
        }
        report
    }
}

/// Reads this process's CPU time so far; `None` where `/proc` is not available.
pub(crate) fn sample() -> Option<CpuSample> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let at = Instant::now();
    let (utime, stime) = parse_stat_times(&text)?;
    let ticks = utime.saturating_add(stime);
    Some(CpuSample {
        cpu: Duration::from_millis(ticks.saturating_mul(1000 / USER_HZ)),
        at,
    })
}

/// `utime` and `stime` (fields 14 and 15, in clock ticks) of a `/proc/<pid>/stat` line.
/// The command name (field 2) is in parentheses and may hold spaces and parentheses, so
/// fields are counted from the last `)`.
pub(crate) fn parse_stat_times(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state is field 3, so utime (14) is the 12th field from here.
    let utime = fields.nth(11)?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// Cores the usage is measured against: the runtime's worker threads, at most the cores
/// this process may run on (a `taskset` narrows them).
pub(crate) fn available_cores() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let workers =
        tokio::runtime::Handle::try_current().map_or(cores, |h| h.metrics().num_workers());
    workers.clamp(1, cores)
}

/// Samples once a second until `halt`, warning once per episode; returns what it saw.
pub(crate) async fn watch(halt: CancellationToken) -> CpuReport {
    let mut monitor = CpuMonitor::new(available_cores());
    let Some(first) = sample() else {
        return monitor.report();
    };
    monitor.observe(first);
    let period = Duration::from_secs(1);
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = halt.cancelled() => break,
            _ = interval.tick() => {}
        }
        let Some(s) = sample() else { break };
        match monitor.observe(s) {
            CpuEvent::EpisodeStarted { usage } => {
                tracing::warn!("{CPU_WARNING} (loadgen at {:.0}%)", usage * 100.0);
            }
            CpuEvent::EpisodeEnded => {
                tracing::info!("CPU usage back below 90%");
            }
            CpuEvent::None => {}
        }
    }
    // The last partial second counts too.
    if let Some(s) = sample() {
        monitor.observe(s);
    }
    monitor.report()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples `usage[i]` of `cores` cores over consecutive one-second intervals.
    fn feed(monitor: &mut CpuMonitor, cores: usize, usage: &[f64]) -> Vec<CpuEvent> {
        let t0 = Instant::now();
        let mut cpu = Duration::ZERO;
        let mut events = vec![monitor.observe(CpuSample { cpu, at: t0 })];
        for (i, u) in usage.iter().enumerate() {
            cpu += Duration::from_secs_f64(u * cores as f64);
            events.push(monitor.observe(CpuSample {
                cpu,
                at: t0 + Duration::from_secs(i as u64 + 1),
            }));
        }
        events
    }

    #[test]
    fn parses_proc_stat_with_a_tricky_name() {
        // Fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt
        // majflt cmajflt utime stime ...
        let line = "4242 (load gen) (x)) R 1 4242 4242 0 -1 4194560 900 0 0 0 1234 567 0 0 20 0 3";
        assert_eq!(parse_stat_times(line), Some((1234, 567)));
        assert_eq!(parse_stat_times("4242 (short) R 1 2"), None);
        assert_eq!(parse_stat_times("no name here"), None);
    }

    #[test]
    fn usage_is_cpu_time_over_wall_time_and_cores() {
        let t0 = Instant::now();
        let a = CpuSample {
            cpu: Duration::from_millis(100),
            at: t0,
        };
        let b = CpuSample {
            cpu: Duration::from_millis(1_900),
            at: t0 + Duration::from_secs(1),
        };
        let two = CpuMonitor::usage(&a, &b, 2).unwrap();
        assert!((two - 0.9).abs() < 1e-9, "{two}");
        let one = CpuMonitor::usage(&a, &b, 1).unwrap();
        assert!((one - 1.8).abs() < 1e-9, "{one}");
        assert_eq!(CpuMonitor::usage(&a, &a, 1), None);
    }

    #[test]
    fn one_warning_per_sustained_episode() {
        let mut m = CpuMonitor::new(2);
        let events = feed(
            &mut m,
            2,
            &[
                0.5, 0.95, 0.99, 0.97, 0.96, 0.98, 0.3, 0.95, 0.2, 0.99, 0.99, 0.99,
            ],
        );
        let started: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, CpuEvent::EpisodeStarted { .. }))
            .map(|(i, _)| i)
            .collect();
        // Seconds 2..=4 are the first three saturated ones; 8 alone is too short;
        // 10..=12 are the second episode.
        assert_eq!(started, [4, 12]);
        assert_eq!(events[7], CpuEvent::EpisodeEnded);
        let report = m.report();
        assert_eq!(report.episodes.len(), 2);
        let first = report.episodes[0];
        assert!((first.start_s - 1.0).abs() < 1e-9, "{first:?}");
        assert!((first.end_s - 6.0).abs() < 1e-9, "{first:?}");
        assert!((first.peak - 0.99).abs() < 1e-6, "{first:?}");
        assert!((report.peak - 0.99).abs() < 1e-6);
        let sum = [
            0.5, 0.95, 0.99, 0.97, 0.96, 0.98, 0.3, 0.95, 0.2, 0.99, 0.99, 0.99,
        ]
        .iter()
        .sum::<f64>();
        assert!((report.mean - sum / 12.0).abs() < 1e-6, "{}", report.mean);
        let warnings = report.warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with(CPU_WARNING), "{}", warnings[0]);
        assert!(warnings[0].contains("2 episode(s)"), "{}", warnings[0]);
    }

    #[test]
    fn no_warning_below_the_threshold() {
        let mut m = CpuMonitor::new(1);
        let events = feed(&mut m, 1, &[0.9, 0.89, 0.9, 0.5, 0.9]);
        assert!(events.iter().all(|e| *e == CpuEvent::None), "{events:?}");
        assert!(m.report().warnings().is_empty());
    }
}
