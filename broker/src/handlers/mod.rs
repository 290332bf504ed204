//! One file per kind of work the broker loop does: receiving engine messages, registration,
//! results, engines leaving or lost, dispatch, moving unstarted tasks to idle engines, host
//! affinity, the client API, cancelling and pushing results to watching clients.

mod affinity;
mod cancel;
mod clients;
mod dispatch;
mod eager;
mod engines;
mod leave;
mod push;
mod rebalance;
mod register;
mod results;
