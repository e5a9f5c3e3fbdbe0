//! Shared test support.
#![allow(dead_code)] // each test binary uses a different part of the shared support.

pub mod estate;
pub mod proxy;
pub mod pty;
