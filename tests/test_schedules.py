"""Tests for glassnet.schedules: the learning rate at each step, and agreement with torch's schedulers."""

import itertools
import json
import math

import pytest

from glassnet import schedules
from glassnet.schedules import Constant, Cosine, OneCycle, StepDecay
from optional import need


def test_constant():
    s = Constant(0.05)
    assert [s(t) for t in (0, 1, 100, 10**6)] == [0.05] * 4
    assert s.bind(100, 10) is s and s(50) == 0.05
    assert schedules.as_schedule(0.3)(7) == 0.3
    assert schedules.as_schedule(s) is s


def test_step_decay_drops_every_step_size_epochs():
    s = StepDecay(0.1, gamma=0.5, step_size=2).bind(total_steps=30, steps_per_epoch=3)
    assert s.steps_per_epoch == 3
    # epochs 0-1 (steps 0-5): 0.1;  epochs 2-3 (steps 6-11): 0.05;  epochs 4-5 (steps 12-17): 0.025
    assert [s(t) for t in range(18)] == pytest.approx([0.1] * 6 + [0.05] * 6 + [0.025] * 6, rel=1e-15)
    assert s(29) == pytest.approx(0.1 * 0.5 ** 4)


def test_step_decay_keeps_an_explicit_steps_per_epoch():
    s = StepDecay(1.0, gamma=0.1, step_size=1, steps_per_epoch=2).bind(total_steps=100, steps_per_epoch=50)
    assert s.steps_per_epoch == 2
    assert [s(t) for t in range(5)] == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])


def test_step_decay_matches_torch_step_lr():
    torch = need("torch")
    steps_per_epoch, epochs = 4, 9
    s = StepDecay(0.2, gamma=0.3, step_size=2).bind(steps_per_epoch * epochs, steps_per_epoch)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.3)
    for epoch in range(epochs):
        for b in range(steps_per_epoch):
            assert s(epoch * steps_per_epoch + b) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        sched.step()


def test_cosine_starts_ends_and_midpoint():
    s = Cosine(0.1, total_steps=20, min_lr=0.002)
    assert s(0) == pytest.approx(0.1, rel=1e-15)
    assert s(20) == pytest.approx(0.002, rel=1e-12)
    assert s(10) == pytest.approx((0.1 + 0.002) / 2, rel=1e-12)            # cos(pi/2) = 0: the average
    # a quarter of the way: min + (max - min)(1 + cos(pi/4))/2 = 0.002 + 0.098 * 0.8535534 = 0.0856482
    assert s(5) == pytest.approx(0.0856482, abs=1e-7)
    values = [s(t) for t in range(21)]
    assert all(a > b for a, b in itertools.pairwise(values))                  # strictly decreasing
    assert s(25) == pytest.approx(0.002, rel=1e-12)                         # stays at min_lr after the end


def test_cosine_bind_fills_only_a_missing_length():
    assert Cosine(0.1).bind(total_steps=50, steps_per_epoch=5).total_steps == 50
    assert Cosine(0.1, total_steps=8).bind(total_steps=50, steps_per_epoch=5).total_steps == 8


@pytest.mark.parametrize("total, min_lr", [(10, 0.0), (37, 1e-4), (100, 0.01)])
def test_cosine_matches_torch_cosine_annealing(total, min_lr):
    torch = need("torch")
    s = Cosine(0.1, total_steps=total, min_lr=min_lr)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=min_lr)
    for t in range(total + 1):
        expected = opt.param_groups[0]["lr"]
        # torch's recursive update rounds a little differently; 1e-9 relative (1e-15 absolute near 0)
        assert s(t) == pytest.approx(expected, rel=1e-9, abs=1e-15), t
        opt.step()
        sched.step()


def test_one_cycle_start_peak_and_end():
    s = OneCycle(0.1, total_steps=100, pct_start=0.3, div_factor=25.0, final_div_factor=1e4)
    assert s(0) == pytest.approx(0.1 / 25, rel=1e-12)                          # 0.004
    # as in PyTorch, max_lr is reached at step pct_start * total - 1 = 29
    assert s(29) == pytest.approx(0.1, rel=1e-15)
    values = [s(t) for t in range(100)]
    assert max(values) == pytest.approx(0.1, rel=1e-15) and values.index(max(values)) == 29
    assert all(a < b for a, b in itertools.pairwise(values[:30]))             # rising to the peak
    assert all(a > b for a, b in itertools.pairwise(values[29:]))              # then falling
    assert s(99) == pytest.approx(0.1 / (25 * 1e4), rel=1e-12)                # 4e-7 at the last step
    assert s(150) == pytest.approx(0.1 / (25 * 1e4), rel=1e-12)               # and it stays there


def test_one_cycle_bind():
    s = OneCycle(0.1).bind(total_steps=40, steps_per_epoch=10)
    assert s.total_steps == 40
    assert OneCycle(0.1, total_steps=12).bind(40, 10).total_steps == 12


@pytest.mark.parametrize("total, pct_start, div, final_div", [
    (100, 0.3, 25.0, 1e4), (40, 0.25, 10.0, 100.0), (10, 0.25, 25.0, 1e4), (7, 0.3, 5.0, 10.0), (3, 0.5, 25.0, 1e4),
])
def test_one_cycle_matches_torch_one_cycle_lr(total, pct_start, div, final_div):
    torch = need("torch")
    s = OneCycle(0.1, total_steps=total, pct_start=pct_start, div_factor=div, final_div_factor=final_div)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=total, pct_start=pct_start,
                                                div_factor=div, final_div_factor=final_div,
                                                anneal_strategy="cos", three_phase=False, cycle_momentum=False)
    for t in range(total):
        assert s(t) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9), t
        opt.step()
        if t < total - 1:
            sched.step()


SCHEDULES = [
    Constant(0.02),
    StepDecay(0.1, gamma=0.5, step_size=3, steps_per_epoch=7),
    StepDecay(0.1),                                    # not yet bound: steps_per_epoch None
    Cosine(0.1, total_steps=40, min_lr=1e-3),
    Cosine(0.1),
    OneCycle(0.2, total_steps=40, pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=repr)
def test_config_round_trip(schedule):
    config = json.loads(json.dumps(schedules.to_config(schedule)))
    assert config["type"] == type(schedule).__name__
    rebuilt = schedules.from_config(config)
    assert type(rebuilt) is type(schedule)
    assert rebuilt.get_config() == schedule.get_config()
    assert [rebuilt(t) for t in range(45)] == [schedule(t) for t in range(45)]
    assert repr(rebuilt) == repr(schedule)


def test_from_config_rejects_unknown_type():
    with pytest.raises(ValueError, match="schedule type expected one of .* received 'Plateau'"):
        schedules.from_config({"type": "Plateau", "lr": 0.1})


@pytest.mark.parametrize("make, error, message", [
    (lambda: Constant(0), ValueError, r"Constant: lr expected a value in \(0.0, inf\], received 0"),
    (lambda: Constant("0.1"), TypeError, r"Constant: lr expected a number, received str"),
    (lambda: StepDecay(0.1, gamma=0), ValueError, r"StepDecay: gamma expected a value in \(0.0, 1.0\]"),
    (lambda: StepDecay(0.1, gamma=1.5), ValueError, r"StepDecay: gamma expected a value in"),
    (lambda: StepDecay(0.1, step_size=0), ValueError, r"StepDecay: step_size expected a value in \[1, inf\]"),
    (lambda: StepDecay(0.1, step_size=2.5), TypeError, r"StepDecay: step_size expected an int"),
    (lambda: Cosine(0.1, min_lr=-1), ValueError, r"Cosine: min_lr expected a value in \[0.0, inf\]"),
    (lambda: OneCycle(0.1, pct_start=0), ValueError, r"OneCycle: pct_start expected a value in \(0.0, 1.0\]"),
    (lambda: OneCycle(0.1, div_factor=0.5), ValueError, r"OneCycle: div_factor expected a value in \[1.0, inf\]"),
    (lambda: OneCycle(-0.1), ValueError, r"OneCycle: max_lr expected a value in \(0.0, inf\]"),
])
def test_bad_arguments_are_rejected(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_one_cycle_hand_worked_midpoint_of_warmup():
    # total 20, pct 0.55: peak at step 0.55 * 20 - 1 = 10; step 5 is half-way up the cosine:
    # lr = max + (start - max)(1 + cos(pi/2))/2 = (0.004 + 0.1) / 2 = 0.052
    s = OneCycle(0.1, total_steps=20, pct_start=0.55)
    assert s(5) == pytest.approx(0.052, rel=1e-12)
    assert s(10) == pytest.approx(0.1, rel=1e-15)
    # and half-way down (step 10 + (19 - 10) / 2 = 14.5 is not a step; check the cosine at 14.5 directly)
    final = 0.004 / 1e4
    assert s(14.5) == pytest.approx((0.1 + final) / 2, rel=1e-12)
    assert math.isclose(s(19), final, rel_tol=1e-12)


# -- names and build: the one way settings become a schedule --------------------------------------

def test_names_are_the_canonical_spellings():
    assert schedules.names() == ("constant", "step", "cosine", "one-cycle")
    assert set(schedules.names()) == set(schedules.SCHEDULES)
    # every schedule class the module defines can be reached by a name
    assert set(schedules.SCHEDULES.values()) == {Constant, StepDecay, Cosine, OneCycle}
    assert all(alias not in schedules.names() for alias in schedules.ALIASES)


@pytest.mark.parametrize("name", ["one-cycle", "one_cycle", "onecycle", "One-Cycle", "ONE_CYCLE"])
def test_one_cycle_spellings_build_the_same_schedule(name):
    assert schedules.canonical(name) == "one-cycle"
    s = schedules.build(name, 0.1)
    assert isinstance(s, OneCycle) and s.max_lr == 0.1 and s.total_steps is None


def test_build_each_schedule():
    assert schedules.build("constant", 0.05).get_config() == {"lr": 0.05}
    assert schedules.build("cosine", 0.05).get_config() == {"lr": 0.05, "total_steps": None, "min_lr": 0.0}
    step = schedules.build("step", 0.1, epochs=30)
    assert (step.gamma, step.step_size) == (0.1, 10)            # divided by 10 every third of the epochs
    assert schedules.build("step", 0.1, epochs=2).step_size == 1
    assert schedules.build("step", 0.1).step_size == 10           # no length known: StepDecay's default
    for name in schedules.names():
        assert type(schedules.build(name, 0.1, epochs=5)) is schedules.SCHEDULES[name]


@pytest.mark.parametrize("args, error, message", [
    (("plateau", 0.1), ValueError, "schedule expected one of constant, step, cosine, one-cycle, received 'plateau'"),
    ((None, 0.1), ValueError, "schedule expected one of .* received None"),
    (("step", 0.1, 0), ValueError, r"schedule: epochs expected a value in \[1, inf\], received 0"),
    (("step", 0.1, 2.5), TypeError, "schedule: epochs expected an int"),
    (("constant", -1), ValueError, r"Constant: lr expected a value in \(0.0, inf\], received -1"),
])
def test_build_rejects_bad_settings(args, error, message):
    with pytest.raises(error, match=message):
        schedules.build(*args)
