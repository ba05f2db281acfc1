//! # kindred-training
//!
//! The offline side of kindred: read tracking events and the catalog (Parquet, CSV, JSON
//! lines, MovieLens), resolve identities, learn item and customer embeddings from implicit
//! feedback, give cold items content embeddings, cluster behaviour profiles into described
//! segments, build HNSW indexes, evaluate against baselines, and write a versioned model
//! bundle that the online server loads.
//!
//! The crate never depends on the server: it writes bundles, the server only reads them.

pub mod bundle;
pub mod content;
pub mod data;
pub mod eval;
pub mod generate;
pub mod ids;
pub mod index;
pub mod interactions;
pub mod models;
pub mod pipeline;
pub mod progress;
pub mod segments;
