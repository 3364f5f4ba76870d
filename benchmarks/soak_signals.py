"""Soak test, outside CI: kill ``glassnet train`` hundreds of times at random points; count what survives.

    python -m benchmarks.soak_signals --minutes 5 --out benchmarks/soak-signals.json

Each trial trains a tiny network (16-8-3, 40 epochs of 20 batches) in a child process, waits until
the first epoch's checkpoint exists, then at a random moment sends one of SIGINT, SIGINT twice,
SIGTERM, SIGHUP or SIGKILL (in turn). Then it checks what ``tests/test_signals.py`` checks, on every
trial: no traceback; exit 130 with model/ and one resume hint (SIGKILL: the checkpoint); a new run
into the folder refused; ``--resume`` finishing with weights equal, bit for bit, to an uninterrupted
run; no temporary left. It prints and writes the counts per signal; any failed check is listed.
Not here: timing (the counts are what matter), or the app (``glassnet app``'s own tests).
"""

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import glassnet as gn
from glassnet.cli import main

SIGNALS = {"SIGINT": [signal.SIGINT], "SIGINT twice": [signal.SIGINT, signal.SIGINT],
           "SIGTERM": [signal.SIGTERM], "SIGHUP": [signal.SIGHUP], "SIGKILL": [signal.SIGKILL]}
RUN_FILES = {"checkpoint", "model", "settings.json", "report.md"}


def quietly(argv):
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, err.getvalue()


def flags(data):
    return ["--dataset", str(data), "--layers", "8", "--epochs", "40", "--batch-size", "8", "--seed", "0",
            "--threads", "1", "--quiet"]


def trial(data, out, signals, rng, expected):
    """One kill; returns ``(outcome, problem or None)``; outcome is ``stopped`` or ``finished first``."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "glassnet", "train", *flags(data), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    while not (out / "checkpoint" / "training.json").exists() and proc.poll() is None:
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.4))
    for i, number in enumerate(signals):
        if proc.poll() is None:
            proc.send_signal(number)
        if i + 1 < len(signals):
            time.sleep(rng.uniform(0, 0.05))
    _, stderr = proc.communicate(timeout=120)
    code = proc.returncode
    if "Traceback" in stderr:
        return "stopped", f"traceback: {stderr[-300:]}"
    stopped = code != 0 and not finished_before(code, out)
    if stopped:
        if signals[0] == signal.SIGKILL:
            if code != -signal.SIGKILL:
                return "stopped", f"exit {code} after SIGKILL"
        elif code != 130 or stderr.count("resume with: glassnet train --resume") != 1:
            return "stopped", f"exit {code}, stderr {stderr[-300:]!r}"
        elif not gn.load(out / "model").history_.interrupted:
            return "stopped", "model/ does not say it was interrupted"
        refused, _ = quietly(["train", *flags(data), "--out", out])
        if refused != 2:
            return "stopped", f"a new run into the folder was not refused (exit {refused})"
        resumed, err = quietly(["train", "--resume", out, "--threads", "1", "--quiet"])
        if resumed != 0:
            return "stopped", f"resume failed: {err[-300:]}"
    weights = gn.load(out / "model").get_weights()
    if not all(np.array_equal(weights[k], v) for k, v in expected.items()):
        return ("stopped" if stopped else "finished first"), "weights differ from the uninterrupted run"
    extra = {p.name for p in out.iterdir()} - RUN_FILES
    if extra:
        return ("stopped" if stopped else "finished first"), f"left behind: {sorted(extra)}"
    return ("stopped" if stopped else "finished first"), None


def finished_before(code, out):
    """Whether the run had written its final model when the signal killed it (as the process was exiting)."""
    try:
        return code < 0 and not gn.load(out / "model").history_.interrupted
    except gn.ModelFileError:
        return False


def soak(minutes, seed=15):
    folder = Path(tempfile.mkdtemp(prefix="glassnet-soak-"))
    try:
        rng = np.random.default_rng(seed)
        y = np.arange(200) % 3
        data = folder / "tiny.npz"
        np.savez(data, X=(rng.normal(size=(200, 16)) + y[:, None]).astype(np.float32), y=y)
        code, err = quietly(["train", *flags(data), "--out", folder / "reference"])
        assert code == 0, err
        expected = gn.load(folder / "reference" / "model").get_weights()
        counts = {name: {"trials": 0, "stopped": 0, "finished first": 0, "failed": 0} for name in SIGNALS}
        problems, n, end = [], 0, time.monotonic() + 60 * minutes
        while time.monotonic() < end:
            name = list(SIGNALS)[n % len(SIGNALS)]
            out = folder / f"run{n}"
            outcome, problem = trial(data, out, SIGNALS[name], rng, expected)
            counts[name]["trials"] += 1
            counts[name][outcome] += 1
            if problem:
                counts[name]["failed"] += 1
                problems.append(f"{name}, trial {n}: {problem}")
            shutil.rmtree(out, ignore_errors=True)
            n += 1
        return {"minutes": minutes, "seed": seed, "counts": counts, "problems": problems}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main_soak(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--out", help="write the counts as JSON here")
    args = parser.parse_args(argv)
    result = soak(args.minutes, args.seed)
    print("| signal | trials | stopped mid-run | finished first | failed checks |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, c in result["counts"].items():
        print(f"| {name} | {c['trials']} | {c['stopped']} | {c['finished first']} | {c['failed']} |")
    for problem in result["problems"]:
        print("problem:", problem)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main_soak())
