//! The evaluation protocol every kindred figure is measured with (DESIGN.md).
//!
//! [`split`] carves the per-user temporal train / test split; [`metrics`] computes recall,
//! nDCG, hit rate and coverage at K for any [`crate::models::Recommender`].

pub mod metrics;
pub mod split;

pub use metrics::{EvalReport, Metrics, evaluate};
pub use split::{Split, SplitParams, TestSet, temporal_split};
