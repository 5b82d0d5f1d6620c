//! Priority routes (holds, cancellations and releases): their files go before any other file
//! waiting at the same moment. Before an ordinary route takes the files it found ready, it asks
//! the gate for a turn: the priority routes are woken at once and the ordinary route waits until
//! each of them has made a whole pass begun after the request, one that found none of its own
//! files still settling. The wait is bounded, so a priority route that cannot make progress (its
//! server down) delays the other routes but never stops them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::warn;

/// Longest an ordinary route waits for the priority routes beyond their settling time.
const MAX_EXTRA_WAIT: Duration = Duration::from_secs(30);

/// How often a waiting route looks at its stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
struct Turns {
    /// Requests made so far.
    requested: u64,
    /// Per priority route: the last request its passes have answered.
    answered: Vec<u64>,
}

/// The turns of the priority routes, shared by every route of an agent.
#[derive(Debug)]
pub struct PriorityGate {
    turns: Mutex<Turns>,
    changed: Condvar,
    /// The priority routes' wakers, in their order.
    wakers: Vec<Arc<Notify>>,
    /// How long a request waits at most.
    limit: Duration,
}

impl PriorityGate {
    /// A gate over the priority routes woken by `wakers`, whose files settle for at most
    /// `longest_settling`.
    pub fn new(wakers: Vec<Arc<Notify>>, longest_settling: Duration) -> PriorityGate {
        PriorityGate {
            turns: Mutex::new(Turns {
                requested: 0,
                answered: vec![0; wakers.len()],
            }),
            changed: Condvar::new(),
            limit: longest_settling * 2 + MAX_EXTRA_WAIT,
            wakers,
        }
    }

    /// A priority route's pass begins: the latest request it can answer.
    pub fn pass_begins(&self) -> u64 {
        self.turns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .requested
    }

    /// Priority route `index` ended the pass that began at `request`; `settling` when some of its
    /// files were not yet complete (the pass then answers nothing, and its next one will).
    pub fn pass_ends(&self, index: usize, request: u64, settling: bool) {
        if settling {
            return;
        }
        let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(answered) = turns.answered.get_mut(index) {
            *answered = (*answered).max(request);
        }
        self.changed.notify_all();
    }

    /// An ordinary route's turn: wakes the priority routes and waits until each has passed,
    /// `stop` is set, or the wait's limit is reached.
    pub fn wait_for_priority(&self, route: &str, stop: &AtomicBool) {
        if self.wakers.is_empty() {
            return;
        }
        let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
        turns.requested += 1;
        let ticket = turns.requested;
        self.wakers.iter().for_each(|w| w.notify_one());
        let deadline = Instant::now() + self.limit;
        while turns.answered.iter().any(|&a| a < ticket) && !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= deadline {
                warn!(
                    route,
                    "the priority routes did not finish a pass in time; taking this route's files anyway"
                );
                return;
            }
            let wait = (deadline - now).min(STOP_CHECK);
            turns = self
                .changed
                .wait_timeout(turns, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_waits_for_every_priority_route_to_pass_without_settling_files() {
        let gate = Arc::new(PriorityGate::new(
            vec![Arc::new(Notify::new()), Arc::new(Notify::new())],
            Duration::from_millis(10),
        ));
        let waiter = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                gate.wait_for_priority("orders", &AtomicBool::new(false));
                Instant::now()
            })
        };
        // Wait (bounded) until the request is made.
        for _ in 0..1000 {
            if gate.pass_begins() == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(gate.pass_begins(), 1);
        gate.pass_ends(0, 1, false);
        gate.pass_ends(1, 1, true);
        assert!(!waiter.is_finished(), "route 1 still has a file settling");
        let answered = Instant::now();
        gate.pass_ends(1, 1, false);
        assert!(waiter.join().unwrap() >= answered);
    }

    #[test]
    fn a_stop_ends_a_wait_for_the_priority_routes() {
        // The priority routes never answer, and would be waited for an hour: only the stop
        // flag can end the wait.
        let gate = Arc::new(PriorityGate::new(
            vec![Arc::new(Notify::new())],
            Duration::from_secs(3600),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        {
            let (gate, stop) = (gate.clone(), stop.clone());
            std::thread::spawn(move || {
                gate.wait_for_priority("orders", &stop);
                let _ = done_tx.send(());
            });
        }
        for _ in 0..1000 {
            if gate.pass_begins() == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            done_rx.try_recv().is_err(),
            "the turn did not wait for the priority routes"
        );
        stop.store(true, Ordering::Relaxed);
        assert!(
            done_rx.recv_timeout(Duration::from_secs(30)).is_ok(),
            "a stop did not end the wait"
        );
    }
}
