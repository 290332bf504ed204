//! One file per kind of work the broker loop does: receiving engine messages, registration,
//! results, engines leaving or lost, dispatch, host affinity, and the client API.

mod affinity;
mod cancel;
mod clients;
mod dispatch;
mod engines;
mod leave;
mod register;
mod results;
