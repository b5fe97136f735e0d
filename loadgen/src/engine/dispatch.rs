//! Which class the n-th user belongs to, and when users start: Locust's dispatcher.
//!
//! Fixed-count classes are filled first, one user each in turn (classes in name order);
//! the rest follow a smooth weighted round robin (nginx's algorithm, the one Locust's
//! dispatcher uses), which keeps the running counts closest to the weights: weights
//! 5:1 give A A A B A A, A A A B A A, ... The user at index i always has the same class,
//! so ramping down (removing the newest users) keeps the split as Locust does.

use std::time::Duration;

use crate::plan::scenario::UserClass;

/// Weights are compared as integers (thousandths) so that ties break the same way on
/// every machine.
const WEIGHT_SCALE: f64 = 1000.0;

/// Hands out class indices for users 0, 1, 2, ... in start order.
#[derive(Debug, Clone)]
pub(crate) struct ClassDispatcher {
    /// (class index, count still to start) for fixed-count classes.
    fixed: Vec<(usize, u64)>,
    /// Next fixed class to try (round robin).
    fixed_cursor: usize,
    /// (class index, weight, current weight) for weighted classes.
    weighted: Vec<(usize, i64, i64)>,
}

impl ClassDispatcher {
    /// A dispatcher over the classes, which must be in name order.
    pub(crate) fn new(classes: &[std::sync::Arc<UserClass>]) -> Self {
        let fixed = classes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.fixed_count.map(|n| (i, n)))
            .collect();
        let weighted = classes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.fixed_count.is_none())
            .map(|(i, c)| (i, ((c.weight * WEIGHT_SCALE).round() as i64).max(1), 0))
            .collect();
        Self {
            fixed,
            fixed_cursor: 0,
            weighted,
        }
    }

    /// The class of the next user, or `None` when only fixed classes exist and all are full.
    pub(crate) fn next_class(&mut self) -> Option<usize> {
        if self.fixed.iter().any(|&(_, left)| left > 0) {
            loop {
                let slot = self.fixed_cursor % self.fixed.len();
                self.fixed_cursor += 1;
                let (class, left) = &mut self.fixed[slot];
                if *left > 0 {
                    *left -= 1;
                    return Some(*class);
                }
            }
        }
        // Smooth weighted round robin: raise every current weight by its weight, pick the
        // largest (the first in name order on a tie), lower it by the total.
        let total: i64 = self.weighted.iter().map(|&(_, w, _)| w).sum();
        for entry in &mut self.weighted {
            entry.2 += entry.1;
        }
        let mut best: Option<usize> = None;
        for (slot, entry) in self.weighted.iter().enumerate() {
            if best.is_none_or(|b| entry.2 > self.weighted[b].2) {
                best = Some(slot);
            }
        }
        let best = best?;
        self.weighted[best].2 -= total;
        Some(self.weighted[best].0)
    }

    /// The classes of the first `n` users.
    #[cfg(test)]
    pub(crate) fn sequence(classes: &[std::sync::Arc<UserClass>], n: usize) -> Vec<usize> {
        let mut d = Self::new(classes);
        (0..n).map_while(|_| d.next_class()).collect()
    }
}

/// One spawn (or stop) step of a ramp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RampStep {
    /// When the step happens, from the start of the ramp.
    pub at: Duration,
    /// How many users the step starts (or stops).
    pub count: usize,
}

/// Locust's spawning: each step changes max(1, floor(rate)) users, steps spaced so the
/// average is `rate` users per second, the first step at once. A rate that is not a
/// positive finite number changes every user in one step.
pub(crate) fn ramp_steps(users: usize, rate: f64) -> Vec<RampStep> {
    if users == 0 {
        return Vec::new();
    }
    if !(rate.is_finite() && rate > 0.0) {
        return vec![RampStep {
            at: Duration::ZERO,
            count: users,
        }];
    }
    let step = (rate.floor() as usize).max(1);
    let interval = step as f64 / rate;
    let steps = users.div_ceil(step);
    (0..steps)
        .map(|k| RampStep {
            at: Duration::from_secs_f64(k as f64 * interval),
            count: step.min(users - k * step),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::scenario::Scenario;

    fn classes(spec: &str) -> Vec<std::sync::Arc<UserClass>> {
        let text: String = spec
            .split(',')
            .map(|part| {
                let (name, share) = part.split_once('=').unwrap();
                format!(
                    "[classes.{name}]\n{share}\n[[classes.{name}.tasks]]\nname = \"t\"\nrequests = [{{ method = \"GET\", path = \"/\" }}]\n"
                )
            })
            .collect();
        Scenario::from_toml("t.toml", &text).unwrap().classes
    }

    fn names(spec: &str, n: usize) -> String {
        let cs = classes(spec);
        ClassDispatcher::sequence(&cs, n)
            .iter()
            .map(|&i| cs[i].name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn five_to_one_interleaves_as_locust_does() {
        assert_eq!(
            names("A=weight = 5,B=weight = 1", 12),
            "A A A B A A A A A B A A"
        );
    }

    #[test]
    fn equal_weights_alternate_in_name_order() {
        assert_eq!(
            names("B=weight = 1,A=weight = 1,C=weight = 1", 6),
            "A B C A B C"
        );
    }

    #[test]
    fn fixed_counts_come_first_then_weights() {
        assert_eq!(
            names("F=fixed_count = 2,A=weight = 3,B=weight = 1", 8),
            "F F A A B A A A"
        );
        // Only fixed classes: no more users than their counts.
        assert_eq!(names("F=fixed_count = 2,G=fixed_count = 1", 10), "F G F");
    }

    #[test]
    fn float_weights_keep_running_counts_close() {
        let cs = classes("A=weight = 0.5,B=weight = 1.5,C=weight = 2");
        let seq = ClassDispatcher::sequence(&cs, 400);
        for n in 1..=400 {
            for (class, share) in [(0, 0.125), (1, 0.375), (2, 0.5)] {
                let count = seq[..n].iter().filter(|&&c| c == class).count() as f64;
                assert!(
                    (count - share * n as f64).abs() <= 1.0,
                    "class {class} after {n}: {count}"
                );
            }
        }
    }

    #[test]
    fn ramp_steps_follow_the_rate() {
        let s = ramp_steps(12, 5.0);
        assert_eq!(s.iter().map(|s| s.count).collect::<Vec<_>>(), [5, 5, 2]);
        assert_eq!(
            s.iter().map(|s| s.at).collect::<Vec<_>>(),
            [0, 1, 2].map(Duration::from_secs)
        );
        let s = ramp_steps(3, 0.5);
        assert_eq!(
            s.iter()
                .map(|s| (s.at.as_secs(), s.count))
                .collect::<Vec<_>>(),
            [(0, 1), (2, 1), (4, 1)]
        );
        let s = ramp_steps(5, 2.5);
        assert_eq!(s.iter().map(|s| s.count).collect::<Vec<_>>(), [2, 2, 1]);
        assert_eq!(s[1].at, Duration::from_millis(800));
        assert_eq!(
            ramp_steps(4, f64::INFINITY),
            [RampStep {
                at: Duration::ZERO,
                count: 4
            }]
        );
        assert!(ramp_steps(0, 1.0).is_empty());
    }
}
