"""``python -m benchmarks.gemm_check``: the matrix products alone, NumPy's BLAS against PyTorch's, and the ceilings.

A training step of an MLP is its matrix products (forward ``X @ W.T``, ``dW = delta.T @ X``, ``dX = delta @ W``
for all but the first layer) plus the work around them. glassnet can remove work around the products,
never the products themselves: they are NumPy's (OpenBLAS here), the same calls the textbook loop
makes, while PyTorch calls its own BLAS (MKL on x86). This script times one step's products, shape by
shape, for every network and batch of ``python -m benchmarks``:

- with NumPy (``np.matmul(..., out=)``) and with PyTorch (``torch.mm(..., out=)``, no autograd), each
  on 1 and on all threads, the libraries taking turns, best of several repetitions;
- per epoch of 60,000 samples, the faster thread count of each library.

With ``--results results.json`` (a run of ``python -m benchmarks``) it also prints the **ceilings**: the
speed-up glassnet would have over each baseline if everything around its products cost nothing,
``baseline s/epoch / NumPy products s/epoch``. A target above its ceiling cannot be met by any
NumPy-only code on that machine. Writes ``gemm-check.md`` and ``gemm-check.json`` next to this file
(``--out DIR`` elsewhere). Run it on a quiet machine.
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from .__main__ import NETWORKS

HERE = Path(__file__).resolve().parent
BATCHES = (32, 64, 256, 1024)
N_SAMPLES = 60_000


def step_products(sizes, batch, rng):
    """The products of one training step: ``(name, A, B, out)`` with float32 operands, ``out = A @ B``."""
    products = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        x = rng.random((batch, n_in), dtype=np.float32)
        W = rng.standard_normal((n_out, n_in), dtype=np.float32)
        delta = rng.standard_normal((batch, n_out), dtype=np.float32)
        products.append((f"layer {i + 1} forward", x, W.T, np.empty((batch, n_out), np.float32)))
        products.append((f"layer {i + 1} dW", delta.T, x, np.empty((n_out, n_in), np.float32)))
        if i:
            products.append((f"layer {i + 1} dX", delta, W, np.empty((batch, n_in), np.float32)))
    return products


def _best(run, repeats, inner):
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            run()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def time_step(products, torch, threads, blas, repeats=7):
    """``{"numpy": s, "pytorch": s}``: one step's products on ``threads`` threads, the libraries alternating."""
    def tensor(a):                     # a transposed view stays a transposed view, as in PyTorch's autograd
        return torch.from_numpy(a) if a.flags.c_contiguous else torch.from_numpy(a.T).t()

    tensors = [(tensor(a), tensor(b), tensor(out)) for _, a, b, out in products]

    def numpy_step():
        for _, a, b, out in products:
            np.matmul(a, b, out=out)

    def torch_step():
        for a, b, out in tensors:
            torch.mm(a, b, out=out)

    start = time.perf_counter()
    numpy_step()
    inner = max(1, min(200, int(0.05 / max(time.perf_counter() - start, 1e-6))))
    torch.set_num_threads(threads)
    times = {"numpy": float("inf"), "pytorch": float("inf")}
    with torch.no_grad(), blas(threads):
        for turn in range(2):
            for name, run in ((("numpy", numpy_step), ("pytorch", torch_step)) if turn == 0
                              else (("pytorch", torch_step), ("numpy", numpy_step))):
                times[name] = min(times[name], _best(run, repeats, inner))
    return times


def ceilings(rows, results_path):
    """For each row of a benchmark run: baseline s/epoch / NumPy products s/epoch, per baseline."""
    runs = json.loads(Path(results_path).read_text())
    out = []
    for entry in runs.get("training", []):
        if entry["dataset"] != "fashion-mnist":
            continue
        row = next((r for r in rows if r["network"] == entry["network"] and r["batch"] == entry["batch"]), None)
        if row is None:
            continue
        products = row["numpy_epoch"] * entry["n_train"] / N_SAMPLES
        out.append({"network": entry["network"], "batch": entry["batch"], "numpy_products_epoch": products,
                    "libraries": {lib: {"s_per_epoch": r["median"], "ceiling": r["median"] / products}
                                  for lib, r in entry["results"].items()}})
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gemm_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=None, help="a results.json for the ceilings")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--networks", default="A,B,deep")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    args = parser.parse_args(argv)
    import threadpoolctl
    import torch

    cores = len(os.sched_getaffinity(0))
    thread_counts = sorted({1, cores})
    rng = np.random.default_rng(0)
    rows = []
    for net_name in args.networks.split(","):
        for batch in map(int, args.batches.split(",")):
            products = step_products(NETWORKS[net_name], batch, rng)
            per = {t: time_step(products, torch, t, lambda n: threadpoolctl.threadpool_limits(n, user_api="blas"))
                   for t in thread_counts}
            steps = -(-N_SAMPLES // batch)
            row = {"network": net_name, "batch": batch, "per_threads": {str(t): v for t, v in per.items()},
                   "numpy_epoch": min(v["numpy"] for v in per.values()) * steps,
                   "pytorch_epoch": min(v["pytorch"] for v in per.values()) * steps}
            rows.append(row)
            print(f"{net_name}/{batch}: products per epoch NumPy {row['numpy_epoch']:.3f} s, "
                  f"PyTorch {row['pytorch_epoch']:.3f} s ({row['numpy_epoch'] / row['pytorch_epoch']:.2f}x)",
                  flush=True)
    blas = threadpoolctl.threadpool_info()
    machine = {"cpu": _cpu(), "cores": cores, "numpy": np.__version__, "torch": torch.__version__,
               "numpy_blas": [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
                              for i in blas if i.get("user_api") == "blas"],
               "torch_blas": "MKL" if torch.backends.mkl.is_available() else "other",
               "load": os.getloadavg(), "python": platform.python_version()}
    result = {"machine": machine, "rows": rows,
              "ceilings": ceilings(rows, args.results) if args.results else None}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gemm-check.json").write_text(json.dumps(result, indent=1))
    (args.out / "gemm-check.md").write_text(render(result))
    print(f"wrote {args.out / 'gemm-check.md'}")


def _cpu():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def render(result):
    m = result["machine"]
    lines = ["# The matrix products alone: NumPy's BLAS and PyTorch's", "",
             "Command: `python -m benchmarks.gemm_check" + (" --results results.json`" if result["ceilings"] else "`"),
             "", f"- CPU: {m['cpu']}, {m['cores']} cores; load average at the end: "
             + ", ".join(f"{v:.2f}" for v in m["load"]),
             f"- NumPy {m['numpy']} with {', '.join(m['numpy_blas'])}; PyTorch {m['torch']} with {m['torch_blas']}",
             "- One training step's products (forward, dW, and dX but for the first layer), float32, best of "
             "7 repetitions, the libraries alternating; per epoch of 60,000 samples with each library's "
             "faster thread count.", "",
             "| network | batch | NumPy products, s/epoch | PyTorch products, s/epoch | NumPy / PyTorch |",
             "|---|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['network']} | {r['batch']} | {r['numpy_epoch']:.3f} | {r['pytorch_epoch']:.3f} | "
                     f"{r['numpy_epoch'] / r['pytorch_epoch']:.2f}x |")
    if result["ceilings"]:
        libs = []
        for c in result["ceilings"]:
            libs += [lib for lib in c["libraries"] if lib not in libs and lib != "glassnet"]
        lines += ["", "## Ceilings: the most glassnet could gain if nothing but its products took time", "",
                  "baseline s/epoch / NumPy products s/epoch (from the results.json given); a target above its "
                  "ceiling cannot be reached by any NumPy-only code on this machine.", "",
                  "| network | batch | glassnet now | " + " | ".join(libs) + " |",
                  "|---|---:|---:|" + "---:|" * len(libs)]
        for c in result["ceilings"]:
            g = c["libraries"].get("glassnet")
            cells = [f"{c['libraries'][lib]['ceiling']:.2f}x" if lib in c["libraries"] else "-" for lib in libs]
            now = f"{g['s_per_epoch'] / c['numpy_products_epoch']:.2f}x products" if g else "-"
            lines.append(f"| {c['network']} | {c['batch']} | {now} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
