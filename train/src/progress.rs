//! Progress of the long evaluations, for a program's progress bar: the library reports, a
//! program that wants to show it installs one observer at start-up (as the `log` crate's
//! global logger works). Without an observer, a report costs one atomic load.
//!
//! Reported today: the filtered ranking of a knowledge graph's validation and test facts
//! ([`rank`](crate::link_data::rank); 40,932 queries against 14,541 entities take ~30 s on
//! FB15k-237), in batches.

use std::sync::OnceLock;

/// A long evaluation under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Filtered ranking: `done` of `total` facts ranked (both directions each).
    Ranking {
        /// Facts ranked so far in this pass.
        done: usize,
        /// Facts of the pass.
        total: usize,
    },
}

type Observer = Box<dyn Fn(Stage) + Send + Sync>;

static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Installs the process's progress observer; `false` (and `f` dropped) if one already is.
/// For programs, at start-up: libraries report and never observe.
pub fn observe(f: impl Fn(Stage) + Send + Sync + 'static) -> bool {
    OBSERVER.set(Box::new(f)).is_ok()
}

/// Tells the observer, if there is one.
pub(crate) fn report(stage: Stage) {
    if let Some(f) = OBSERVER.get() {
        f(stage);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn the_one_observer_hears_every_report() {
        static HEARD: Mutex<Vec<Stage>> = Mutex::new(Vec::new());
        // This test binary's only observer (other tests' rankings report to it too, so only
        // the reports below are looked for).
        assert!(observe(|s| HEARD.lock().unwrap().push(s)));
        assert!(!observe(|_| {}), "a second observer is refused");
        for done in [3, 7] {
            report(Stage::Ranking { done, total: 7 });
        }
        let heard = HEARD.lock().unwrap();
        let mine = |done| heard.contains(&Stage::Ranking { done, total: 7 });
        assert!(mine(3) && mine(7));
    }
}
