"""``python -m benchmarks.revisions BASE [--rounds N]``: did a change slow glassnet down?

Compares the glassnet of the working tree with the glassnet of another git revision (a commit, a
tag, ``main~5``) on the rows a refactor can move: one epoch of network A (784-128-64-10) at batch
64 and network B (784-256-128-10, as in ``python -m benchmarks``) at batch 256 on Fashion-MNIST from Debian's
``dataset-fashion-mnist`` (the bundled digits, 8,004 training images, when it is not installed), and
single-image / 1000-image prediction. The other revision is checked out with ``git worktree`` into
a temporary folder. Each measurement runs in a fresh process (``PYTHONPATH`` pointing at one
revision's ``src``), and the two revisions alternate round by round, so both see the same machine;
the table gives medians and the ratio new / old.
Not here: comparisons with other libraries (``python -m benchmarks``).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: One measurement, run in a child process: prints a JSON dict of seconds.
CHILD = r"""
import json, os, sys, time
import numpy as np
import glassnet as gn
what, epochs = sys.argv[1], int(sys.argv[2])
DEBIAN = "/usr/share/datasets/fashion-mnist"          # Debian's dataset-fashion-mnist (60,000 training images)
data = gn.datasets.load(DEBIAN) if os.path.isdir(DEBIAN) else gn.datasets.load_digits()
X = np.ascontiguousarray(data.X_train, dtype=np.float32)
y = np.asarray(data.y_train, dtype=np.int64)
out = {}
if what == "train":
    for name, sizes, batch in (("A/64", [784, 128, 64, 10], 64), ("B/256", [784, 256, 128, 10], 256)):
        net = gn.Network.mlp(sizes, seed=0)
        net.fit(X[:1000], y[:1000], epochs=1, batch_size=batch, optimizer=gn.SGD(0.01, momentum=0.9), seed=0)
        times = []
        for e in range(epochs):
            t = time.perf_counter()
            net.fit(X, y, epochs=1, batch_size=batch, optimizer=gn.SGD(0.01, momentum=0.9), seed=e)
            times.append(time.perf_counter() - t)
        out[f"train {name} s/epoch"] = float(np.median(times))
else:
    net = gn.Network.mlp([784, 128, 64, 10], seed=0)
    for label, x in (("predict 1 image us", X[:1]), ("predict 1000 images us", X[:1000])):
        for _ in range(50):
            net.predict(x)
        times = []
        for _ in range(300 if len(x) == 1 else 60):
            t = time.perf_counter()
            net.predict(x)
            times.append(time.perf_counter() - t)
        out[label] = float(np.median(times)) * 1e6
print(json.dumps(out))
"""


def measure(src, what, epochs):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["PYTHONPATH"] = str(src)
    proc = subprocess.run([sys.executable, "-c", CHILD, what, str(epochs)], env=env, capture_output=True,
                          text=True, timeout=1800, cwd=tempfile.gettempdir())
    if proc.returncode:
        raise SystemExit(f"measurement failed in {src}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.revisions", description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the git revision to compare with (e.g. a commit before the change)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per revision (default 3)")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per training measurement (default 2)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.base],
                       check=True, capture_output=True)
        try:
            runs = {"old": [], "new": []}
            for _ in range(args.rounds):
                for label, src in (("old", worktree / "src"), ("new", ROOT / "src")):
                    row = measure(src, "train", args.epochs)
                    row.update(measure(src, "predict", args.epochs))
                    runs[label].append(row)
                    print(label, json.dumps(row), flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                           capture_output=True)
    print(f"\n| median of {args.rounds} rounds | {args.base} | working tree | new / old |\n|---|---:|---:|---:|")
    for key in runs["old"][0]:
        old = statistics.median(r[key] for r in runs["old"])
        new = statistics.median(r[key] for r in runs["new"])
        print(f"| {key} | {old:.4g} | {new:.4g} | {new / old:.3f} |")


if __name__ == "__main__":
    main()
