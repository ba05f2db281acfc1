//! Implicit-feedback alternating least squares (Hu, Koren & Volinsky, 2008).
//!
//! Each cell's confidence is `1 + alpha · value`; users and items are solved in turn with a
//! few warm-started conjugate-gradient steps per row (Takács et al., 2011), which costs
//! `O(k² + nnz·k)` per row instead of a `k × k` factorisation. The inner loops run in the
//! widest SIMD instruction set the CPU offers (runtime dispatch through `pulp`).
//!
//! The fitted factors are kindred's item and customer embeddings. [`Als::fold_in`] gives
//! a visitor who was not in the training data (or whose history moved on) an embedding
//! from their history with one exact `k × k` solve.

use super::{HistoryEntry, Recommender, aggregate};
use crate::index::dot;
use crate::interactions::SparseMatrix;
use crate::progress::Progress;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// ALS hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlsParams {
    /// Embedding dimension (default 64).
    pub factors: usize,
    /// L2 regularisation of both sides (default 0.1).
    pub regularization: f32,
    /// Confidence slope: a cell of value `r` has confidence `1 + alpha · r` (default 10).
    pub alpha: f32,
    /// Full passes over users and items (default 15).
    pub iterations: usize,
    /// Conjugate-gradient steps per row and pass (default 3).
    pub cg_steps: usize,
    /// Seed of the random initial item factors (default 42).
    pub seed: u64,
}

impl Default for AlsParams {
    fn default() -> Self {
        Self {
            factors: 64,
            regularization: 0.1,
            alpha: 10.0,
            iterations: 15,
            cg_steps: 3,
            seed: 42,
        }
    }
}

/// Invalid ALS parameters.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AlsError {
    #[error("ALS factors must be between 1 and 1024, got {0}")]
    Factors(usize),
    #[error("ALS regularization must be positive and finite, got {0}")]
    Regularization(f32),
    #[error("ALS alpha must be non-negative and finite, got {0}")]
    Alpha(f32),
    #[error("ALS needs at least one iteration and one CG step")]
    Iterations,
}

impl AlsParams {
    pub fn check(&self) -> Result<(), AlsError> {
        if self.factors == 0 || self.factors > 1024 {
            return Err(AlsError::Factors(self.factors));
        }
        if !(self.regularization.is_finite() && self.regularization > 0.0) {
            return Err(AlsError::Regularization(self.regularization));
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(AlsError::Alpha(self.alpha));
        }
        if self.iterations == 0 || self.cg_steps == 0 {
            return Err(AlsError::Iterations);
        }
        Ok(())
    }
}

/// A fitted factorisation.
#[derive(Debug, Clone)]
pub struct Als {
    pub params: AlsParams,
    /// `n_users × factors`.
    pub user_factors: Array2<f32>,
    /// `n_items × factors`.
    pub item_factors: Array2<f32>,
    /// Wall time of each iteration (users + items).
    pub iteration_times: Vec<Duration>,
    /// `YᵀY + λI` of the current item factors (row-major), for fold-in.
    yty: Vec<f32>,
}

/// Vector accumulators of [`symv`]'s output block (eight AVX2 registers = 64 outputs): enough
/// independent FMA chains to keep both FMA units busy.
const SYMV_VECS: usize = 8;

/// `a · b` in the SIMD width of `S`, two independent vector accumulators.
#[inline(always)]
pub(crate) fn simd_dot<S: pulp::Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    let (ha, ta) = S::as_simd_f32s(a);
    let (hb, tb) = S::as_simd_f32s(b);
    let (mut acc0, mut acc1) = (simd.splat_f32s(0.0), simd.splat_f32s(0.0));
    let (ca, cb) = (ha.chunks_exact(2), hb.chunks_exact(2));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        acc0 = simd.mul_add_f32s(x[0], y[0], acc0);
        acc1 = simd.mul_add_f32s(x[1], y[1], acc1);
    }
    for (x, y) in ra.iter().zip(rb) {
        acc0 = simd.mul_add_f32s(*x, *y, acc0);
    }
    let mut s = simd.reduce_sum_f32s(simd.add_f32s(acc0, acc1));
    for (x, y) in ta.iter().zip(tb) {
        s += x * y;
    }
    s
}

/// `y += alpha · x` in the SIMD width of `S`.
#[inline(always)]
fn axpy<S: pulp::Simd>(simd: S, alpha: f32, x: &[f32], y: &mut [f32]) {
    let (hx, tx) = S::as_simd_f32s(x);
    let (hy, ty) = S::as_mut_simd_f32s(y);
    let a = simd.splat_f32s(alpha);
    for (yv, xv) in hy.iter_mut().zip(hx) {
        *yv = simd.mul_add_f32s(a, *xv, *yv);
    }
    for (yi, xi) in ty.iter_mut().zip(tx) {
        *yi += alpha * xi;
    }
}

/// `out = A x` for a symmetric row-major `k × k` matrix `A`.
///
/// Blocks of [`SYMV_VECS`] vectors of outputs are accumulated in registers as
/// `Σ_j x_j · A[j, block]` (row `j` equals column `j`): one broadcast and eight FMAs per `j`,
/// each row read once per block. The outputs left over when `k` is not a multiple of the
/// block are dot products of rows.
#[inline(always)]
fn symv<S: pulp::Simd>(simd: S, a: &[f32], x: &[f32], out: &mut [f32]) {
    let k = x.len();
    let lanes = std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>();
    let block = SYMV_VECS * lanes;
    let blocked = k / block * block;
    let (out_head, _) = S::as_mut_simd_f32s(&mut out[..blocked]);
    for (b, out_block) in out_head.chunks_exact_mut(SYMV_VECS).enumerate() {
        let mut acc = [simd.splat_f32s(0.0); SYMV_VECS];
        for (row, &xj) in a.chunks_exact(k).zip(x) {
            let (row_head, _) = S::as_simd_f32s(&row[b * block..(b + 1) * block]);
            let xs = simd.splat_f32s(xj);
            for (acc, &r) in acc.iter_mut().zip(row_head) {
                *acc = simd.mul_add_f32s(xs, r, *acc);
            }
        }
        out_block.copy_from_slice(&acc);
    }
    for (o, row) in out[blocked..]
        .iter_mut()
        .zip(a.chunks_exact(k).skip(blocked))
    {
        *o = simd_dot(simd, row, x);
    }
}

/// Scratch vectors of one CG solve.
struct Scratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
}

impl Scratch {
    fn new(k: usize) -> Self {
        Scratch {
            r: vec![0.0; k],
            p: vec![0.0; k],
            ap: vec![0.0; k],
        }
    }
}

/// The fixed side of a half-step: the other side's factors, their Gram matrix and the solver
/// settings.
#[derive(Clone, Copy)]
struct Fixed<'a> {
    /// Factors of the other side, row-major `n × k`.
    y: &'a [f32],
    /// `YᵀY + λI`, row-major `k × k`.
    yty: &'a [f32],
    alpha: f32,
    steps: usize,
}

/// Warm-started CG for one row: solves `(YᵀY + λI + Yᵀ(C−I)Y) x = YᵀC·1` over the row's cells.
#[inline(always)]
fn cg_row<S: pulp::Simd>(
    simd: S,
    x: &mut [f32],
    cols: &[u32],
    vals: &[f32],
    f: Fixed<'_>,
    s: &mut Scratch,
) {
    let k = x.len();
    let (y, alpha) = (f.y, f.alpha);
    // r = b − A x
    symv(simd, f.yty, x, &mut s.r);
    for v in s.r.iter_mut() {
        *v = -*v;
    }
    for (&c, &v) in cols.iter().zip(vals) {
        let yi = &y[c as usize * k..(c as usize + 1) * k];
        let conf = 1.0 + alpha * v;
        let coef = conf - (conf - 1.0) * simd_dot(simd, yi, x);
        axpy(simd, coef, yi, &mut s.r);
    }
    s.p.copy_from_slice(&s.r);
    let mut rs_old = simd_dot(simd, &s.r, &s.r);
    if rs_old < 1e-20 {
        return;
    }
    for _ in 0..f.steps {
        symv(simd, f.yty, &s.p, &mut s.ap);
        for (&c, &v) in cols.iter().zip(vals) {
            let yi = &y[c as usize * k..(c as usize + 1) * k];
            let coef = alpha * v * simd_dot(simd, yi, &s.p);
            axpy(simd, coef, yi, &mut s.ap);
        }
        let pap = simd_dot(simd, &s.p, &s.ap);
        if pap <= 0.0 || !pap.is_finite() {
            return;
        }
        let a = rs_old / pap;
        axpy(simd, a, &s.p, x);
        axpy(simd, -a, &s.ap, &mut s.r);
        let rs_new = simd_dot(simd, &s.r, &s.r);
        if rs_new < 1e-20 {
            return;
        }
        let beta = rs_new / rs_old;
        for (p, r) in s.p.iter_mut().zip(&s.r) {
            *p = r + beta * *p;
        }
        rs_old = rs_new;
    }
}

/// `YᵀY + λI` as a dense row-major `k × k` matrix.
fn gram(y: &[f32], k: usize, reg: f32) -> Vec<f32> {
    let n = y.len() / k.max(1);
    let mut g = match ndarray::ArrayView2::from_shape((n, k), &y[..n * k]) {
        Ok(view) => view.t().dot(&view),
        Err(_) => Array2::zeros((k, k)),
    };
    for i in 0..k {
        g[[i, i]] += reg;
    }
    g.iter().copied().collect()
}

/// Rows solved by one rayon task.
const ROWS_PER_TASK: usize = 64;

/// One task's rows, solved inside [`pulp::Arch::dispatch`].
///
/// A `WithSimd` type rather than a closure: its `with_simd` is monomorphised into pulp's
/// `#[target_feature]` function and everything below it is inlined, so the kernels are
/// compiled for AVX2 + FMA (a closure body stays a separate baseline function, where
/// `mul_add` becomes a call to a software `fmaf`).
struct SolveRows<'a> {
    rows: &'a mut [f32],
    /// Factors per row.
    k: usize,
    first_row: usize,
    m: &'a SparseMatrix,
    fixed: Fixed<'a>,
}

impl pulp::WithSimd for SolveRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let k = self.k;
        let mut s = Scratch::new(k);
        for (j, xr) in self.rows.chunks_exact_mut(k).enumerate() {
            let (cols, vals) = self.m.row(self.first_row + j);
            if cols.is_empty() {
                xr.fill(0.0);
                continue;
            }
            cg_row(simd, xr, cols, vals, self.fixed, &mut s);
        }
    }
}

/// One half-step: solves every row of `x` against the fixed `y`.
fn solve_side(x: &mut [f32], y: &[f32], m: &SparseMatrix, k: usize, params: &AlsParams) {
    let yty = gram(y, k, params.regularization);
    let fixed = Fixed {
        y,
        yty: &yty,
        alpha: params.alpha,
        steps: params.cg_steps,
    };
    let arch = pulp::Arch::new();
    x.par_chunks_mut(k * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(chunk, rows)| {
            arch.dispatch(SolveRows {
                rows,
                k,
                first_row: chunk * ROWS_PER_TASK,
                m,
                fixed,
            });
        });
}

/// `Σ a[i]·b[i]` over equal-length slices, with four independent sums so the compiler
/// vectorises it.
fn dot64(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (ca, cb) = (a[..n].chunks_exact(4), b[..n].chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut acc = [0f64; 4];
    for (x, y) in ca.zip(cb) {
        for j in 0..4 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut sum = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

/// Solves `A x = b` for a symmetric positive definite `k × k` matrix of which the row-major
/// `a` holds the lower triangle: factors `A = L Lᵀ` in place (`a` becomes `L`) and writes
/// `x` over `b`. False when `A` is not positive definite (then `a` and `b` are garbage).
fn cholesky_solve(a: &mut [f64], b: &mut [f64], k: usize) -> bool {
    if a.len() != k * k || b.len() != k {
        return false;
    }
    for j in 0..k {
        let (row_j, below) = a[j * k..].split_at_mut(k);
        let d = row_j[j] - dot64(&row_j[..j], &row_j[..j]);
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        let ljj = d.sqrt();
        row_j[j] = ljj;
        for row_i in below.chunks_exact_mut(k) {
            row_i[j] = (row_i[j] - dot64(&row_i[..j], &row_j[..j])) / ljj;
        }
    }
    // L z = b, then Lᵀ x = z.
    for i in 0..k {
        let row = &a[i * k..(i + 1) * k];
        b[i] = (b[i] - dot64(&row[..i], &b[..i])) / row[i];
    }
    for i in (0..k).rev() {
        let mut s = b[i];
        for j in i + 1..k {
            s -= a[j * k + i] * b[j];
        }
        b[i] = s / a[i * k + i];
    }
    true
}

impl Als {
    /// Fits user and item factors on a user × item matrix of positive interaction strengths.
    pub fn fit(
        matrix: &SparseMatrix,
        params: AlsParams,
        progress: Progress,
    ) -> Result<Als, AlsError> {
        params.check()?;
        let k = params.factors;
        let transposed = matrix.transpose();
        let mut rng = rand::rngs::StdRng::seed_from_u64(params.seed);
        let scale = 0.1 / (k as f32).sqrt();
        let mut items: Vec<f32> = (0..matrix.n_cols * k)
            .map(|_| (rng.r#gen::<f32>() - 0.5) * 2.0 * scale)
            .collect();
        let mut users = vec![0f32; matrix.n_rows * k];
        let bar = progress.bar(params.iterations as u64, "ALS iterations");
        let mut times = Vec::with_capacity(params.iterations);
        for _ in 0..params.iterations {
            let start = Instant::now();
            solve_side(&mut users, &items, matrix, k, &params);
            solve_side(&mut items, &users, &transposed, k, &params);
            times.push(start.elapsed());
            bar.inc(1);
        }
        bar.finish_and_clear();
        let to_array = |v: Vec<f32>, n: usize| {
            Array2::from_shape_vec((n, k), v).unwrap_or_else(|_| Array2::zeros((n, k)))
        };
        let yty = gram(&items, k, params.regularization);
        Ok(Als {
            params,
            user_factors: to_array(users, matrix.n_rows),
            item_factors: to_array(items, matrix.n_cols),
            iteration_times: times,
            yty,
        })
    }

    /// Runs one more full iteration in place (for benchmarks and warm restarts).
    pub fn iterate(&mut self, matrix: &SparseMatrix, transposed: &SparseMatrix) -> Duration {
        let k = self.params.factors;
        let start = Instant::now();
        if let (Some(users), Some(items)) = (
            self.user_factors.as_slice_mut(),
            self.item_factors.as_slice_mut(),
        ) {
            solve_side(users, items, matrix, k, &self.params);
            solve_side(items, users, transposed, k, &self.params);
            self.yty = gram(items, k, self.params.regularization);
        }
        start.elapsed()
    }

    /// An embedding for a visitor from `(item, strength)` pairs, solved exactly:
    /// `(YᵀY + λI + Σ α r y yᵀ) x = Σ (1 + α r) y`. Unknown items are ignored; an empty
    /// history gives the zero vector.
    ///
    /// This runs once per personal request, so it is written for a small `k`: the system's
    /// lower triangle is built in `f64`, factored by a plain Cholesky and solved on the
    /// calling thread (no allocation beyond the `k × k` matrix, no thread pool).
    pub fn fold_in(&self, items: &[(u32, f32)]) -> Vec<f32> {
        let k = self.params.factors;
        let n_items = self.item_factors.nrows();
        let y = self.item_factors.as_slice().unwrap_or(&[]);
        let mut a: Vec<f64> = Vec::new();
        let mut b = vec![0f64; k];
        let mut yi = vec![0f64; k];
        for &(i, r) in items {
            if (i as usize) >= n_items || r <= 0.0 {
                continue;
            }
            if a.is_empty() {
                a = self.yty.iter().map(|&v| f64::from(v)).collect();
            }
            let i = i as usize;
            for (d, &s) in yi.iter_mut().zip(&y[i * k..(i + 1) * k]) {
                *d = f64::from(s);
            }
            let c = f64::from(self.params.alpha * r);
            for (p, (&yp, a_row)) in yi.iter().zip(a.chunks_exact_mut(k)).enumerate() {
                let cy = c * yp;
                b[p] += yp + cy;
                // Lower triangle only: the factorisation below reads nothing else.
                for (a_pq, &yq) in a_row[..=p].iter_mut().zip(&yi[..=p]) {
                    *a_pq += cy * yq;
                }
            }
        }
        if a.is_empty() || !cholesky_solve(&mut a, &mut b, k) {
            return vec![0.0; k];
        }
        b.into_iter().map(|v| v as f32).collect()
    }

    /// `YᵀY + λI` of the item factors, row-major `k × k`.
    pub fn gram(&self) -> &[f32] {
        &self.yty
    }

    /// Rebuilds a model from stored factors (a loaded bundle).
    pub fn from_factors(
        params: AlsParams,
        user_factors: Array2<f32>,
        item_factors: Array2<f32>,
    ) -> Als {
        let yty = gram(
            item_factors.as_slice().unwrap_or(&[]),
            params.factors,
            params.regularization,
        );
        Als {
            params,
            user_factors,
            item_factors,
            iteration_times: Vec::new(),
            yty,
        }
    }
}

impl Recommender for Als {
    fn name(&self) -> &str {
        "als"
    }

    fn n_items(&self) -> usize {
        self.item_factors.nrows()
    }

    fn score(&self, history: &[HistoryEntry], out: &mut [f32]) {
        let user = self.fold_in(&aggregate(history, None));
        let k = self.params.factors;
        let y = self.item_factors.as_slice().unwrap_or(&[]);
        // One dot per item: run in the widest instruction set the CPU has (`dot` keeps its
        // summation order there, so the scores do not depend on the CPU).
        pulp::Arch::new().dispatch(|| {
            for (o, yi) in out.iter_mut().zip(y.chunks_exact(k)) {
                *o = dot(&user, yi);
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::interactions::{InteractionLog, MatrixParams};

    fn blocks() -> SparseMatrix {
        // Two communities: users 0..30 like items 0..10, users 30..60 like items 10..20.
        let mut log = InteractionLog::default();
        for u in 0..60 {
            for i in 0..10 {
                if (u + i) % 3 != 0 {
                    let item = if u < 30 { i } else { i + 10 };
                    log.push(&format!("u{u}"), &format!("i{item:02}"), 0, 1.0);
                }
            }
        }
        SparseMatrix::from_log(&log, &MatrixParams::default())
    }

    #[test]
    fn factors_separate_communities_and_fold_in_agrees() {
        let m = blocks();
        let params = AlsParams {
            factors: 8,
            iterations: 10,
            ..AlsParams::default()
        };
        let als = Als::fit(&m, params, Progress::Hidden).unwrap();
        let mut out = vec![0f32; m.n_cols];
        let history: Vec<HistoryEntry> = m
            .row(0)
            .0
            .iter()
            .map(|&i| HistoryEntry {
                item: i,
                weight: 1.0,
                ts: 0,
            })
            .collect();
        als.score(&history, &mut out);
        let inside: f32 = out[..10].iter().sum::<f32>() / 10.0;
        let outside: f32 = out[10..].iter().sum::<f32>() / 10.0;
        assert!(
            inside > 0.5 && outside.abs() < 0.2,
            "inside {inside} outside {outside}"
        );
        // The exact fold-in of user 0's row is close to the CG-trained factor.
        let folded = als.fold_in(&m.row(0).0.iter().map(|&i| (i, 1.0)).collect::<Vec<_>>());
        let trained = als.user_factors.row(0);
        let err: f32 = folded
            .iter()
            .zip(trained.iter())
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f32>()
            .sqrt();
        let norm: f32 = trained.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!(err / norm < 0.1, "relative error {}", err / norm);
    }

    /// Runs the SIMD kernels against naive `f64` sums for sizes around the vector and block
    /// widths (`k = 64` and `128` take the register-blocked `symv`).
    struct KernelCheck;

    impl pulp::WithSimd for KernelCheck {
        type Output = ();

        fn with_simd<S: pulp::Simd>(self, simd: S) {
            for k in [1usize, 3, 8, 17, 63, 64, 65, 100, 128, 130] {
                let a: Vec<f32> = (0..k).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
                let b: Vec<f32> = (0..k).map(|i| ((i * 5 % 13) as f32 - 6.0) / 4.0).collect();
                let naive: f64 = a
                    .iter()
                    .zip(&b)
                    .map(|(x, y)| f64::from(*x) * f64::from(*y))
                    .sum();
                let scale: f64 = a
                    .iter()
                    .zip(&b)
                    .map(|(x, y)| f64::from((x * y).abs()))
                    .sum::<f64>()
                    + 1.0;
                assert!(
                    (f64::from(simd_dot(simd, &a, &b)) - naive).abs() < 1e-5 * scale,
                    "dot k={k}"
                );
                assert!(
                    (f64::from(dot(&a, &b)) - naive).abs() < 1e-5 * scale,
                    "portable dot k={k}"
                );

                let mut y = b.clone();
                axpy(simd, 0.5, &a, &mut y);
                for i in 0..k {
                    assert!(
                        (y[i] - (b[i] + 0.5 * a[i])).abs() < 1e-5,
                        "axpy k={k} i={i}"
                    );
                }

                // A symmetric matrix with distinct entries.
                let m: Vec<f32> = (0..k * k)
                    .map(|n| {
                        let (i, j) = (n / k, n % k);
                        ((i.min(j) * 31 + i.max(j) * 17) % 23) as f32 / 7.0 - 1.5
                    })
                    .collect();
                let mut out = vec![f32::NAN; k];
                symv(simd, &m, &a, &mut out);
                for i in 0..k {
                    let want: f64 = (0..k)
                        .map(|j| f64::from(m[i * k + j]) * f64::from(a[j]))
                        .sum();
                    assert!(
                        (f64::from(out[i]) - want).abs() < 1e-4 * (1.0 + want.abs()),
                        "symv k={k} i={i}"
                    );
                }
            }
        }
    }

    #[test]
    fn simd_kernels_match_naive_sums() {
        pulp::Arch::new().dispatch(KernelCheck);
        pulp::WithSimd::with_simd(KernelCheck, pulp::Scalar);
    }

    #[test]
    fn rejects_bad_params() {
        assert_eq!(
            AlsParams {
                factors: 0,
                ..AlsParams::default()
            }
            .check(),
            Err(AlsError::Factors(0))
        );
        assert_eq!(
            AlsParams {
                regularization: -1.0,
                ..AlsParams::default()
            }
            .check(),
            Err(AlsError::Regularization(-1.0))
        );
    }
}
