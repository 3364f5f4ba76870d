"""Datasets: labelled examples to learn from.

``load_digits()`` gives 10,000 real handwritten digits from MNIST, bundled with the
package (no download), split once into a fixed, stratified training and test set.
Nothing is read at import time.
"""

from .digits import Dataset, load_digits

__all__ = ["Dataset", "load_digits"]
