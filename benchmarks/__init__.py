"""glassnet's benchmarks: ``python -m benchmarks`` (``--quick`` for a short smoke run).

Trains the same networks, from the same initial weights, in the same batch order, with glassnet,
PyTorch (CPU) and scikit-learn, interleaved epoch by epoch in one process tree, and writes
``benchmarks/results.md`` and ``benchmarks/results.json``. See ``benchmarks/README.md``.

Nothing here is imported by glassnet itself.
"""
