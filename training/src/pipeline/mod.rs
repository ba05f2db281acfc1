//! The end-to-end jobs behind `kindred train` and `kindred eval`.
//!
//! - [`evaluate`]: the protocol of DESIGN.md on one interaction log (or a given train /
//!   test pair): tune on validation, fit on train, score the test part beside popularity.
//! - [`train`]: read → resolve → evaluate → fit on everything → embeddings, cold start,
//!   segments, indexes, popularity → bundle, with a readable [`TrainReport`].

pub mod evaluate;
pub mod train;

pub use evaluate::{EvalOutcome, evaluate_log, evaluate_split};
pub use train::{TrainError, TrainInputs, TrainParams, TrainReport, train};
