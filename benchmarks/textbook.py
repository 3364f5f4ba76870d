"""The baseline a sceptical reader writes first: a textbook NumPy MLP training loop, no glassnet code.

A ReLU network with a softmax cross-entropy loss, trained by mini-batch SGD with PyTorch's momentum
convention (``v = mu v + g``, ``w -= lr v``), every array allocated afresh as the formulas read. It is
the yardstick for "the work around the matrix products": glassnet does the same products, so any time
it spends beyond this loop is overhead. Not here: checks, callbacks, accuracy bookkeeping.
"""

import numpy as np


class TextbookMLP:
    """``weights[i]`` is ``(n_out, n_in)`` (as glassnet and PyTorch), so all three start from the same numbers."""

    def __init__(self, weights, biases, lr=0.01, momentum=0.9):
        self.W = [np.array(w, dtype=np.float32) for w in weights]
        self.b = [np.array(b, dtype=np.float32) for b in biases]
        self.vW = [np.zeros_like(w) for w in self.W]
        self.vb = [np.zeros_like(b) for b in self.b]
        self.lr, self.momentum = lr, momentum

    def forward(self, X):
        """Every layer's output, the input first; the last one is the logits."""
        a = [X]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = a[-1] @ W.T + b
            a.append(z if i == len(self.W) - 1 else np.maximum(z, 0))
        return a

    def step(self, X, y):
        """One mini-batch: forward, softmax cross-entropy, backward, SGD with momentum. Returns the loss."""
        a = self.forward(X)
        z = a[-1] - a[-1].max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        n = len(X)
        loss = -np.log(p[np.arange(n), y] + 1e-12).mean()
        delta = p
        delta[np.arange(n), y] -= 1
        delta /= n                                   # dL/dz of the mean loss
        for i in reversed(range(len(self.W))):
            gW = delta.T @ a[i]
            gb = delta.sum(axis=0)
            if i > 0:
                delta = (delta @ self.W[i]) * (a[i] > 0)
            self.vW[i] = self.momentum * self.vW[i] + gW
            self.vb[i] = self.momentum * self.vb[i] + gb
            self.W[i] -= self.lr * self.vW[i]
            self.b[i] -= self.lr * self.vb[i]
        return float(loss)

    def epoch(self, X, y, order, batch_size):
        """One pass in the given sample order; returns the mean loss."""
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            total += self.step(X[idx], y[idx]) * len(idx)
        return total / len(order)

    def predict(self, X):
        return self.forward(X)[-1].argmax(axis=1)
