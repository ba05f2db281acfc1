"""Times the `implicit` library's CPU ALS on a matrix written by `benches/als_vs_implicit.rs`.

The Rust harness writes, into one folder:

    meta.json    {"n_rows", "n_cols", "nnz"}
    indptr.bin   int64, n_rows + 1 (little endian)
    indices.bin  int32, nnz
    data.bin     float32, nnz: the confidence C = 1 + alpha * value of every cell

implicit's conjugate-gradient solver reads the matrix values as the confidence C itself (it
multiplies by `C - 1` and adds `C` to the right-hand side), and scales them by its own `alpha`
only when that is not 1. So the harness passes `1 + alpha * value` with `alpha=1.0`, and both
libraries solve `(YᵀY + λI + Yᵀ(C−I)Y) x = YᵀC·1` with the same number of CG steps.

Prints one JSON object on stdout: per-iteration seconds, their median after the warm-up, the
CPU seconds of the whole fit (all threads), the training loss of the fitted model (implicit's own `calculate_loss`) and the BLAS setup.
"""

import argparse
import json
import os
import statistics
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, help="folder with meta.json and the .bin arrays")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--regularization", type=float, default=0.1)
    parser.add_argument("--iterations", type=int, default=8, help="warm-up + timed iterations")
    parser.add_argument("--warmup", type=int, default=1, help="leading iterations left out")
    parser.add_argument("--cg-steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    import numpy as np
    import scipy.sparse
    import implicit
    from implicit.cpu import _als
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_info, threadpool_limits

    with open(os.path.join(args.dir, "meta.json")) as f:
        meta = json.load(f)
    indptr = np.fromfile(os.path.join(args.dir, "indptr.bin"), dtype="<i8")
    indices = np.fromfile(os.path.join(args.dir, "indices.bin"), dtype="<i4")
    data = np.fromfile(os.path.join(args.dir, "data.bin"), dtype="<f4")
    if len(indices) != meta["nnz"] or len(data) != meta["nnz"] or len(indptr) != meta["n_rows"] + 1:
        print(f"inconsistent arrays in {args.dir}", file=sys.stderr)
        return 2
    confidence = scipy.sparse.csr_matrix(
        (data, indices, indptr), shape=(meta["n_rows"], meta["n_cols"]), dtype=np.float32
    )

    times = []

    def on_iteration(iteration, elapsed, loss):
        times.append(elapsed)

    # implicit recommends single-threaded BLAS: its threads are its own OpenMP loop over rows.
    with threadpool_limits(limits=1, user_api="blas"):
        blas = [
            {k: lib.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for lib in threadpool_info()
            if lib.get("user_api") == "blas"
        ]
        model = AlternatingLeastSquares(
            factors=args.factors,
            regularization=args.regularization,
            alpha=1.0,
            dtype=np.float32,
            use_native=True,
            use_cg=True,
            iterations=args.iterations,
            calculate_training_loss=False,
            num_threads=args.threads,
            random_state=args.seed,
        )
        model.cg_steps = args.cg_steps
        started, cpu_started = time.perf_counter(), time.process_time()
        model.fit(confidence, show_progress=False, callback=on_iteration)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        loss = _als.calculate_loss(
            confidence,
            model.user_factors,
            model.item_factors,
            args.regularization,
            num_threads=args.threads,
        )

    timed = times[args.warmup:]
    finite = bool(np.isfinite(model.user_factors).all() and np.isfinite(model.item_factors).all())
    print(
        json.dumps(
            {
                "implicit_version": implicit.__version__,
                "numpy_version": np.__version__,
                "iteration_seconds": times,
                "median_seconds": statistics.median(timed) if timed else None,
                "fit_seconds": total,
                "fit_cpu_seconds": cpu,
                "loss": float(loss),
                "finite": finite,
                "threads": args.threads,
                "cg_steps": model.cg_steps,
                "blas": blas,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
