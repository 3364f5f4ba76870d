"""Turn the benchmark's results (a dict, as in results.json) into lines and Markdown tables."""

import platform

import numpy as np

NAMES = {"glassnet": "glassnet", "pytorch": "PyTorch", "pytorch-1thread": "PyTorch (1 thread)",
         "sklearn": "scikit-learn", "textbook": "textbook NumPy loop", "textbook-1thread": "textbook loop (1 thread)",
         "peer": "neural-network-digits"}
#: The targets of issue 17: glassnet's speed-up over each baseline, per row (``None``: no target).
TARGETS = {"textbook": 1.1, "peer": 1.1, "pytorch": 1.0}
PYTORCH_TARGETS = {("A", 64): 1.5, ("B", 256): 1.2}
SINGLE_IMAGE_TARGET = 2.5


def _ratio(row, lib, reference="pytorch"):
    """How many times faster ``lib`` trains than ``reference`` (median s/epoch), or None."""
    res = row["results"]
    if lib not in res or reference not in res:
        return None
    return res[reference]["median"] / res[lib]["median"]


def training_line(row):
    res = row["results"]
    parts = [f"{row['dataset']} {row['network']} batch {row['batch']}:"]
    for lib, r in res.items():
        parts.append(f"{NAMES.get(lib, lib)} {r['median']:.3f} s/epoch (acc {r['accuracy']:.4f})")
    ratio = _ratio(row, "glassnet")
    if ratio:
        parts.append(f"-> glassnet {ratio:.2f}x PyTorch")
    return "  ".join(parts)


def latency_line(entry):
    parts = [f"latency {entry['dataset']} {entry['network']}:"]
    for lib, r in entry["results"].items():
        parts.append(f"{NAMES.get(lib, lib)} 1 image {r['single'] * 1e6:.1f} us, 1000 images "
                     f"{r['batch1000'] * 1e3:.2f} ms")
    return "  ".join(parts)


def _gib(n):
    return f"{n / 2**30:.2f} GiB"


def _mib(n):
    return f"{n / 2**20:.0f} MiB"


def markdown(results):
    m, s, gemm = results["machine"], results["settings"], results["gemm"]
    peak = max(gemm["gflops_all"], results.get("gemm_end", gemm)["gflops_all"])
    lines = ["# glassnet benchmark results", "",
             f"Command: `{s['command']}`"
             + (" (quick smoke run: tiny sizes, numbers mean little)" if s["quick"] else ""),
             "",
             "## Machine", "",
             f"- CPU: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable); thread budget per library: "
             f"{s['threads']}",
             f"- BLAS (NumPy): {m['blas']}",
             f"- Python {m['python']}, NumPy {m['numpy']}, glassnet {m['glassnet']}"
             + (f", PyTorch {m['torch']}" if "torch" in m else "") + (f", scikit-learn {m['sklearn']}"
                                                                     if "sklearn" in m else ""),
             f"- Platform: {m['platform']}; load average at start: "
             + ", ".join(f"{x:.2f}" for x in m["load_average"])
             + "; per row below: the 1-minute load average before the first and after the last timed epoch",
             f"- glassnet's BLAS thread control: {m.get('glassnet_thread_control', '?')}; the threads it chose "
             "(glassnet.threads: measured at the start of fit) are in the threads column"
             + (f"; peer library: {m['peer']}" if "peer" in m else ""),
             "- OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed from the environment: "
             + (", ".join(f"{k}={v}" for k, v in s["removed_env"].items()) or "neither was set"),
             f"- float32 GEMM peak ({gemm['size']}x{gemm['size']}, best of 1 s), measured in this run: "
             f"{gemm['gflops_1']:.0f} GFLOP/s on 1 thread, {gemm['gflops_all']:.0f} GFLOP/s on {s['threads']} "
             f"(at the end: {results.get('gemm_end', gemm)['gflops_1']:.0f} / "
             f"{results.get('gemm_end', gemm)['gflops_all']:.0f}); % of peak below uses {peak:.0f}.",
             "",
             f"Settings: SGD lr {s['lr']}, momentum {s['momentum']}, {s['dtype']}, {s['epochs']} epochs; glassnet "
             "and PyTorch start from the same weights and see the same batches in the same order; "
             "scikit-learn uses its own initialisation and shuffling. Seconds per epoch: median of epochs 2.."
             f"{s['epochs']} (the first warms up) of each pass, with min-max; glassnet's is the epoch time "
             "`fit` reports (History.seconds), the others' the loop itself. "
             + ("Each library ran alone: one worker process at a time, no other worker alive"
                + (f"; {s['passes']} passes, the libraries' order reversed in each, and every row's median is "
                   "over the timed epochs of all passes (a machine whose speed drifts favours no library)."
                   if s.get("passes", 1) > 1 else ".")
                if s.get("mode", "interleaved") == "alone" else
                "Libraries ran in separate worker processes, all alive, epochs interleaved with alternating order, "
                "so they share the machine's load."),
             ""]
    if results.get("training"):
        lines += ["## Training", "",
                  "| data | network | batch | library | threads | s/epoch (median) | min-max | samples/s | "
                  "glassnet is x faster | test acc | GFLOP/s | % GEMM peak | load |",
                  "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row in results["training"]:
            for lib, r in row["results"].items():
                ratio = _ratio(row, "glassnet", lib) if lib != "glassnet" else None
                load = r.get("load")
                lines.append(
                    f"| {row['dataset']} | {row['network']} {'-'.join(map(str, row['sizes']))} | {row['batch']} | "
                    f"{NAMES.get(lib, lib)} | {r['threads'] if r['threads'] is not None else '?'} | "
                    f"{r['median']:.3f} | {r['min']:.3f}-{r['max']:.3f} | {r['samples_per_s']:,.0f} | "
                    f"{f'{ratio:.2f}x' if ratio else '-'} | {r['accuracy'] * 100:.2f}% | {r['gflops']:.1f} | "
                    f"{r['gflops'] / peak * 100:.0f}% | {f'{load[0][0]:.1f}-{load[-1][1]:.1f}' if load else '?'} |")
        lines += ["", "### glassnet's speed-up over each baseline (median s/epoch ratio)", ""] + _speedups(results)
        lines += ["", "### Targets", ""] + _targets(results) + [""]
    if results.get("memory"):
        lines += ["## Peak memory (RSS) per worker process", "", "| data | library | peak RSS |", "|---|---|---:|"]
        for data, libs in results["memory"].items():
            for lib, r in libs.items():
                lines.append(f"| {data} | {NAMES.get(lib, lib)} | {_mib(r['peak_rss'])} |")
        lines.append("")
    if results.get("latency"):
        lines += ["## Prediction latency (median)", "",
                  "| data | network | library | 1 image | 1000 images | 1 image vs PyTorch |",
                  "|---|---|---|---:|---:|---:|"]
        for entry in results["latency"]:
            torch = entry["results"].get("pytorch")
            for lib, r in entry["results"].items():
                vs = f"{torch['single'] / r['single']:.2f}x" if torch else "-"
                lines.append(f"| {entry['dataset']} | {entry['network']} | {NAMES.get(lib, lib)} | "
                             f"{r['single'] * 1e6:.1f} us | "
                             f"{r['batch1000'] * 1e3:.2f} ms | {vs} |")
        lines.append("")
    if results.get("scaling"):
        rows = results["scaling"]
        lines += ["## Scaling (glassnet, network A, batch 64, median of 3 epochs)", "",
                  "| samples | s/epoch | us/sample | relative to the smallest |", "|---:|---:|---:|---:|"]
        base = rows[0]["us_per_sample"]
        for r in rows:
            lines.append(f"| {r['n_samples']:,}{' (augmented)' if r['augmented'] else ''} | {r['median']:.3f} | "
                         f"{r['us_per_sample']:.2f} | {r['us_per_sample'] / base:.2f} |")
        lines.append("")
    mm = results.get("memmap")
    if mm:
        lines += ["## Training from a memory-mapped file under a memory limit", "",
                  f"File: {mm['file_gib']:.2f} GiB float32 `.npy` ({mm['n_samples']:,} samples: Fashion-MNIST and "
                  f"shifted copies), read with `np.load(path, mmap_mode=\"r\")`. Limit: {mm['memory_limit_gib']} GiB "
                  f"({mm.get('limit_mechanism') or 'none available: not run'}). Network A, batch 64, 1 epoch.", ""]
        for mode, what in (("mmap", "memory-mapped, fit reads batches lazily"),
                           ("load", "control: np.load of the whole file")):
            e = mm.get(mode)
            if not e:
                continue
            if "epoch_seconds" in e:
                lines.append(f"- {what}: finished (exit {e['returncode']}), {e['epoch_seconds']:.1f} s/epoch, "
                             f"peak RSS {_gib(e['peak_rss'])} (counts the mapped file's pages in memory), "
                             f"cgroup peak {_gib(e['cgroup_peak_bytes'] or 0)}, "
                             f"test accuracy {e['accuracy'] * 100:.2f}%")
            else:
                lines.append(f"- {what}: exit code {e['returncode']} (killed by the limit: "
                             f"{'yes' if e['returncode'] in (-9, 137) else 'no'}), cgroup peak "
                             f"{_gib(e['cgroup_peak_bytes'] or 0)}")
        lines.append("")
    return "\n".join(lines) + "\n"


def _speedups(results):
    """One line per row: glassnet's speed-up over every other library, and the accuracy difference."""
    libs = [lib for lib in NAMES if lib != "glassnet" and any(lib in row["results"] for row in results["training"])]
    out = ["| data | network | batch | " + " | ".join(NAMES[lib] for lib in libs) + " | accuracy glassnet - PyTorch |",
           "|---|---|---:|" + "---:|" * len(libs) + "---:|"]
    for row in results["training"]:
        cells = []
        for lib in libs:
            ratio = _ratio(row, "glassnet", lib) if "glassnet" in row["results"] else None
            cells.append(f"{ratio:.2f}x" if ratio else "-")
        res = row["results"]
        acc = (f"{(res['glassnet']['accuracy'] - res['pytorch']['accuracy']) * 100:+.2f}"
               if "glassnet" in res and "pytorch" in res else "-")
        out.append(f"| {row['dataset']} | {row['network']} | {row['batch']} | " + " | ".join(cells) + f" | {acc} |")
    return out


def _targets(results):
    """Issue 17's targets, each met or missed: >= 1.1x the textbook loop and the peer on every row, >= 1.5x
    PyTorch at A/64 and 1.2x at B/256, never below PyTorch, accuracy within 0.5 points, one image >= 2.5x."""
    out = []
    for row in results["training"]:
        if row["dataset"] != "fashion-mnist" or "glassnet" not in row["results"]:
            continue
        key = (row["network"], row["batch"])
        goals = {**TARGETS, "pytorch": PYTORCH_TARGETS.get(key, TARGETS["pytorch"])}
        parts, ok = [], True
        for lib, goal in goals.items():
            ratio = _ratio(row, "glassnet", lib)
            if ratio is not None:
                parts.append(f"{ratio:.2f}x {NAMES[lib]} (target {goal}x)")
                ok = ok and ratio >= goal
        if "pytorch" in row["results"]:
            acc = (row["results"]["glassnet"]["accuracy"] - row["results"]["pytorch"]["accuracy"]) * 100
            parts.append(f"accuracy {acc:+.2f} points vs PyTorch (target within 0.5)")
            ok = ok and abs(acc) <= 0.5
        out.append(f"- {key[0]}/{key[1]}: {'met' if ok else 'MISSED'}: " + "; ".join(parts))
    for entry in results.get("latency", []):
        if "pytorch" in entry["results"] and entry["network"] == "A" and entry["dataset"] == "fashion-mnist":
            r = entry["results"]
            ratio = r["pytorch"]["single"] / r["glassnet"]["single"]
            out.append(f"- Single-image prediction (network A): glassnet {ratio:.2f}x faster than PyTorch "
                       f"(target {SINGLE_IMAGE_TARGET}x: {'met' if ratio >= SINGLE_IMAGE_TARGET else 'MISSED'})")
    return out or ["- (no Fashion-MNIST rows in this run)"]


def median(values):
    return float(np.median(values))


def cpu_model():
    """The processor's name (Linux /proc/cpuinfo; elsewhere what platform knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
