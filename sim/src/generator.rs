//! A seedable generator of plausible task timelines: a steady stream of tasks over the past
//! and the next hours, mostly short and successful, some failing, some long, one stuck per
//! region, so that every metric, panel and alert has something to show within a minute.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::world::{SimOutcome, SimTask, World};

/// What to generate for one (kind, region).
#[derive(Debug, Clone)]
pub struct Scenario<'a> {
    pub kind: &'a str,
    pub region: &'a str,
    pub task_types: &'a [&'a str],
    /// Instance ids are this prefix plus a number.
    pub instance_prefix: &'a str,
    pub instances: usize,
    /// How far back the timeline starts.
    pub history: Duration,
    /// How far ahead it goes (tasks start as the clock reaches them).
    pub horizon: Duration,
    /// Mean seconds between task starts.
    pub mean_gap_seconds: f64,
    /// About one task in this many names two instances (CDB batch tasks); 0 for never.
    pub multi_instance_one_in: usize,
}

pub struct Generator {
    rng: fastrand::Rng,
    next_id: u64,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: fastrand::Rng::with_seed(seed),
            next_id: 100_000,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn instance(&mut self, scenario: &Scenario) -> String {
        format!(
            "{}{:02}",
            scenario.instance_prefix,
            self.rng.usize(..scenario.instances.max(1))
        )
    }

    /// One instance, or for one task in `multi_instance_one_in`, two.
    fn instances(&mut self, scenario: &Scenario) -> Vec<String> {
        let first = self.instance(scenario);
        if scenario.multi_instance_one_in > 0
            && self.rng.usize(..scenario.multi_instance_one_in) == 0
        {
            let second = self.instance(scenario);
            if second != first {
                return vec![first, second];
            }
        }
        vec![first]
    }

    fn task_type(&mut self, scenario: &Scenario) -> String {
        scenario
            .task_types
            .get(self.rng.usize(..scenario.task_types.len().max(1)))
            .copied()
            .unwrap_or("Unknown")
            .to_owned()
    }

    pub fn populate(&mut self, world: &mut World, scenario: &Scenario, now: DateTime<Utc>) {
        let mut tasks = self.scripted(scenario, now);
        let history = chrono::Duration::from_std(scenario.history).unwrap_or_default();
        let horizon = chrono::Duration::from_std(scenario.horizon).unwrap_or_default();
        let mut start = now - history;
        while start < now + horizon {
            let gap = scenario.mean_gap_seconds * (0.2 + 1.6 * self.rng.f64());
            start += chrono::Duration::milliseconds((gap * 1000.0) as i64);
            let (duration, outcome) = self.plan();
            tasks.push(SimTask {
                id: self.id(),
                task_type: self.task_type(scenario),
                instance_ids: self.instances(scenario),
                start,
                duration: Some(duration),
                outcome,
                stuck_progress: 0.4,
                message: (outcome == SimOutcome::Fail).then(|| "simulated failure".to_owned()),
            });
        }
        world.add(scenario.kind, scenario.region, tasks);
    }

    /// Mostly short tasks, so counters move within a minute; some long ones; about one in
    /// eight fails and one in forty pauses.
    fn plan(&mut self) -> (Duration, SimOutcome) {
        let roll = self.rng.f64();
        let seconds = if roll < 0.6 {
            20.0 + 160.0 * self.rng.f64()
        } else if roll < 0.9 {
            180.0 + 1020.0 * self.rng.f64()
        } else {
            3600.0 + 7200.0 * self.rng.f64()
        };
        let outcome = match self.rng.f64() {
            r if r < 0.12 => SimOutcome::Fail,
            r if r < 0.145 => SimOutcome::Pause,
            _ => SimOutcome::Succeed,
        };
        (Duration::from_secs_f64(seconds), outcome)
    }

    /// Tasks every region has, whatever the seed: one stuck for hours, one failing and two
    /// of the same type on the same instance succeeding within the first minute.
    fn scripted(&mut self, scenario: &Scenario, now: DateTime<Utc>) -> Vec<SimTask> {
        let at = |seconds: i64| now + chrono::Duration::seconds(seconds);
        let mut task = |start, duration: Option<u64>, outcome, message: Option<&str>| SimTask {
            id: self.id(),
            task_type: self.task_type(scenario),
            instance_ids: self.instances(scenario),
            start,
            duration: duration.map(Duration::from_secs),
            outcome,
            stuck_progress: 0.35,
            message: message.map(str::to_owned),
        };
        let mut tasks = vec![
            task(at(-5 * 3600), None, SimOutcome::Succeed, None),
            task(
                at(-100),
                Some(130),
                SimOutcome::Fail,
                Some("simulated failure: disk full"),
            ),
            task(at(-30), Some(50), SimOutcome::Succeed, None),
            task(at(-10), Some(900), SimOutcome::Succeed, None),
        ];
        // A duration histogram series appears with its first observation, which rate() cannot
        // see; the second success of the same series, 15 s later, is the first increase, so
        // the dashboard's duration percentiles have data within the first minute.
        let mut again = tasks[2].clone();
        again.id = self.id();
        again.start = at(-25);
        again.duration = Some(Duration::from_secs(60));
        tasks.push(again);
        tasks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario<'static> {
        Scenario {
            kind: "tencent_postgres",
            region: "ap-guangzhou",
            task_types: &["RestoreDatabase", "DestroyInstance"],
            instance_prefix: "postgres-",
            instances: 3,
            history: Duration::from_secs(3600),
            horizon: Duration::from_secs(3600),
            mean_gap_seconds: 60.0,
            multi_instance_one_in: 0,
        }
    }

    #[test]
    fn same_seed_same_world() {
        let now = Utc::now();
        let (mut a, mut b) = (World::default(), World::default());
        Generator::new(7).populate(&mut a, &scenario(), now);
        Generator::new(7).populate(&mut b, &scenario(), now);
        assert_eq!(
            a.tasks("tencent_postgres", "ap-guangzhou"),
            b.tasks("tencent_postgres", "ap-guangzhou")
        );
        assert!(a.tasks("tencent_postgres", "ap-guangzhou").len() > 100);
    }
}
