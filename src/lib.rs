//! keyward: a terminal console for the operators of a multi-region key estate.
//!
//! Sources ([`aws`], [`hsm`]) are the only code doing I/O against AWS or a PKCS#11 token; they
//! produce the plain types of [`estate`]. [`rotation`] judges them against the policy with the
//! clock as a parameter, and [`policy`] judges their compliance with the rotation rules. The console ([`tui`]) and the headless commands ([`inventory`]) render
//! the same data; [`sandbox`] runs a local estate on emulators.

pub mod action;
pub mod audit;
pub mod aws;
pub mod cache;
pub mod cli;
pub mod config;
pub mod drill;
pub mod estate;
pub mod hsm;
pub mod inventory;
pub mod logging;
pub mod paths;
pub mod plural;
pub mod policy;
pub mod rotation;
pub mod sandbox;
pub mod tui;
