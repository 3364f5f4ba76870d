"""Arrays on cache lines (glassnet._memory): where fit keeps its parameters, gradients, optimizer state and buffers."""

import copy
import pickle

import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers
from glassnet._memory import ALIGN, address, aligned_copy, aligned_zeros
from glassnet.layers import Buffers, Dense


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64, bool])
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (3, 5), (2, 3, 4), 6, (0, 784)])
@pytest.mark.parametrize("phase", [0, 16, 32])
def test_aligned_zeros_starts_where_asked_and_holds_zeros(dtype, shape, phase):
    a = aligned_zeros(shape, dtype, phase=phase)
    want = (shape,) if isinstance(shape, int) else shape
    assert a.shape == want and a.dtype == np.dtype(dtype) and a.flags.c_contiguous and a.flags.writeable
    assert a.flags.aligned and not a.any()
    if a.size:
        assert address(a) % ALIGN == phase
    a[...] = 1                                     # writeable all the way to the end
    assert a.all() or a.size == 0


def test_views_of_a_1d_aligned_array_have_it_as_base_like_any_array():
    flat = aligned_zeros(100, np.float32)
    view = flat[16:32].reshape(4, 4)
    assert view.base is flat
    assert aligned_zeros((4, 4), np.float32)[:2].base is not None


def test_aligned_copy_keeps_shape_dtype_and_numbers():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 3))[:, ::2]            # a strided view
    b = aligned_copy(a)
    assert address(b) % ALIGN == 0 and b.dtype == a.dtype and b.flags.c_contiguous
    np.testing.assert_array_equal(a, b)
    b[0, 0] = 99.0
    assert a[0, 0] != 99.0                         # a copy, not a view


def _aligned(arrays):
    return all(address(a) % ALIGN == 0 for a in arrays)


def test_dense_parameters_start_on_cache_lines_when_made_copied_converted_or_unpickled():
    layer = Dense(13, 7, seed=0)
    assert _aligned(layer.params.values()) and _aligned(layer.grads.values())
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer)), Dense(13, 7, seed=0).astype(np.float64)):
        assert _aligned(other.params.values()) and _aligned(other.grads.values())
    twin = copy.deepcopy(layer)
    for name in layer.params:
        np.testing.assert_array_equal(twin.params[name], layer.params[name])
        assert not np.shares_memory(twin.params[name], layer.params[name])
    assert Dense(13, 7, seed=0).astype(np.float64).params["weights"].dtype == np.float64


def test_buffers_hand_out_arrays_on_cache_lines():
    b = Buffers()
    assert address(b.array("z", (64, 10), np.float32)) % ALIGN == 0
    assert address(b.array("z", (100, 10), np.float32)) % ALIGN == 0   # grown: a new array, aligned too


def test_fit_packs_each_parameter_on_a_cache_line_and_the_gaps_stay_zero():
    rng = np.random.default_rng(0)
    X, y = rng.random((96, 13)).astype(np.float32), rng.integers(0, 3, 96)
    net = gn.Network.mlp([13, 5, 3], seed=0)          # sizes that are not multiples of a cache line
    opt = gn.SGD(0.1, momentum=0.9)
    net.fit(X, y, epochs=2, batch_size=32, seed=0, optimizer=opt)
    params, grads = net.parameters(), net.gradients()
    assert _aligned(params) and _aligned(grads)
    for arrays in (params, grads, [opt.state[i]["velocity"] for i in range(len(params))]):
        base, offsets = optimizers.packed_offsets(arrays)
        used = np.zeros(base.size, bool)
        for a, offset in zip(arrays, offsets):
            used[offset:offset + a.size] = True
        assert not used.all()                        # there are gaps between the pieces here ...
        assert not base[~used].any()                 # ... and they hold zeros after training


def test_the_packed_update_is_planned_once_per_fit_not_per_step(monkeypatch):
    rng = np.random.default_rng(0)
    X, y = rng.random((96, 13)).astype(np.float32), rng.integers(0, 3, 96)
    net = gn.Network.mlp([13, 5, 3], seed=0)
    calls = []
    original = optimizers.aligned_zeros
    monkeypatch.setattr(optimizers, "aligned_zeros", lambda *a, **k: calls.append(a) or original(*a, **k))
    opt = gn.SGD(0.1, momentum=0.9)
    net.fit(X, y, epochs=3, batch_size=16, seed=0, optimizer=opt)          # 18 steps
    assert len(calls) == 2                                                  # the velocity and the scratch array
    net.fit(X, y, epochs=1, batch_size=16, seed=0, optimizer=opt)
    assert len(calls) == 2                                                  # and kept by the next fit


def test_packed_accepts_pieces_on_cache_lines_and_refuses_a_piece_left_out():
    flat = aligned_zeros(48, np.float32)              # 16 float32 per cache line
    a, b, c = flat[0:6].reshape(2, 3), flat[16:20], flat[32:40]
    assert optimizers.packed([a, b, c]) is flat        # each on the next cache line, the end padded
    assert optimizers.packed_offsets([a, b, c])[1] == [0, 16, 32]
    assert optimizers.packed([a, c]) is None           # b left out: a whole cache line between them
    assert optimizers.packed([b, c]) is None           # the first piece must start the array
    assert optimizers.packed([a, b]) is None           # c left out at the end
    assert optimizers.packed([a, flat[8:20]]) is None  # a gap that does not end on a cache line


@pytest.mark.parametrize("phase", [0, 8, 16, 24, 32, 40, 48, 56])
def test_a_small_piece_left_out_is_noticed_wherever_the_array_starts(phase):
    """Pieces one after the other: leaving out the last (32 bytes) must not pass for a cache line's padding."""
    flat = aligned_zeros(10, np.float64, phase=phase)
    a, b = flat[:6].reshape(2, 3), flat[6:]
    assert optimizers.packed([a, b]) is flat
    assert optimizers.packed([a]) is None and optimizers.packed([b]) is None and optimizers.packed([b, a]) is None
