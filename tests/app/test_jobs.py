"""The app's training jobs (glassnet.app.jobs) on their own: no server, no FastAPI, a small dataset.

A :class:`TrainingJob` starts, pauses and resumes, stops right after the current mini-batch, takes a
new learning rate from the next mini-batch, runs one epoch at a time, fails a diverging run with the
good weights kept, and a replay of the timeline repeats the weights bit for bit. Fine-tuning and the
learning-rate finder hold a training slot and refuse before changing anything.
"""

import numpy as np
import pytest

from appserver import make_store, small_workspace, wait_until
from glassnet.app import jobs
from glassnet.app.errors import BadInput, BadState, OverLimit
from glassnet.app.jobs import TrainingJob, find_learning_rate, wait_for


def settings(**overrides):
    """A training request's settings, as the route passes them (TrainRequest minus ``step``)."""
    return {"epochs": 2, "batch_size": 32, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": "constant",
            "augment": False, "seed": 0} | overrides


@pytest.fixture
def store():
    return make_store()


@pytest.fixture
def ws(store):
    return small_workspace(store)


def start(ws, step=False, paused=False, **overrides):
    """Start a run (``paused``: asked to pause from the start, so it pauses after its first mini-batch)."""
    job = TrainingJob(ws, settings(**overrides), step=step)
    job.pause_requested = paused
    job.start()
    ws.job = job
    return job


def wait_state(job, state, timeout=30.0):
    wait_until(lambda: job.state == state, timeout)


# -- a run from start to end --------------------------------------------------------------------------------
def test_a_run_records_epochs_points_snapshots_and_its_segment(ws, store):
    job = start(ws, epochs=2)
    assert wait_for(job) == "finished", job.message
    assert job.message == "finished 2 epochs" and store.trainings == 0          # its slot is given back
    assert [r["epoch"] for r in ws.history] == [1, 2]
    assert all(0 <= r["test_accuracy"] <= 1 and r["loss"] > 0 for r in ws.history)
    ts = [p["t"] for p in ws.points]
    assert ts == sorted(ts) and ts[-1] == 2
    assert [s["epoch"] for s in ws.timeline.to_dict()["snapshots"]] == [0, 1, 2]
    np.testing.assert_array_equal(ws.timeline.weights_at(2)["0.weights"], ws.net.layers[0].params["weights"])
    [segment] = ws.timeline.segments
    assert segment["completed"] and segment["steps"] == job.steps == 2 * job.steps_per_epoch == 30
    assert segment["digest"] and segment["settings"]["lr"] == 0.05 and not ws.saved
    assert job.to_dict()["config"] == settings(epochs=2)


def test_the_optimizer_and_schedule_come_from_the_library(ws):
    job = start(ws, epochs=3, optimizer="adamw", lr=0.003, schedule="step")
    assert wait_for(job) == "finished", job.message
    assert [r["lr"] for r in ws.history] == pytest.approx([0.003, 0.0003, 0.00003])   # a tenth every third


def test_a_start_over_the_training_limit_changes_nothing(ws, store):
    store.acquire_training()
    for _ in range(store.limits.max_trainings - 1):
        store.acquire_training()
    job = TrainingJob(ws, settings())
    with pytest.raises(OverLimit, match="trainings are already running"):
        job.start()
    assert ws.timeline.segments == [] and job.thread is None


# -- control: pause, resume, stop, the rate, one epoch ---------------------------------------------------------
def test_pause_holds_no_slot_and_resume_continues(ws, store):
    job = start(ws, epochs=40, batch_size=8)
    wait_until(lambda: job.steps >= 3)
    job.pause()
    wait_state(job, "paused")
    assert store.trainings == 0                                    # a paused run lets another train
    with pytest.raises(BadState, match="not running"):
        job.pause()
    steps = job.steps
    job.resume()
    assert job.state == "running" and store.trainings == 1
    wait_until(lambda: job.steps > steps)
    job.stop()
    assert wait_for(job) == "stopped" and store.trainings == 0


def test_stop_ends_right_after_the_current_mini_batch_and_keeps_the_weights(ws):
    job = start(ws, epochs=40, batch_size=8, paused=True)
    wait_state(job, "paused")
    assert job.steps == 1
    job.resume()
    job.pause()                      # (at once: a double click; the run must still end up paused)
    wait_state(job, "paused")
    steps = job.steps
    job.stop()
    assert wait_for(job) == "stopped"
    assert job.steps == steps                                      # no mini-batch after the stop
    assert job.batch == steps - 60 * job.epoch_in_run
    where = f"in epoch {job.epoch_in_run + 1} after mini-batch {job.batch} of 60" if job.batch else \
        f"after epoch {job.epoch_in_run}"
    assert job.message == f"stopped {where}; the weights are kept"
    last = ws.timeline.last_epoch
    assert last == pytest.approx(steps / 60)
    np.testing.assert_array_equal(ws.timeline.weights_at(last)["0.weights"], ws.net.layers[0].params["weights"])
    segment = ws.timeline.segments[0]
    assert segment["steps"] == steps and segment["completed"] is False


def test_a_resume_and_a_pause_at_once_leave_the_run_paused_without_a_slot(ws, store):
    job = start(ws, epochs=3, batch_size=8, paused=True)
    wait_state(job, "paused")
    with job.cond:                     # both before the training thread can wake up (a double click)
        job.resume()
        job.pause()
    wait_until(lambda: job.state == "paused" and store.trainings == 0)
    assert job.steps == 1
    job.stop()
    assert wait_for(job) == "stopped" and job.steps == 1


def test_a_stop_inside_an_epoch_keeps_a_snapshot_there(ws):
    job = start(ws, epochs=3, batch_size=8, paused=True)
    wait_state(job, "paused")
    job.stop()
    assert wait_for(job) == "stopped"
    assert job.message == "stopped in epoch 1 after mini-batch 1 of 60; the weights are kept"
    assert ws.timeline.to_dict()["snapshots"][-1] == {"epoch": round(1 / 60, 3), "label": "stopped in epoch 1"}


def test_a_new_rate_applies_from_the_next_mini_batch_and_is_recorded(ws):
    job = start(ws, epochs=2, step=True)
    wait_state(job, "paused")
    steps = job.steps
    job.set_lr(0.01)
    assert job.to_dict()["pending_lr"] == 0.01 and job.lr == 0.05
    job.resume()
    assert wait_for(job) == "finished"
    assert ws.timeline.segments[0]["lr_changes"] == [{"after_step": steps + 1, "lr": 0.01}]
    assert ws.history[-1]["lr"] == pytest.approx(0.01) and job.pending_lr is None
    with pytest.raises(BadState, match="finished"):
        job.set_lr(0.1)


def test_step_mode_runs_one_epoch_at_a_time(ws, store):
    job = start(ws, epochs=3, step=True)
    wait_state(job, "paused")
    assert job.epoch_in_run == 1 and len(ws.history) == 1 and store.trainings == 0
    job.resume(step=True)
    wait_until(lambda: job.state == "paused" and job.epoch_in_run == 2)
    assert [r["epoch"] for r in ws.history] == [1, 2]
    job.resume()
    assert wait_for(job) == "finished" and job.epoch_in_run == 3
    with pytest.raises(BadState, match="resume: training is finished, not paused"):
        job.resume()


def test_the_next_run_counts_on_from_the_last_whole_epoch(ws):
    job = start(ws, epochs=3, batch_size=8, paused=True)
    wait_state(job, "paused")
    job.stop()
    assert wait_for(job) == "stopped"
    second = start(ws, epochs=1)
    assert wait_for(second) == "finished"
    epochs = [s["epoch"] for s in ws.timeline.to_dict()["snapshots"]]
    assert 0 < epochs[-2] < 1 and epochs[-1] == 2                # the stopped epoch 1 counts as a whole one
    assert second.to_dict()["epoch"] == 2 and ws.history[-1]["epoch"] == 2


# -- divergence ---------------------------------------------------------------------------------------------
def test_a_diverging_run_fails_with_advice_and_keeps_finite_weights(ws, store):
    for layer in ws.net.layers[::2]:                   # weights so large the next step overflows float32
        layer.params["weights"] *= np.float32(1e17)
    job = start(ws, epochs=3, lr=100)
    assert wait_for(job) == "failed"
    assert "too high" in job.message and "epoch 1" in job.message and job.message.count("keeps") == 1
    assert all(np.isfinite(p).all() for p in ws.net.parameters()) and store.trainings == 0


# -- replay -----------------------------------------------------------------------------------------------
def test_a_replay_repeats_every_run_bit_for_bit(ws):
    first = start(ws, epochs=2, step=True, schedule="one-cycle")
    wait_state(first, "paused")
    first.set_lr(0.02)
    first.resume()
    assert wait_for(first) == "finished"
    second = start(ws, epochs=4, batch_size=16, augment=True, seed=7, optimizer="adam", lr=0.002)
    wait_until(lambda: second.steps >= 20)
    second.stop()
    assert wait_for(second) == "stopped"
    before = {k: v.copy() for k, v in ws.net.get_weights().items()}
    ws.timeline.check_replayable()
    replay = TrainingJob(ws, {"epochs": 0, "seed": ws.timeline.seed}, kind="replay")
    replay.start()
    assert wait_for(replay, 60) == "finished", replay.message
    assert replay.replay == {"matches": True, "segments": 2, "segments_matching": 2, "max_difference": 0.0}
    assert "bit for bit" in replay.message
    for k, v in before.items():                        # a replay retrains a copy: the network is untouched
        np.testing.assert_array_equal(v, ws.net.get_weights()[k])


def test_a_replay_of_a_wrong_record_says_the_weights_differ(ws):
    assert wait_for(start(ws, epochs=1)) == "finished"
    ws.timeline.segments[0]["seed"] += 1
    replay = TrainingJob(ws, {"epochs": 0, "seed": ws.timeline.seed}, kind="replay")
    replay.start()
    assert wait_for(replay) == "finished"
    assert replay.replay["matches"] is False and replay.replay["max_difference"] > 0 and "differ" in replay.message


# -- fine-tuning and the learning-rate finder ---------------------------------------------------------------
def add_drawings(ws, n=8):
    data = ws.data()
    for i in range(n):
        x = data.X_train[i]
        ws.add_drawing(int(data.y_train[i]), x, (x.reshape(28, 28) * 255).astype(np.uint8))


def test_finetune_needs_drawings_and_records_a_replayable_segment(ws, store):
    with pytest.raises(BadState, match="add some labelled drawings"):
        jobs.finetune(ws, epochs=1, lr=0.01, mix=2)
    add_drawings(ws)
    result = jobs.finetune(ws, epochs=2, lr=0.01, mix=2)
    assert result["trained_on"] + result["held_out"] == 8 and result["mixed_with"] == 2 * result["trained_on"]
    [segment] = ws.timeline.segments
    assert segment["kind"] == "finetune" and segment["replayable"] and store.trainings == 0
    assert ws.timeline.to_dict()["snapshots"][-1]["label"].startswith("fine-tuned")
    replay = TrainingJob(ws, {"epochs": 0, "seed": 0}, kind="replay")
    replay.start()
    assert wait_for(replay) == "finished" and replay.replay["matches"] is True


def test_finetune_over_the_training_limit_changes_nothing(ws, store):
    add_drawings(ws)
    before = ws.net.get_weights()
    for _ in range(store.limits.max_trainings):
        store.acquire_training()
    with pytest.raises(OverLimit):
        jobs.finetune(ws, epochs=1, lr=0.01, mix=2)
    assert ws.timeline.segments == []
    for k, v in before.items():
        np.testing.assert_array_equal(v, ws.net.get_weights()[k])


def test_a_diverging_finetune_is_bad_input(ws, store):
    add_drawings(ws)
    for layer in ws.net.layers[::2]:
        layer.params["weights"] *= np.float32(1e17)
    with pytest.raises(BadInput, match="fine-tune: .*too high"):
        jobs.finetune(ws, epochs=2, lr=100, mix=0)
    assert store.trainings == 0


def test_the_learning_rate_finder_leaves_the_network_and_the_slot_alone(ws, store):
    before = ws.net.get_weights()
    out = find_learning_rate(ws.net, ws.data(), store, start=1e-4, end=5.0, steps=20, batch_size=16,
                             optimizer="sgd", momentum=0.9)
    assert 1e-4 <= out["suggestion"] <= 5 and len(out["lrs"]) == len(out["losses"]) >= 10
    assert store.trainings == 0
    for k, v in before.items():
        np.testing.assert_array_equal(v, ws.net.get_weights()[k])
    for _ in range(store.limits.max_trainings):
        store.acquire_training()
    with pytest.raises(OverLimit):
        find_learning_rate(ws.net, ws.data(), store, start=1e-4, end=5.0, steps=20, batch_size=16)
