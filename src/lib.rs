//! # kindred
//!
//! A recommendation and similarity engine for hyper-personalisation in online shops.
//! This crate is the `kindred` command line and the online server: the event store, live
//! profiles and the HTTP API; the offline pipeline lives in [`kindred_training`],
//! re-exported here as [`training`].

pub mod cli;
pub mod config;
pub mod events;
pub mod landing;
pub mod live;
pub mod server;
pub mod serving;
pub mod store;

pub use kindred_training as training;
