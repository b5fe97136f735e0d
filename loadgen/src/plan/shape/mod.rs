//! Load shapes: the built-in ones (`spike`, `soak`, `step`, after the guide's advanced
//! scenarios) here, `--stages` as written on the command line in `stages`, and the
//! scenario file's `[[stages]]` and `[arrival]` tables and the load-plan flags compiled
//! into a validated [`crate::plan::load::LoadPlan`] in `compile`.
//!
//! A scenario file may say:
//!
//! ```toml
//! [[stages]]              # like k6 stages or a Locust LoadTestShape
//! duration = "30s"        # time span: 30s, 2m, 1h30m
//! users = 50
//! spawn_rate = 5          # optional: by default the change is spread over the stage
//!
//! [arrival]               # the open model (k6's constant- / ramping-arrival-rate)
//! rate = 20               # iterations per second (at the start, when stages follow)
//! duration = "1m"         # optional: stop after this (constant rate)
//! max_users = 50          # the pool's bound (k6's maxVUs)
//! max_delay = "0s"        # how late an iteration may start before it is dropped
//! stages = [{ duration = "30s", target = 100 }]   # optional: ramp the rate linearly
//! ```

mod compile;
mod stages;

use std::time::Duration;

use crate::plan::load::Stage;

pub use compile::PlanError;
pub(crate) use compile::{compile_arrival, compile_stages, RawArrival, RawStage};
pub(crate) use compile::{plan_from_flags, PlanFlags};
pub(crate) use stages::{parse_rate_stages, parse_stage_list, RateStageList, StageList};
pub use stages::{parse_stages, StagesError};

/// The built-in shapes' names, for messages.
pub(crate) const SHAPES: &str = "spike, soak, step";

/// The step shape's default step length (the guide's 5 minutes).
pub const STEP_TIME: Duration = Duration::from_secs(300);

/// A built-in shape. `step_time` sets the step shape's step length.
pub fn builtin(name: &str, step_time: Duration) -> Option<Vec<Stage>> {
    let minutes = |m: u64| Duration::from_secs(60 * m);
    let stage = |duration, users, spawn_rate| Stage {
        duration,
        users,
        spawn_rate,
    };
    match name {
        // The guide's spike: 50 users for 5 min, 500 for 2 min, back to 50 for 5 min.
        "spike" => Some(vec![
            stage(minutes(5), 50, 5.0),
            stage(minutes(2), 500, 100.0),
            stage(minutes(5), 50, 5.0),
        ]),
        // The guide's soak: 100 users at 10/s for 24 h (or until --run-time).
        "soak" => Some(vec![stage(minutes(24 * 60), 100, 10.0)]),
        // The guide's stress steps: 100, 200, ... 3200 users at 50/s.
        "step" => Some(
            [100, 200, 400, 800, 1600, 3200]
                .into_iter()
                .map(|users| stage(step_time, users, 50.0))
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_shapes_are_the_guides() {
        let spike = builtin("spike", STEP_TIME).unwrap();
        assert_eq!(
            spike
                .iter()
                .map(|s| (s.duration.as_secs(), s.users, s.spawn_rate))
                .collect::<Vec<_>>(),
            [(300, 50, 5.0), (120, 500, 100.0), (300, 50, 5.0)]
        );
        let soak = builtin("soak", STEP_TIME).unwrap();
        assert_eq!((soak[0].duration.as_secs(), soak[0].users), (86_400, 100));
        let step = builtin("step", Duration::from_secs(60)).unwrap();
        assert_eq!(
            step.iter().map(|s| s.users).collect::<Vec<_>>(),
            [100, 200, 400, 800, 1600, 3200]
        );
        assert!(step
            .iter()
            .all(|s| s.duration.as_secs() == 60 && s.spawn_rate == 50.0));
        assert!(builtin("wave", STEP_TIME).is_none());
    }
}
