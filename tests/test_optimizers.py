"""Tests for glassnet.optimizers: every update is recomputed here from the documented formula.

Each optimizer runs 5 steps on small float64 arrays with a fixed gradient sequence and is compared
with a reference written out in this file; hand-worked steps pin the numbers; when torch is
installed, several steps are compared with torch.optim (float64).
"""

import json
import math

import numpy as np
import pytest

import glassnet as gn
from finite_differences import numeric_grad, rel_error
from glassnet import optimizers, schedules
from glassnet.optimizers import SGD, Adam, AdamW
from optional import need

N_STEPS = 5


def make_problem(seed=0, n_steps=N_STEPS):
    """Two parameter arrays (a matrix and a vector) and a gradient sequence for each step."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    grads = [[rng.normal(size=p.shape) for p in params] for _ in range(n_steps)]
    return params, grads


def run(opt, params, grads):
    params = [p.copy() for p in params]
    for step_grads in grads:
        opt.step(params, [g.copy() for g in step_grads])
    return params


# -- the documented formulas, written out independently ---------------------------------------

def reference_sgd(params, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """g <- g + wd w;  v <- mu v + g;  step = g + mu v (Nesterov) or v (or g without momentum);  w <- w - lr step."""
    ws = [p.copy() for p in params]
    vs = [np.zeros_like(p) for p in params]
    for step_grads in grads:
        for k, g in enumerate(step_grads):
            g = g + weight_decay * ws[k]
            if momentum:
                vs[k] = momentum * vs[k] + g
                step = g + momentum * vs[k] if nesterov else vs[k]
            else:
                step = g
            ws[k] = ws[k] - lr * step
    return ws


def reference_adam(params, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    """Adam with bias correction; L2 in the gradient (Adam) or decoupled shrinking (AdamW)."""
    ws = [p.copy() for p in params]
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    for t, step_grads in enumerate(grads, start=1):
        for k, g in enumerate(step_grads):
            if decoupled:
                ws[k] = ws[k] - lr * weight_decay * ws[k]
            else:
                g = g + weight_decay * ws[k]
            ms[k] = beta1 * ms[k] + (1 - beta1) * g
            vs[k] = beta2 * vs[k] + (1 - beta2) * g ** 2
            m_hat = ms[k] / (1 - beta1 ** t)
            v_hat = vs[k] / (1 - beta2 ** t)
            ws[k] = ws[k] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return ws


CONFIGS = {
    "sgd": (lambda: SGD(0.1), lambda p, g: reference_sgd(p, g, 0.1)),
    "sgd_momentum": (lambda: SGD(0.1, momentum=0.9), lambda p, g: reference_sgd(p, g, 0.1, momentum=0.9)),
    "sgd_nesterov": (lambda: SGD(0.05, momentum=0.8, nesterov=True),
                     lambda p, g: reference_sgd(p, g, 0.05, momentum=0.8, nesterov=True)),
    "sgd_weight_decay": (lambda: SGD(0.1, weight_decay=0.05), lambda p, g: reference_sgd(p, g, 0.1, weight_decay=0.05)),
    "sgd_momentum_weight_decay": (lambda: SGD(0.1, momentum=0.9, weight_decay=0.01),
                                  lambda p, g: reference_sgd(p, g, 0.1, momentum=0.9, weight_decay=0.01)),
    "sgd_nesterov_weight_decay": (lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                                  lambda p, g: reference_sgd(p, g, 0.1, momentum=0.9, nesterov=True,
                                                             weight_decay=0.01)),
    "adam": (lambda: Adam(0.01), lambda p, g: reference_adam(p, g, 0.01)),
    "adam_betas": (lambda: Adam(0.02, beta1=0.5, beta2=0.9, eps=1e-6),
                   lambda p, g: reference_adam(p, g, 0.02, beta1=0.5, beta2=0.9, eps=1e-6)),
    "adam_weight_decay": (lambda: Adam(0.01, weight_decay=0.1),
                          lambda p, g: reference_adam(p, g, 0.01, weight_decay=0.1)),
    "adamw": (lambda: AdamW(0.01, weight_decay=0.1),
              lambda p, g: reference_adam(p, g, 0.01, weight_decay=0.1, decoupled=True)),
    "adamw_default": (lambda: AdamW(), lambda p, g: reference_adam(p, g, 0.001, weight_decay=0.01, decoupled=True)),
    "adamw_no_decay": (lambda: AdamW(0.01, weight_decay=0.0), lambda p, g: reference_adam(p, g, 0.01)),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_five_steps_match_the_documented_formula(name):
    make, reference = CONFIGS[name]
    params, grads = make_problem(seed=1)
    opt = make()
    ours = run(opt, params, grads)
    expected = reference(params, grads)
    for w, e, w0 in zip(ours, expected, params):
        assert not np.allclose(w, w0)                    # the parameters moved
        np.testing.assert_allclose(w, e, rtol=1e-13, atol=1e-14)
    assert opt.iterations == N_STEPS


def test_adam_and_adamw_differ_when_decaying():
    params, grads = make_problem(seed=2)
    a = run(Adam(0.01, weight_decay=0.1), params, grads)
    b = run(AdamW(0.01, weight_decay=0.1), params, grads)
    assert not np.allclose(a[0], b[0])


def test_step_updates_in_place_and_leaves_gradients_alone():
    w = np.array([1.0, 2.0])
    g = np.array([0.5, -0.5])
    same = w
    SGD(0.1, momentum=0.9, weight_decay=0.1).step([w], [g])
    assert same is w
    np.testing.assert_array_equal(g, [0.5, -0.5])
    w32 = np.ones(3, dtype=np.float32)
    Adam(0.1).step([w32], [np.ones(3, dtype=np.float32)])
    assert w32.dtype == np.float32


# -- hand-worked examples ------------------------------------------------------------------

def test_sgd_momentum_two_steps_by_hand():
    w = np.array([1.0])
    opt = SGD(0.1, momentum=0.9)
    opt.step([w], [np.array([1.0])])
    # v = 0.9 * 0 + 1 = 1;        w = 1 - 0.1 * 1 = 0.9
    assert w[0] == pytest.approx(0.9, abs=1e-15)
    opt.step([w], [np.array([1.0])])
    # v = 0.9 * 1 + 1 = 1.9;      w = 0.9 - 0.1 * 1.9 = 0.71
    assert w[0] == pytest.approx(0.71, abs=1e-15)
    np.testing.assert_allclose(opt.state[0]["velocity"], [1.9])


def test_sgd_nesterov_and_weight_decay_one_step_by_hand():
    w = np.array([2.0])
    SGD(0.1, momentum=0.5, nesterov=True, weight_decay=0.25).step([w], [np.array([1.0])])
    # g = 1 + 0.25 * 2 = 1.5;  v = 1.5;  step = g + 0.5 v = 2.25;  w = 2 - 0.225 = 1.775
    assert w[0] == pytest.approx(1.775, abs=1e-15)


def test_adam_two_steps_by_hand():
    w = np.array([1.0])
    opt = Adam(0.1)
    opt.step([w], [np.array([2.0])])
    # m = 0.1 * 2 = 0.2, v = 0.001 * 4 = 0.004; m_hat = 0.2 / 0.1 = 2, v_hat = 0.004 / 0.001 = 4
    # w = 1 - 0.1 * 2 / (sqrt(4) + 1e-8) = 1 - 0.1 * (1 - 5e-9) = 0.9000000005
    assert w[0] == pytest.approx(0.9000000005, abs=1e-13)
    opt.step([w], [np.array([1.0])])
    # m = 0.9 * 0.2 + 0.1 * 1 = 0.28;  v = 0.999 * 0.004 + 0.001 * 1 = 0.004996
    # m_hat = 0.28 / (1 - 0.81) = 1.4736842;  v_hat = 0.004996 / (1 - 0.998001) = 2.4992496; sqrt = 1.5809015
    # w = 0.9000000005 - 0.1 * 1.4736842 / 1.5809015 = 0.9000000005 - 0.0932179633 = 0.8067820372
    assert w[0] == pytest.approx(0.8067820372, abs=1e-10)
    np.testing.assert_allclose(opt.state[0]["m"], [0.28], rtol=1e-14)
    np.testing.assert_allclose(opt.state[0]["v"], [0.004996], rtol=1e-14)


def test_adamw_one_step_by_hand():
    w = np.array([1.0])
    AdamW(0.1, weight_decay=0.1).step([w], [np.array([2.0])])
    # shrink: w = 1 * (1 - 0.1 * 0.1) = 0.99;  Adam step as above: 0.1 * (1 - 5e-9)  ->  w = 0.8900000005
    assert w[0] == pytest.approx(0.8900000005, abs=1e-13)


# -- saving and restoring ----------------------------------------------------------------------

ROUND_TRIP = {
    "sgd_momentum": lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "sgd_plain": lambda: SGD(0.05),
    "adam": lambda: Adam(0.01, weight_decay=0.1),
    "adamw": lambda: AdamW(0.01, beta1=0.8),
    "adam_cosine": lambda: Adam(schedules.Cosine(0.05, total_steps=8, min_lr=0.001)),
    "sgd_one_cycle": lambda: SGD(schedules.OneCycle(0.1, total_steps=8), momentum=0.9),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_state_dict_round_trip_continues_exactly(name):
    params, grads = make_problem(seed=3, n_steps=8)
    reference = ROUND_TRIP[name]()
    never_saved = run(reference, params, grads)

    first = ROUND_TRIP[name]()
    half = run(first, params, grads[:3])
    config, arrays = first.state_dict()
    config = json.loads(json.dumps(config))              # the settings are plain JSON
    arrays = {k: v.copy() for k, v in arrays.items()}
    restored = optimizers.from_config(config, arrays)
    assert type(restored) is type(first) and restored.iterations == 3
    assert restored.lr == first.lr
    resumed = run(restored, half, grads[3:])
    for a, b in zip(never_saved, resumed):
        np.testing.assert_array_equal(a, b)


def test_state_dict_names_the_buffers():
    opt = Adam(0.01)
    opt.step([np.zeros(2), np.zeros(3)], [np.ones(2), np.ones(3)])
    config, arrays = opt.state_dict()
    assert sorted(arrays) == ["0.m", "0.v", "1.m", "1.v"]
    assert config["type"] == "Adam" and config["iterations"] == 1
    assert config["lr"] == {"type": "Constant", "lr": 0.01}
    assert SGD(0.1).state_dict()[1] == {}
    with pytest.raises(ValueError, match="optimizer state is for 'Adam', this optimizer is SGD"):
        SGD(0.1).load_state_dict(config, arrays)
    with pytest.raises(ValueError, match="optimizer type expected one of"):
        optimizers.from_config({**config, "type": "RMSprop"}, arrays)


def test_get_by_name():
    assert isinstance(optimizers.get("sgd", lr=0.1), SGD)
    assert isinstance(optimizers.get("Adam"), Adam)
    opt = AdamW()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match="optimizer expected one of .* received 'lbfgs'"):
        optimizers.get("lbfgs")


# -- schedules drive the learning rate ------------------------------------------------------------

@pytest.mark.parametrize("schedule", [
    schedules.StepDecay(0.1, gamma=0.5, step_size=2, steps_per_epoch=1),
    schedules.Cosine(0.1, total_steps=6, min_lr=0.01),
    schedules.OneCycle(0.1, total_steps=6, pct_start=0.5),
])
def test_schedule_sets_the_learning_rate_of_each_step(schedule):
    opt = SGD(schedule)
    used = []
    for t in range(6):
        assert opt.lr == pytest.approx(schedule(t), rel=1e-15)
        w = np.zeros(1)                                  # plain SGD has no state: start each step from 0
        opt.step([w], [np.ones(1)])                      # with g = 1 it moves w by exactly -lr_t
        used.append(-float(w[0]))
    np.testing.assert_allclose(used, [schedule(t) for t in range(6)], rtol=1e-12)
    assert len(set(np.round(used, 12))) > 1              # it really changed


def test_setting_lr_replaces_the_schedule():
    opt = SGD(schedules.Cosine(0.1, total_steps=10))
    opt.lr = 0.5
    assert isinstance(opt.schedule, schedules.Constant) and opt.lr == 0.5
    with pytest.raises(ValueError, match=r"SGD: lr expected a value in \(0.0, inf\], received 0"):
        opt.lr = 0


# -- bad hyperparameters ---------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, message", [
    (lambda: SGD(lr=0), ValueError, r"SGD: lr expected a value in \(0.0, inf\], received 0"),
    (lambda: SGD(lr=-1), ValueError, r"SGD: lr expected a value in \(0.0, inf\], received -1"),
    (lambda: SGD(lr="0.1"), TypeError, r"SGD: lr expected a number, received str '0.1'"),
    (lambda: SGD(lr=float("nan")), ValueError, r"SGD: lr expected a finite number"),
    (lambda: SGD(0.1, momentum=1.5), ValueError, r"SGD: momentum expected a value in \[0.0, 1.0\], received 1.5"),
    (lambda: SGD(0.1, momentum=-0.1), ValueError, r"SGD: momentum expected a value in"),
    (lambda: SGD(0.1, nesterov=True), ValueError, r"SGD: nesterov=True expected momentum > 0, received momentum=0"),
    (lambda: SGD(0.1, momentum=0.9, nesterov="yes"), TypeError, r"SGD: nesterov expected a bool, received str"),
    (lambda: SGD(0.1, weight_decay=-0.01), ValueError, r"SGD: weight_decay expected a value in \[0.0, inf\]"),
    (lambda: Adam(lr=0), ValueError, r"Adam: lr expected a value in \(0.0, inf\], received 0"),
    (lambda: Adam(beta1=1), ValueError, r"Adam: beta1 and beta2 expected values in \[0, 1\), received 1, 0.999"),
    (lambda: Adam(beta2=1.0), ValueError, r"Adam: beta1 and beta2 expected values in \[0, 1\)"),
    (lambda: Adam(beta1=-0.5), ValueError, r"Adam: beta1 expected a value in"),
    (lambda: Adam(eps=0), ValueError, r"Adam: eps expected a value in \(0.0, inf\], received 0"),
    (lambda: Adam(beta1="0.9"), TypeError, r"Adam: beta1 expected a number, received str '0.9'"),
    (lambda: AdamW(lr="0.1"), TypeError, r"AdamW: lr expected a number, received str '0.1'"),
    (lambda: AdamW(beta1=1), ValueError, r"AdamW: beta1 and beta2 expected values in \[0, 1\)"),
    (lambda: AdamW(weight_decay=-1), ValueError, r"AdamW: weight_decay expected a value in"),
])
def test_bad_hyperparameters_are_rejected(make, error, message):
    with pytest.raises(error, match=message):
        make()


# -- against PyTorch (float64) ---------------------------------------------------------------------
# Tolerance: glassnet and torch do the same arithmetic in a different order (torch folds the bias
# corrections into the step size and the denominator), so results differ by rounding only: a few
# ulps per step on O(1) parameters. We allow 1e-12 absolute after 10 steps.

TORCH_CONFIGS = [
    ("sgd", {"lr": 0.1}, lambda: SGD(0.1)),
    ("sgd", {"lr": 0.1, "momentum": 0.9}, lambda: SGD(0.1, momentum=0.9)),
    ("sgd", {"lr": 0.05, "momentum": 0.8, "nesterov": True}, lambda: SGD(0.05, momentum=0.8, nesterov=True)),
    ("sgd", {"lr": 0.1, "weight_decay": 0.05}, lambda: SGD(0.1, weight_decay=0.05)),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
     lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", {"lr": 0.01}, lambda: Adam(0.01)),
    ("adam", {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-6}, lambda: Adam(0.02, beta1=0.5, beta2=0.9, eps=1e-6)),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}, lambda: Adam(0.01, weight_decay=0.1)),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1}, lambda: AdamW(0.01, weight_decay=0.1)),
    ("adamw", {}, lambda: AdamW()),                  # both default to lr=1e-3, weight_decay=0.01
]


@pytest.mark.parametrize("kind, torch_kwargs, make", TORCH_CONFIGS,
                         ids=[f"{k}-{'-'.join(kw) or 'defaults'}" for k, kw, _ in TORCH_CONFIGS])
def test_ten_steps_match_torch_optim(kind, torch_kwargs, make):
    torch = need("torch")
    params, grads = make_problem(seed=4, n_steps=10)
    ours = run(make(), params, grads)
    tparams = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    topt = cls(tparams, **torch_kwargs)
    for step_grads in grads:
        for p, g in zip(tparams, step_grads):
            p.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
    for w, p, w0 in zip(ours, tparams, params):
        assert not np.allclose(w, w0)
        assert np.max(np.abs(w - p.detach().numpy())) < 1e-12


def test_schedule_with_sgd_matches_torch_one_cycle():
    torch = need("torch")
    total = 12
    params, grads = make_problem(seed=5, n_steps=total)
    ours = run(SGD(schedules.OneCycle(0.1, total_steps=total), momentum=0.9), params, grads)
    tparams = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    topt = torch.optim.SGD(tparams, lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.1, total_steps=total, anneal_strategy="cos",
                                                three_phase=False, cycle_momentum=False)
    for t, step_grads in enumerate(grads):
        for p, g in zip(tparams, step_grads):
            p.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
        if t < total - 1:
            sched.step()
    for w, p in zip(ours, tparams):
        assert np.max(np.abs(w - p.detach().numpy())) < 1e-12


def test_hand_example_agrees_with_math_module():
    # guard for the hand numbers above: the same two Adam steps with Python floats
    w, m, v = 1.0, 0.0, 0.0
    for t, g in enumerate([2.0, 1.0], start=1):
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        w -= 0.1 * (m / (1 - 0.9 ** t)) / (math.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    assert w == pytest.approx(0.8067820372, abs=1e-10)
    assert isinstance(gn.Adam(), gn.Optimizer)


# -- build: the one way settings become an optimizer ----------------------------------------------

def test_names_reach_every_optimizer():
    assert optimizers.names() == ("sgd", "adam", "adamw")
    assert set(optimizers.OPTIMIZERS.values()) == {SGD, Adam, AdamW}
    assert set(optimizers.DEFAULT_LR) == set(optimizers.names()) == set(optimizers.DEFAULT_WEIGHT_DECAY)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "one-cycle"])
def test_build_every_optimizer_with_every_schedule(name, schedule):
    opt = optimizers.build(name, schedule=schedule, epochs=9)
    assert type(opt) is optimizers.OPTIMIZERS[name]
    assert type(opt.schedule) is schedules.SCHEDULES[schedule]
    lr = opt.schedule.max_lr if schedule == "one-cycle" else opt.schedule.lr
    assert lr == optimizers.DEFAULT_LR[name]
    assert opt.weight_decay == optimizers.DEFAULT_WEIGHT_DECAY[name]


def test_build_settings_reach_the_optimizer():
    sgd = optimizers.build("sgd", 0.05, momentum=0.5, weight_decay=1e-4, schedule="one_cycle")
    assert (sgd.momentum, sgd.weight_decay, sgd.nesterov) == (0.5, 1e-4, False)
    assert isinstance(sgd.schedule, schedules.OneCycle) and sgd.schedule.max_lr == 0.05
    assert optimizers.build("sgd", momentum=0.0).buffers == ()          # plain SGD keeps no velocity
    assert optimizers.build("AdamW", 0.01, weight_decay=0.0).weight_decay == 0.0
    assert optimizers.build("adam", 0.01, momentum=0.3).get_config() == Adam(0.01).get_config()
    step = optimizers.build("sgd", 0.1, schedule="step", epochs=30).schedule
    assert (step.gamma, step.step_size) == (0.1, 10)
    assert isinstance(optimizers.build().schedule, schedules.Constant)
    assert optimizers.build().lr == optimizers.DEFAULT_LR["sgd"]


def test_build_takes_the_same_steps_as_the_class():
    params, grads = make_problem()
    built = run(optimizers.build("sgd", 0.1, momentum=0.9), [p.copy() for p in params], grads)
    direct = run(SGD(0.1, momentum=0.9), [p.copy() for p in params], grads)
    for a, b in zip(built, direct):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"optimizer": "lbfgs"}, ValueError, "optimizer expected one of sgd, adam, adamw, received 'lbfgs'"),
    ({"optimizer": 3}, ValueError, "optimizer expected one of sgd, adam, adamw, received 3"),
    ({"lr": 0}, ValueError, r"optimizer: lr expected a value in \(0.0, inf\], received 0"),
    ({"lr": "0.1"}, TypeError, "optimizer: lr expected a number, received str"),
    ({"momentum": 1.5}, ValueError, r"optimizer: momentum expected a value in \[0.0, 1.0\], received 1.5"),
    ({"weight_decay": -1.0}, ValueError, r"optimizer: weight_decay expected a value in \[0.0, inf\]"),
    ({"schedule": "plateau"}, ValueError, "schedule expected one of constant, step, cosine, one-cycle"),
    ({"schedule": "step", "epochs": 0}, ValueError, r"epochs expected a value in \[1, inf\]"),
])
def test_build_rejects_bad_settings(kwargs, error, message):
    with pytest.raises(error, match=message):
        optimizers.build(**kwargs)


def test_canonical_names():
    assert [optimizers.canonical(n) for n in ("SGD", "adam", "AdamW")] == ["sgd", "adam", "adamw"]
    with pytest.raises(ValueError, match="optimizer expected one of sgd, adam, adamw, received 'rmsprop'"):
        optimizers.canonical("rmsprop")


# -- L1: l1 * sign(w) added to the weights' gradient, never the biases' ------------------------

@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_l1_adds_l1_sign_w_to_the_weights_gradient_only(name):
    params, grads = make_problem()
    l1 = 0.03
    with_l1 = run(optimizers.OPTIMIZERS[name](0.01, l1=l1), params, grads)
    # the same optimizer without L1, given the penalised gradient by hand (weights only, from the current w)
    by_hand, opt = [p.copy() for p in params], optimizers.OPTIMIZERS[name](0.01)
    for step_grads in grads:
        opt.step(by_hand, [step_grads[0] + l1 * np.sign(by_hand[0]), step_grads[1].copy()])
    for a, b in zip(with_l1, by_hand):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert not np.array_equal(with_l1[0], run(optimizers.OPTIMIZERS[name](0.01), params, grads)[0])


def test_l1_gradient_is_the_slope_of_the_penalised_loss():
    """Finite differences of ``loss + l1 * sum|W|`` give the gradient the optimizer steps along."""
    rng = np.random.default_rng(1)
    net = gn.Network.mlp([4, 3, 2], seed=0, dtype=np.float64)
    X, y, l1 = rng.normal(size=(5, 4)), rng.integers(0, 2, 5), 0.05
    loss = gn.losses.get("cross_entropy")

    def penalised():
        value = net.loss_and_gradients(X, y, loss)[0]
        return value + l1 * sum(np.abs(layer.weights).sum() for layer in net.layers if hasattr(layer, "weights"))

    for layer in (net.layers[0], net.layers[2]):
        w = layer.weights
        expected = numeric_grad(penalised, w)
        before, opt = w.copy(), SGD(1.0, l1=l1)
        net.loss_and_gradients(X, y, loss)
        opt.step([w, layer.biases], [layer.grads["weights"], np.zeros_like(layer.biases)])
        assert rel_error(before - w, expected) < 1e-7        # lr 1, plain SGD: the step is the gradient
        w[...] = before


def test_l1_is_saved_with_the_optimizer_and_checked():
    opt = optimizers.build("sgd", 0.1, l1=0.001)
    assert opt.l1 == 0.001 and opt.get_config()["l1"] == 0.001
    assert "l1" not in SGD(0.1).get_config()        # absent at 0: configs saved before L1 compare equal
    again = optimizers.from_config(*opt.state_dict())
    assert again.l1 == 0.001
    with pytest.raises(ValueError, match=r"l1 expected a value in \[0.0, inf\], received -1"):
        optimizers.build("adam", l1=-1)
    with pytest.raises(ValueError, match=r"SGD: l1 expected a value in \[0.0, inf\]"):
        SGD(0.1, l1=-0.5)


def test_fit_l1_reaches_the_optimizer_and_makes_weights_smaller():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 6)).astype(np.float32), rng.integers(0, 3, 64)
    sums = {}
    for l1 in (0.0, 0.01):
        net, opt = gn.Network.mlp([6, 8, 3], seed=0), SGD(0.05, momentum=0.9)
        net.fit(X, y, epochs=5, batch_size=16, seed=0, optimizer=opt, l1=l1)
        assert opt.l1 == l1
        sums[l1] = sum(np.abs(layer.weights).sum() for layer in net.layers if hasattr(layer, "weights"))
    assert sums[0.01] < sums[0.0]
    with pytest.raises(ValueError, match=r"fit: l1 expected a value in \[0.0, inf\]"):
        gn.Network.mlp([6, 3], seed=0).fit(X, y, epochs=1, l1=-1)


# -- packed parameters: one pass over all of them ------------------------------------------------

def _packed_copies(arrays):
    flat = np.concatenate([a.ravel() for a in arrays])
    views, offset = [], 0
    for a in arrays:
        views.append(flat[offset:offset + a.size].reshape(a.shape))
        offset += a.size
    return views


@pytest.mark.parametrize("kwargs", [{"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                    {"momentum": 0.5, "weight_decay": 0.01}, {}])
@pytest.mark.parametrize("chunk", [None, 1, 3, 4])
def test_sgd_on_packed_parameters_takes_the_same_steps_number_for_number(monkeypatch, kwargs, chunk):
    """One pass over the packed array, or (with momentum) cache-sized pieces of CHUNK numbers: here tiny,
    so they cut across parameters and leave a short last piece."""
    if chunk is not None:
        monkeypatch.setattr(optimizers, "CHUNK", chunk)
    params, grads = make_problem()
    per_parameter = run(SGD(0.1, **kwargs), params, grads)
    opt, packed_params = SGD(0.1, **kwargs), _packed_copies(params)
    packed_grads = _packed_copies(grads[0])
    for step_grads in grads:
        for g, new in zip(packed_grads, step_grads):
            g[...] = new
        opt.step(packed_params, packed_grads)
    assert opt._flat is not None and optimizers.packed(packed_params) is not None      # the one-pass path ran
    for a, b in zip(packed_params, per_parameter):
        np.testing.assert_array_equal(a, b)
    config, arrays = opt.state_dict()                          # saved per parameter, as before
    if kwargs.get("momentum"):
        assert set(arrays) == {"0.velocity", "1.velocity"} and arrays["0.velocity"].shape == (3, 4)


def test_packed_is_none_unless_the_arrays_tile_one_array_in_order():
    a, b = _packed_copies([np.ones((2, 3)), np.ones(4)])
    assert optimizers.packed([a, b]) is a.base
    assert optimizers.packed([b, a]) is None and optimizers.packed([a]) is None
    assert optimizers.packed([np.ones(3), np.ones(2)]) is None


def test_sgd_packed_update_pieces_in_fit_equal_the_per_parameter_loop():
    """A network big enough for pieces (>= 4 * CHUNK parameters) trains to the same weights as the textbook loop."""
    rng = np.random.default_rng(1)
    X, y = rng.random((96, 300)).astype(np.float32), rng.integers(0, 10, 96)
    net = gn.Network.mlp([300, 512, 10], seed=0)
    assert net.n_params >= 4 * optimizers.CHUNK
    textbook = net.copy()
    opt, opt_textbook = SGD(0.05, momentum=0.9), SGD(0.05, momentum=0.9)
    net.fit(X, y, epochs=2, batch_size=32, seed=0, optimizer=opt, verbose=0, threads=1)
    assert opt._flat is not None                                       # fit packed them: the pieces ran
    loss = gn.losses.get("cross_entropy")
    with gn.threads.limited(1):                                        # the products on fit's one thread
        for epoch in (1, 2):
            order = np.random.default_rng([0, epoch]).permutation(len(X))
            for s in range(0, len(X), 32):
                idx = order[s:s + 32]
                textbook.loss_and_gradients(X[idx], y[idx], loss, training=True)
                opt_textbook.step(textbook.parameters(), textbook.gradients())   # separate arrays: per parameter
    for a, b in zip(net.parameters(), textbook.parameters()):
        np.testing.assert_array_equal(a, b)
