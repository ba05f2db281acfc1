//! The data kindred learns from: tracking events, the catalog and identity links.
//!
//! Readers for every supported file format live in [`read`]; they all produce the in-memory
//! types defined here. Rows that cannot be used are never dropped silently: each reader
//! returns a [`Rejections`] tally naming file, row, column and reason.

pub mod error;
pub mod read;
pub mod schema;

pub use error::{DataError, Rejection, Rejections};
pub use schema::{Catalog, Event, EventLog, EventType, IdentityLinks, Item};
pub mod write;
