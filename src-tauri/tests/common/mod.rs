//! Shared by the real-binary tests: the private desktop session ([`session`], from `signet_tests::desktop`)
//! with its recording `org.freedesktop.Notifications` server.
// Each test crate uses a different part of this module.
#![allow(dead_code, unused_imports)]

pub mod session;

pub use signet_tests::desktop::{Received, Recorder};
