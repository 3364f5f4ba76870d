"""``python -m benchmarks.profile_step``: where one training step of network A at batch 64 spends its time.

Runs ``fit`` (one epoch, SGD momentum 0.9, float32, the first ``--samples`` Fashion-MNIST images, one
BLAS thread so the shares do not depend on thread hand-over) under cProfile and groups the time spent
in each function into the parts of a step: the matrix products (``Dense`` passes), the element-wise
work (activations, loss), the optimizer, the divergence check, the batch gathering, and the loop's
bookkeeping (everything else). Prints CPU microseconds per step and percentages. cProfile's own overhead
inflates the Python parts; compare percentages between revisions (``PYTHONPATH=other/src``), not the
seconds, and on a quiet machine.
"""

import argparse
import cProfile
import os
import pstats
import time

import numpy as np

from . import workers
from .__main__ import FASHION

PARTS = (("matrix products (Dense forward/backward)", ("layers.py:forward", "layers.py:backward")),
         ("element-wise: activations", ("activations.py",)),
         ("element-wise: loss", ("losses.py",)),
         ("optimizer step", ("optimizers.py",)),
         ("divergence check", ("_all_finite",)),
         ("batch gathering", ("_gather", "take")))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_step", description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20_000, help="training images (default 20000)")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    import glassnet as gn

    dataset = FASHION if os.path.exists(os.path.join(FASHION, "train-images-idx3-ubyte.gz")) else "digits"
    X, y, _, _ = workers.load_data(dataset, args.samples)
    net, optimizer = gn.Network.mlp([784, 128, 64, 10], seed=0), gn.SGD(0.01, momentum=0.9)
    kwargs = {"threads": 1} if "threads" in gn.training.fit.__code__.co_varnames else {}
    net.fit(X, y, epochs=1, batch_size=args.batch, optimizer=optimizer, seed=1, **kwargs)        # warm up
    profile = cProfile.Profile(time.process_time)      # CPU time: waiting for a busy core is not counted
    profile.enable()
    net.fit(X, y, epochs=1, batch_size=args.batch, optimizer=optimizer, seed=2, **kwargs)
    profile.disable()
    steps = -(-len(X) // args.batch)
    totals = {name: 0.0 for name, _ in PARTS}
    totals["loop bookkeeping (the rest)"] = 0.0
    stats = pstats.Stats(profile).stats
    for key, (_, _, tottime, _, callers) in stats.items():
        if key[0] == "~" and callers:       # a C function (ndarray.sum, np.take...): counted with its caller
            key = max(callers, key=lambda caller: callers[caller][2])
        totals[_part(key)] += tottime
    whole = sum(totals.values())
    print(f"glassnet {gn.__version__} from {os.path.dirname(gn.__file__)}; {steps} steps of batch {args.batch}; "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, seconds in totals.items():
        print(f"| {name} | {seconds / steps * 1e6:.0f} us | {seconds / whole * 100:.0f}% |")
    print(f"| total | {whole / steps * 1e6:.0f} us | 100% |")
    return 0


def _part(key):
    filename, _, function = key
    where = f"{os.path.basename(filename)}:{function}"
    return next((name for name, keys in PARTS if any(k in where for k in keys)), "loop bookkeeping (the rest)")


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
