//! `kindred train` (being assembled).

/// Inputs of a training run.
#[derive(Debug, Clone, Default)]
pub struct TrainInputs;
/// Parameters of a training run.
#[derive(Debug, Clone, Default)]
pub struct TrainParams;
/// What a training run did.
#[derive(Debug, Clone, Default)]
pub struct TrainReport;
/// Why a training run failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {}
/// Runs the pipeline.
pub fn train() {}
