//! # kindred
//!
//! A recommendation and similarity engine for hyper-personalisation in online shops.
//! This crate is the `kindred` command line (and, later, the online server); the offline
//! pipeline lives in [`kindred_training`], re-exported here as [`training`].

pub mod cli;
pub mod config;
pub mod landing;
pub mod server;
pub mod serving;

pub use kindred_training as training;
