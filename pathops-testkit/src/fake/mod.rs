//! Fake provider servers: real HTTP servers on `127.0.0.1:0` that emulate the parts of each
//! provider PathOps calls, log every request, take injected faults and stop when dropped.
//!
//! | fake | emulates |
//! |---|---|
//! | [`server`] | what every fake shares: [`FakeServer`], [`Fault`], [`RecordedRequest`] |
//! | [`ping_tool`] | a tool speaking the PathOps direct-ping protocol, with switches to break either direction |
//! | [`gitlab`] | GitLab REST v4: user, token introspection, projects, hooks CRUD, events, the synchronous hook test trigger |

pub mod gitlab;
pub mod ping_tool;
pub mod server;

pub use server::{FakeServer, Fault, RecordedRequest, refused_port};
