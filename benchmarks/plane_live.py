"""``python -m benchmarks.plane_live``: the Plane view's live pictures, how often, and what they cost training.

One ``glassnet app`` server in its own process (as a browser would talk to it), one browser. The plane
network is the largest the issue asks for: 2 inputs, 4 hidden layers of 8 tanh neurons, 2 outputs, on the
two spirals (400 points, half for training, batch 10). Rounds alternate:

- **alone**: the plane trains for ``--seconds``; nobody asks for pictures;
- **watched**: the same, while the browser asks for a frame (every neuron's picture, 40x40, the
  weights, the new epoch records: ``GET /api/plane/frame``) as the page does: the next one
  ``FRAME_GAP`` after the last arrived and was decoded.

Reported: mini-batches per second in each kind of round (median over rounds, interleaved so the load
of a shared machine falls on both alike), the slowdown ``1 - watched / alone`` (of the medians, and the
median of each round's own ratio), frames per second and
the time to answer one frame (median, p90). Writes ``plane-live.md`` and ``plane-live.json`` next to
this file (or in ``--out``).
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.app_load import Browser, machine, start_server, stop_server

HERE = Path(__file__).resolve().parent
FRAME_GAP = 0.06                       # seconds between a painted frame and the next request (plane.js)
SETTINGS = {"dataset": "spiral", "features": ["x1", "x2"], "hidden": [8, 8, 8, 8], "activation": "tanh",
            "n": 400, "batch_size": 10, "optimizer": "sgd", "lr": 0.03}


def steps(browser):
    return browser.call("GET", "/api/plane")[1]["steps"]


def one_round(browser, seconds, watched):
    """Train for ``seconds`` (watched or not); ``(mini-batches per second, frame seconds list)``."""
    before = steps(browser)
    browser.call("POST", "/api/plane/train/start")
    start = time.perf_counter()
    frames = []
    while time.perf_counter() - start < seconds:
        if watched:
            _, answer, took = browser.call("GET", f"/api/plane/frame?since={10**9}")
            assert answer["layers"], "a frame without pictures"
            frames.append(took)
            time.sleep(FRAME_GAP)
        else:
            time.sleep(0.05)
    browser.call("POST", "/api/plane/train/pause")
    elapsed = time.perf_counter() - start
    return (steps(browser) - before) / elapsed, frames, elapsed


def run(seconds, rounds):
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_server(Path(tmp) / "models", max_trainings=2)
        browser = Browser(url, 0)
        try:
            browser.call("GET", "/api/plane")
            browser.call("POST", "/api/plane/settings", SETTINGS)
            alone, watched, frame_times, fps = [], [], [], []
            for r in range(rounds):
                for kind in (("alone", "watched") if r % 2 == 0 else ("watched", "alone")):
                    rate, frames, elapsed = one_round(browser, seconds, kind == "watched")
                    (watched if kind == "watched" else alone).append(rate)
                    if frames:
                        frame_times.extend(frames)
                        fps.append(len(frames) / elapsed)
                    print(f"round {r + 1} {kind:8s}: {rate:8.0f} mini-batches/s" +
                          (f", {len(frames) / elapsed:.1f} frames/s" if frames else ""), flush=True)
            assert not browser.errors, browser.errors
        finally:
            browser.close()
            stop_server(process)
    frame_times.sort()
    a, w = statistics.median(alone), statistics.median(watched)
    return {"settings": SETTINGS, "seconds_per_round": seconds, "rounds": rounds, "frame_gap": FRAME_GAP,
            "alone_steps_per_s": alone, "watched_steps_per_s": watched, "median_alone": a, "median_watched": w,
            "slowdown": 1 - w / a, "slowdown_per_round": [1 - x / y for x, y in zip(watched, alone)],
            "slowdown_median_of_rounds": statistics.median(1 - x / y for x, y in zip(watched, alone)),
            "frames_per_s": statistics.median(fps),
            "frame_ms_median": 1000 * statistics.median(frame_times),
            "frame_ms_p90": 1000 * frame_times[int(0.9 * (len(frame_times) - 1))], "machine": machine()}


def report(result):
    m = result["machine"]
    return "\n".join([
        "# The Plane view, live (python -m benchmarks.plane_live)", "",
        f"2-8-8-8-8-2 tanh on the spirals, batch 10; {result['rounds']} rounds of each kind, "
        f"{result['seconds_per_round']} s each, interleaved; the server in its own process.", "",
        "| | mini-batches/s (median) | frames/s | one frame (median / p90) |", "|---|---:|---:|---:|",
        f"| alone | {result['median_alone']:.0f} | | |",
        f"| watched | {result['median_watched']:.0f} | {result['frames_per_s']:.1f} | "
        f"{result['frame_ms_median']:.0f} ms / {result['frame_ms_p90']:.0f} ms |", "",
        f"Training slowdown while watched: **{100 * result['slowdown']:.1f}%** (ratio of the medians); "
        f"the median of each round's own ratio: {100 * result['slowdown_median_of_rounds']:.1f}%.", "",
        f"Machine: {m.get('cpu')}, {m.get('usable_cores')} usable cores, load average at the start "
        f"{', '.join(f'{v:.1f}' for v in m.get('load_average_at_start', ()))}; Python {m.get('python')}, "
        f"NumPy {m.get('numpy')}.", ""])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one round (default 4)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of each kind (default 4)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for plane-live.md/.json (default here)")
    args = parser.parse_args(argv)
    result = run(args.seconds, args.rounds)
    text = report(result)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "plane-live.md").write_text(text, encoding="utf-8")
    (args.out / "plane-live.json").write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
