"""``python -m benchmarks.pytorch_check``: why a PyTorch epoch can look slower inside a benchmark than alone.

Trains PyTorch (network A, batch 64, SGD momentum 0.9, Fashion-MNIST, the thread budget) in this
process, epoch by epoch, the variants taking turns so they share the machine's load:

- ``plain``: the loop of ``workers.TorchWorker`` (gather ``X[idx]`` per batch, ``loss.item()`` every step);
- ``no-item``: the same without ``loss.item()``;
- ``slices``: the data permuted once per epoch (outside the timer), then contiguous slices (no gather);
- ``after-neighbour``: ``plain`` right after another worker process (the textbook loop, BLAS on every
  thread like scikit-learn's; alive beside it, as in
  ``--mode interleaved``) has trained an epoch, so any BLAS threads it left spinning compete with PyTorch's.

Prints the median seconds per epoch of each and the ratio to ``plain``. Run it on a quiet machine.
"""

import argparse
import os
import time

import numpy as np

from . import workers
from .__main__ import FASHION, LR, NETWORKS, Worker


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pytorch_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs per variant (default 4)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads")
    parser.add_argument("--samples", type=int, default=None, help="use the first N training images")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    dataset = FASHION if os.path.exists(os.path.join(FASHION, "train-images-idx3-ubyte.gz")) else "digits"
    X, y, _, _ = workers.load_data(dataset, args.samples)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    sizes = NETWORKS["A"]
    neighbour = Worker("textbook", args.threads, dataset, args.samples)     # BLAS on every thread, like sklearn
    neighbour("setup", sizes, _weights(sizes), LR, 64)
    variants = ("plain", "no-item", "slices", "after-neighbour")
    times = {v: [] for v in variants}
    try:
        for epoch in range(args.epochs + 1):                    # epoch 0 warms up and is not counted
            for variant in (variants if epoch % 2 else variants[::-1]):
                model, optimizer = _model(torch, sizes)
                if variant == "after-neighbour":
                    neighbour("epoch", 1000 + epoch)
                seconds = _epoch(torch, model, optimizer, Xt, yt, workers.epoch_order(1000 + epoch, len(X)),
                                 item=variant != "no-item", gather=variant != "slices")
                if epoch:
                    times[variant].append(seconds)
    finally:
        neighbour.stop()
    base = float(np.median(times["plain"]))
    print(f"PyTorch {torch.__version__}, {args.threads} threads, {len(X):,} samples, load average "
          f"{os.getloadavg()[0]:.1f}")
    for variant in variants:
        median = float(np.median(times[variant]))
        print(f"{variant:15s} {median:.3f} s/epoch  ({median / base:.2f}x plain)")
    return 0


def _weights(sizes):
    import glassnet as gn

    return [p for _, p in gn.Network.mlp(sizes, seed=0).named_parameters()]


def _model(torch, sizes):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    return model, torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)


def _epoch(torch, model, optimizer, Xt, yt, order, item=True, gather=True):
    order = torch.from_numpy(order)
    if not gather:
        Xt, yt = Xt[order], yt[order]                          # permuted once, before the timer
    loss_fn, total = torch.nn.functional.cross_entropy, 0.0
    started = time.perf_counter()
    for start in range(0, len(Xt), 64):
        if gather:
            idx = order[start:start + 64]
            xb, yb = Xt[idx], yt[idx]
        else:
            xb, yb = Xt[start:start + 64], yt[start:start + 64]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        if item:
            total += loss.item()
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
