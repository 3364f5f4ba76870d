"""An independent oracle for the gradient tests: central finite differences, written once here
and deliberately not using glassnet.gradcheck."""

import numpy as np


def numeric_grad(f, w, h=1e-6):
    """Central differences of the scalar f() with respect to every entry of w (perturbed in place)."""
    grad = np.zeros_like(w, dtype=np.float64)
    flat, gflat = w.reshape(-1), grad.reshape(-1)
    for j in range(flat.size):
        original = flat[j]
        flat[j] = original + h
        plus = f()
        flat[j] = original - h
        minus = f()
        flat[j] = original
        gflat[j] = (plus - minus) / (2 * h)
    return grad


def rel_error(a, b):
    """||a - b|| / (||a|| + ||b||): 0 when equal, 1 when unrelated."""
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))
