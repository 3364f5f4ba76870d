"""Benchmark workers: one child process per library, driven by the parent over a pipe.

Each worker loads the data once, then obeys small commands (set up a network from given
weights, train one epoch in a given order, measure accuracy, prediction latency, memory).
Running each library in its own process keeps their memory use (peak RSS) and thread pools
apart, while the parent interleaves their epochs so that both see the same machine load.

The training loops here are the plain ones each library's users write: glassnet's ``fit``,
a textbook NumPy loop (``textbook.py``), neural-network-digits' ``train_step`` loop (the peer
library from the package index), a PyTorch loop over preloaded tensors, scikit-learn's
``MLPClassifier``. Each worker reports the load average before and after each epoch.
"""

import os
import resource
import time
import warnings

import numpy as np


def load_data(name, n_train=None):
    """``(X_train, y_train, X_test, y_test)`` as float32 pixels in [0, 1] and int64 labels."""
    import glassnet as gn

    if name == "digits":
        data = gn.datasets.load_digits()
    else:
        data = gn.datasets.load(name, progress=False)
    X, y = np.ascontiguousarray(data.X_train, dtype=np.float32), np.asarray(data.y_train, dtype=np.int64)
    if n_train is not None:
        X, y = X[:n_train], y[:n_train]
    return X, y, np.ascontiguousarray(data.X_test, dtype=np.float32), np.asarray(data.y_test, dtype=np.int64)


def epoch_order(seed, n):
    """The sample order of one epoch: exactly what ``glassnet.fit(seed=seed, epochs=1)`` uses."""
    return np.random.default_rng([seed, 1]).permutation(n)


def memory():
    """``(peak RSS, current RSS)`` of this process in bytes.

    The peak is the kernel's high-water mark of this process's own memory (``VmHWM``), not
    ``getrusage``'s ``ru_maxrss``: a worker is started by fork and exec from the parent, and Linux
    carries the larger of the two across exec into ``ru_maxrss``, so every worker used to report
    the parent's peak (the same number for every library). ``ru_maxrss`` only where there is no
    ``/proc`` (not Linux).
    """
    status = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    status[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    peak = status.get("VmHWM", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return peak, status.get("VmRSS", 0)


def _latency(predict, x_one, x_batch, seconds=0.5):
    """Median seconds of ``predict`` on one sample and on a batch of 1000 (after a warm-up)."""
    out = {}
    for name, x in (("single", x_one), ("batch1000", x_batch)):
        for _ in range(20):
            predict(x)
        times = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline or len(times) < 20:
            t = time.perf_counter()
            predict(x)
            times.append(time.perf_counter() - t)
        out[name] = float(np.median(times))
    return out


# -- one class per library ------------------------------------------------------------------
def _budget(threads):
    """Limit BLAS to the run's thread budget when it is below the cores (else leave the library as installed)."""
    if threads < len(os.sched_getaffinity(0)):
        import threadpoolctl

        return threadpoolctl.threadpool_limits(threads, user_api="blas")
    return None


class GlassnetWorker:
    """``Network.fit`` as installed by default: glassnet decides its BLAS threads itself (``glassnet.threads``)."""

    def __init__(self, threads):
        import glassnet as gn

        self.gn = gn
        self.threads = threads
        self.limit = _budget(threads)

    def setup(self, sizes, weights, lr, batch_size):
        self.net = self.gn.Network.mlp(sizes, seed=0)
        self.net.set_weights({name: w for name, w in zip([n for n, _ in self.net.named_parameters()], weights)})
        self.optimizer = self.gn.SGD(lr=lr, momentum=0.9)
        self.batch_size = batch_size

    def epoch(self, X, y, seed):
        started = time.perf_counter()
        history = self.net.fit(X, y, epochs=1, batch_size=self.batch_size, optimizer=self.optimizer, seed=seed)
        return {"seconds": history.seconds[-1], "wall": time.perf_counter() - started,
                "threads": self.gn.training.blas_threads_for(self.net, self.batch_size)}      # cached by fit

    def accuracy(self, X, y):
        return float(np.mean(self.net.predict(X) == y))

    def latency(self, X):
        return _latency(self.net.predict, X[:1], X[:1000])


class TextbookWorker:
    """The textbook NumPy loop of ``textbook.py`` (BLAS with the run's thread budget, as installed)."""

    def __init__(self, threads):
        self.threads = threads
        self.limit = _budget(threads)

    def setup(self, sizes, weights, lr, batch_size):
        from .textbook import TextbookMLP

        self.model = TextbookMLP(weights[0::2], weights[1::2], lr=lr, momentum=0.9)
        self.batch_size = batch_size

    def epoch(self, X, y, seed):
        started = time.perf_counter()
        self.model.epoch(X, y, epoch_order(seed, len(X)), self.batch_size)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "wall": seconds, "threads": self.threads}

    def accuracy(self, X, y):
        return float(np.mean(self.model.predict(X) == y))

    def latency(self, X):
        return _latency(self.model.predict, X[:1], X[:1000])


class PeerWorker:
    """neural-network-digits (``pip install neural-network-digits``): its ``NeuralNetwork.train_step`` loop.

    The loop its own trainer runs: one-hot targets, ``train_step(X, Y, lr, momentum, l2)`` per mini-batch
    (here ``l2=0`` like the others; its momentum ``v = mu v - lr g`` equals PyTorch's at a constant rate).
    """

    def __init__(self, threads):
        from nn_digits.neural_net.network import NeuralNetwork

        self.cls = NeuralNetwork
        self.threads = threads
        self.limit = _budget(threads)

    def setup(self, sizes, weights, lr, batch_size):
        self.model = self.cls(tuple(sizes), activation="relu", seed=0)
        self.model.weights = [np.ascontiguousarray(w.T, dtype=np.float32) for w in weights[0::2]]   # (n_in, n_out)
        self.model.biases = [np.array(b, dtype=np.float32) for b in weights[1::2]]
        self.model.weight_velocity = [np.zeros_like(w) for w in self.model.weights]
        self.model.bias_velocity = [np.zeros_like(b) for b in self.model.biases]
        self.lr, self.batch_size = lr, batch_size

    def epoch(self, X, y, seed):
        onehot = np.eye(self.model.layers[-1], dtype=np.float32)[y]
        order = epoch_order(seed, len(X))
        started = time.perf_counter()
        for start in range(0, len(X), self.batch_size):
            idx = order[start:start + self.batch_size]
            self.model.train_step(X[idx], onehot[idx], self.lr, momentum=0.9, l2=0.0)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "wall": seconds, "threads": self.threads}

    def accuracy(self, X, y):
        return float(np.mean(self.model.predict(X).argmax(axis=1) == y))

    def latency(self, X):
        return _latency(lambda x: self.model.predict(x).argmax(axis=1), X[:1], X[:1000])


class TorchWorker:
    def __init__(self, threads):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        self.threads = threads

    def setup(self, sizes, weights, lr, batch_size):
        torch = self.torch
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            linear = torch.nn.Linear(n_in, n_out)
            with torch.no_grad():                    # the very same initial weights as glassnet
                linear.weight.copy_(torch.from_numpy(weights[2 * i]))
                linear.bias.copy_(torch.from_numpy(weights[2 * i + 1]))
            layers.append(linear)
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=0.9)
        self.batch_size = batch_size
        self.tensors = None

    def epoch(self, X, y, seed):
        torch = self.torch
        if self.tensors is None or self.tensors[0].shape[0] != len(X):
            self.tensors = (torch.from_numpy(X), torch.from_numpy(y))      # preloaded, no DataLoader
        Xt, yt = self.tensors
        order = torch.from_numpy(epoch_order(seed, len(X)))
        model, optimizer, loss_fn, bs = self.model, self.optimizer, torch.nn.functional.cross_entropy, self.batch_size
        model.train()
        started = time.perf_counter()
        total = 0.0
        for start in range(0, len(X), bs):
            idx = order[start:start + bs]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            total += loss.item()                     # what a plain loop logs (and would check for NaN)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "wall": seconds, "threads": self.threads}

    def accuracy(self, X, y):
        with self.torch.inference_mode():
            return float((self.model(self.torch.from_numpy(X)).argmax(1).numpy() == y).mean())

    def latency(self, X):
        torch, model = self.torch, self.model
        model.eval()

        def predict(x):
            with torch.inference_mode():
                return model(torch.from_numpy(x)).argmax(1).numpy()
        return _latency(predict, X[:1], X[:1000])


class SklearnWorker:
    def __init__(self, threads):
        self.threads = threads
        self.limit = _budget(threads)

    def setup(self, sizes, weights, lr, batch_size):
        from sklearn.neural_network import MLPClassifier

        self.n_classes = sizes[-1]
        # One epoch per fit call (max_iter=1, warm_start); no L2 penalty and plain momentum, like the others.
        self.model = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), solver="sgd", learning_rate_init=lr,
                                   momentum=0.9, nesterovs_momentum=False, alpha=0.0, batch_size=batch_size,
                                   max_iter=1, warm_start=True, shuffle=True, random_state=0, tol=0.0,
                                   n_iter_no_change=10**9)

    def epoch(self, X, y, seed):
        from sklearn.exceptions import ConvergenceWarning

        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(X, y)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "wall": seconds, "threads": self.threads, "dtype": str(self.model.coefs_[0].dtype)}

    def accuracy(self, X, y):
        return float(np.mean(self.model.predict(X) == y))

    def latency(self, X):
        if not hasattr(self.model, "coefs_"):
            # No epoch ran (``--skip train``): scikit-learn predicts only once fitted. One epoch on a few
            # images with every class, so the network has its final shape; the time to predict does
            # not depend on the weights' values.
            n_classes = self.n_classes
            few = X[:max(n_classes, 64)]
            self.epoch(few, np.arange(len(few)) % n_classes, 0)
        return _latency(self.model.predict, X[:1], X[:1000])


WORKERS = {"glassnet": GlassnetWorker, "textbook": TextbookWorker, "peer": PeerWorker, "pytorch": TorchWorker,
           "sklearn": SklearnWorker}
#: The module each library needs (a library whose module is missing is left out of the run).
MODULES = {"glassnet": "glassnet", "textbook": "numpy", "peer": "nn_digits", "pytorch": "torch",
           "sklearn": "sklearn"}


def serve(conn, kind, threads, dataset, n_train):
    """The child's loop: answer commands from the parent until told to stop."""
    try:
        worker = WORKERS[kind](threads)
        X, y, X_test, y_test = load_data(dataset, n_train)
        conn.send({"ok": True, "pid": os.getpid()})
    except Exception as exc:  # noqa: BLE001 - report any failure to the parent, which decides
        conn.send({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    while True:
        command, args = conn.recv()
        try:
            if command == "stop":
                conn.send({"ok": True})
                return
            if command == "setup":
                worker.setup(*args)
                result = None
            elif command == "epoch":
                load = os.getloadavg()[0]
                result = worker.epoch(X, y, *args)
                result["load"] = (load, os.getloadavg()[0])
            elif command == "accuracy":
                result = worker.accuracy(X_test, y_test)
            elif command == "latency":
                result = worker.latency(X_test)
            elif command == "memory":
                result = memory()
            else:
                raise ValueError(f"unknown command {command!r}")
            conn.send({"ok": True, "result": result})
        except Exception as exc:  # noqa: BLE001
            conn.send({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
