//! Each class's share of the users and each task's share of its class, as Locust's
//! `--show-task-ratio` and its report's task tables give them: fixed-count classes take
//! their count first, weighted classes share the rest by weight (as the dispatcher splits
//! them), and a task's share of the whole run is its class's share times its own.

use super::Scenario;

/// One class's share of the users, with its tasks' shares of the class.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassRatio {
    /// The class name.
    pub class: String,
    /// Share of the users (0 to 1).
    pub ratio: f64,
    /// Each task's share of the class's iterations, in the scenario's order.
    pub tasks: Vec<TaskRatio>,
}

/// One task's share of its class's iterations.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaskRatio {
    /// The task name.
    pub task: String,
    /// Share of the class's iterations (0 to 1).
    pub ratio: f64,
}

impl Scenario {
    /// Every class's share of `users` users and its tasks' shares.
    pub fn task_ratios(&self, users: usize) -> Vec<ClassRatio> {
        let fixed: u64 = self.classes.iter().filter_map(|c| c.fixed_count).sum();
        let weight_sum: f64 = self
            .classes
            .iter()
            .filter(|c| c.fixed_count.is_none())
            .map(|c| c.weight)
            .sum();
        let users = users.max(1) as f64;
        let weighted_share = ((users - fixed as f64) / users).clamp(0.0, 1.0);
        self.classes
            .iter()
            .map(|class| {
                let ratio = match class.fixed_count {
                    Some(n) => (n as f64 / users).min(1.0),
                    None if weight_sum > 0.0 => weighted_share * class.weight / weight_sum,
                    None => 0.0,
                };
                let task_sum = class.total_task_weight().max(1) as f64;
                ClassRatio {
                    class: class.name.clone(),
                    ratio,
                    tasks: class
                        .tasks
                        .iter()
                        .map(|t| TaskRatio {
                            task: t.name.clone(),
                            ratio: f64::from(t.weight) / task_sum,
                        })
                        .collect(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        Scenario::from_toml(
            "ratio.toml",
            r#"
[classes.Reader]
weight = 3
[[classes.Reader.tasks]]
name = "list_clients"
weight = 2
requests = [{ method = "GET", path = "/api/clients" }]
[[classes.Reader.tasks]]
name = "predict"
requests = [{ method = "GET", path = "/api/ml/predict" }]

[classes.Trader]
weight = 1
[[classes.Trader.tasks]]
name = "trade"
requests = [{ method = "POST", path = "/api/trading/execute" }]
"#,
        )
        .unwrap()
    }

    #[test]
    fn classes_share_users_by_weight_and_tasks_share_their_class() {
        let r = scenario().task_ratios(8);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].class.as_str(), r[0].ratio), ("Reader", 0.75));
        assert_eq!((r[1].class.as_str(), r[1].ratio), ("Trader", 0.25));
        let reader: Vec<(&str, f64)> = r[0]
            .tasks
            .iter()
            .map(|t| (t.task.as_str(), t.ratio))
            .collect();
        assert_eq!(
            reader,
            [("list_clients", 2.0 / 3.0), ("predict", 1.0 / 3.0)]
        );
    }
}
