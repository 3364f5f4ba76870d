"""``glassnet train`` killed at seeded random points keeps its work, and resuming equals never stopping.

Each trial starts ``glassnet train`` on a tiny dataset in a child process, waits until the first
epoch's checkpoint is written, then at a seeded random moment sends SIGINT, SIGINT twice, SIGTERM,
SIGHUP or SIGKILL. Afterwards: no traceback; for the first four, exit 130, ``model/`` written and a
one-line hint to resume; for SIGKILL, the last epoch's checkpoint; a new run into the folder is
refused without ``--resume`` or ``--overwrite``; ``--resume`` then ends with weights equal, bit for
bit, to those of an uninterrupted run, and no temporary is left in the run folder. A few trials per
signal here (each about a second); ``benchmarks/soak_signals.py`` runs hundreds.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TRIALS = int(os.environ.get("GLASSNET_KILL_TRIALS", "2"))
SIGNALS = {"SIGINT": [signal.SIGINT], "SIGINT twice": [signal.SIGINT, signal.SIGINT],
           "SIGTERM": [signal.SIGTERM], "SIGHUP": [signal.SIGHUP], "SIGKILL": [signal.SIGKILL]}
RUN_FILES = {"checkpoint", "model", "settings.json", "report.md"}


def tiny_dataset(folder):
    """200 examples of 16 features in 3 classes, as an .npz (160 train, 40 test)."""
    rng = np.random.default_rng(0)
    y = np.arange(200) % 3
    X = rng.normal(size=(200, 16)).astype(np.float32) + y[:, None]
    path = Path(folder) / "tiny.npz"
    np.savez(path, X=X, y=y)
    return path


def flags(data, epochs=40):
    return ["--dataset", str(data), "--layers", "8", "--epochs", str(epochs), "--batch-size", "8", "--seed", "0",
            "--threads", "1", "--quiet"]


def quietly(argv):
    """``glassnet ARGV`` in this process, its output swallowed: ``(exit code, stderr)``."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, err.getvalue()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The data and the weights of an uninterrupted run."""
    folder = tmp_path_factory.mktemp("reference")
    data = tiny_dataset(folder)
    code, err = quietly(["train", *flags(data), "--out", folder / "run"])
    assert code == 0, err
    return data, gn.load(folder / "run" / "model").get_weights()


def interrupt(data, out, signals, rng):
    """Start ``glassnet train`` into ``out``, send ``signals`` at a random moment: ``(exit code, stderr)``."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "glassnet", "train", *flags(data), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while not (out / "checkpoint" / "training.json").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.4))
    for i, number in enumerate(signals):
        if proc.poll() is None:
            proc.send_signal(number)
        if i + 1 < len(signals):
            time.sleep(rng.uniform(0, 0.05))
    _, stderr = proc.communicate(timeout=60)
    return proc.returncode, stderr


def check_interrupted_run(name, code, stderr, out):
    """What a stopped run must have left; returns whether it was stopped before the end."""
    assert "Traceback" not in stderr, stderr
    if code == 0 or finished_before(code, out):      # the signal came after the last batch, or after the end
        return False
    if name == "SIGKILL":
        assert code == -signal.SIGKILL
        assert gn.serialization.load_checkpoint(out / "checkpoint")["history"].epochs
        return True
    assert code == 130, stderr
    hints = [line for line in stderr.splitlines() if "resume with: glassnet train --resume" in line]
    assert len(hints) == 1, stderr
    assert gn.load(out / "model").history_.interrupted
    return True


def finished_before(code, out):
    """Whether the run had written its final model when the signal killed it (as the process was exiting)."""
    try:
        return code < 0 and not gn.load(out / "model").history_.interrupted
    except gn.ModelFileError:
        return False


@pytest.mark.parametrize("name", list(SIGNALS))
def test_a_killed_training_keeps_its_work_and_resumes_bit_for_bit(reference, tmp_path, name):
    data, expected = reference
    rng = np.random.default_rng([15, list(SIGNALS).index(name)])
    for trial in range(TRIALS):
        out = tmp_path / f"run{trial}"
        code, stderr = interrupt(data, out, SIGNALS[name], rng)
        if check_interrupted_run(name, code, stderr, out):
            refused, err = quietly(["train", *flags(data), "--out", out])
            assert refused == 2 and "--overwrite" in err and "--resume" in err, err
            resumed, err = quietly(["train", "--resume", out, "--threads", "1", "--quiet"])
            assert resumed == 0, err
        weights = gn.load(out / "model").get_weights()
        for key, value in expected.items():
            np.testing.assert_array_equal(weights[key], value, err_msg=f"{name}, trial {trial}")
        assert {p.name for p in out.iterdir()} <= RUN_FILES, sorted(p.name for p in out.iterdir())


def test_overwrite_starts_an_interrupted_run_over(reference, tmp_path):
    data, expected = reference
    out = tmp_path / "run"
    code, _ = interrupt(data, out, [signal.SIGKILL], np.random.default_rng(1))
    assert code in (0, -signal.SIGKILL)
    code, err = quietly(["train", *flags(data), "--out", out, "--overwrite"])
    assert code == 0, err
    weights = gn.load(out / "model").get_weights()
    assert all(np.array_equal(weights[k], v) for k, v in expected.items())
    code, err = quietly(["train", "--resume", out, "--overwrite"])
    assert code == 2 and "give one of them" in err


def test_a_run_killed_after_its_last_epoch_but_before_model_is_written_is_finished_by_resume(reference, tmp_path):
    data, expected = reference
    out = tmp_path / "run"
    code, err = quietly(["train", *flags(data), "--out", out])
    assert code == 0, err
    import shutil

    shutil.rmtree(out / "model")                     # as if killed between the last checkpoint and model/
    refused, err = quietly(["train", *flags(data), "--out", out])
    assert refused == 2 and "--resume" in err, err
    code, err = quietly(["train", "--resume", out, "--threads", "1", "--quiet"])
    assert code == 0, err
    weights = gn.load(out / "model").get_weights()
    assert all(np.array_equal(weights[k], v) for k, v in expected.items())
