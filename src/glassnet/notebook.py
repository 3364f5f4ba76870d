"""glassnet in Jupyter: a network that draws itself, and curves that redraw while it trains.

- ``Network._repr_html_`` (what a notebook shows for a cell ending in ``net``) is
  :func:`network_html`: a diagram of the layers as inline SVG and the summary table.
- :class:`LivePlot` is a training callback that redraws the loss and accuracy curves during
  ``fit``, in place, in the notebook cell (or into a PNG file outside a notebook).
- :func:`picture` shows an array (a digit, a neuron's weights) as an image, without matplotlib;
  :func:`check` checks an exercise's answer in the course's notebooks (``course/``).
- Importing glassnet inside a Jupyter kernel makes a matplotlib ``Figure`` display as a PNG, so
  ``plots.plot_history(h)`` at the end of a cell shows the picture without ``%matplotlib inline``.

Only NumPy is needed to build the HTML; ``LivePlot`` draws with matplotlib (the ``plot`` extra)
and shows the picture with IPython's ``display`` when it runs inside Jupyter.
Not here: widgets, interactive sliders, anything that needs a running kernel extension.
"""

import html
import numbers
import time
from pathlib import Path

import numpy as np

from . import views
from ._io import atomic_write_bytes
from .callbacks import Callback
from .errors import GlassnetError, require
from .layers import Dense
from .plots import DPI, history_records, plot_history, to_png

MAX_DRAWN = 10          # neurons drawn per layer in the diagram; the rest are summarised as "..."
_COLUMN, _ROW, _TOP = 150, 26, 34


# -- the network as a picture ---------------------------------------------------------------
def neuron_layers(net):
    """The network as columns of neurons: ``[{"name", "neurons", "detail"}]``, input first.

    Each ``Dense`` layer starts a new column of neurons; the activation and dropout layers after it
    describe what those neurons do. (Example: 784 inputs, hidden 1 of 128 ReLU, ..., output 10.)
    """
    columns = [{"name": "input", "neurons": net.n_features, "detail": []}]
    for layer, n in zip(net.layers, net.sizes):
        if isinstance(layer, Dense):
            columns.append({"name": "", "neurons": n, "detail": []})
        else:
            columns[-1]["detail"].append(repr(layer))
    for k, column in enumerate(columns[1:], start=1):
        column["name"] = "output" if k == len(columns) - 1 else f"hidden {k}"
    return columns


def _drawn(n):
    """Which neuron indices to draw: all of them, or the first and last few with a gap."""
    if n <= MAX_DRAWN:
        return list(range(n)), None
    head = MAX_DRAWN // 2
    return list(range(head)) + list(range(n - (MAX_DRAWN - head - 1), n)), head


def network_svg(net):
    """An SVG diagram: one column of circles (neurons) per layer, lines for the weights between.

    Big layers show their first and last neurons with "..." between; every label is escaped,
    and the picture needs nothing outside itself.
    """
    columns = neuron_layers(net)
    height = _TOP + _ROW * MAX_DRAWN + 64
    width = _COLUMN * len(columns) + 20
    centres = []
    for k, column in enumerate(columns):
        shown, gap = _drawn(column["neurons"])
        slots = len(shown) + (gap is not None)
        y0 = _TOP + (_ROW * MAX_DRAWN - _ROW * slots) / 2 + _ROW / 2
        ys = [y0 + _ROW * (s + (gap is not None and s >= gap)) for s in range(len(shown))]
        centres.append((_COLUMN * k + _COLUMN / 2 + 10, ys, gap, y0 + _ROW * gap if gap is not None else None))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="network diagram" '
             f'style="font-family: sans-serif; font-size: 12px">']
    parts.append(f"<title>{html.escape(_caption(net))}</title>")
    for (x1, ys1, _, _), (x2, ys2, _, _) in zip(centres, centres[1:]):      # the weights
        for y1 in ys1:
            for y2 in ys2:
                parts.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" '
                             f'stroke="#9bb7d4" stroke-width="0.6" stroke-opacity="0.6"/>')
    for column, (x, ys, gap, gap_y) in zip(columns, centres):            # the neurons
        colour = "#f2c14e" if column["name"] == "input" else "#d1495b" if column["name"] == "output" else "#1f6fb4"
        for y in ys:
            parts.append(f'<circle cx="{x:.0f}" cy="{y:.0f}" r="8" fill="{colour}" stroke="#333" '
                         f'stroke-width="0.8"/>')
        if gap is not None:
            parts.append(f'<text x="{x:.0f}" y="{gap_y + 4:.0f}" text-anchor="middle" fill="#333">'
                         f'&#8942; {column["neurons"] - len(ys):,} more</text>')
        label_y = _TOP + _ROW * MAX_DRAWN + 18
        parts.append(f'<text x="{x:.0f}" y="20" text-anchor="middle" font-weight="bold">'
                     f'{html.escape(column["name"])}</text>')
        parts.append(f'<text x="{x:.0f}" y="{label_y:.0f}" text-anchor="middle">'
                     f'{column["neurons"]:,} neuron{"s" * (column["neurons"] != 1)}</text>')
        if column["detail"]:
            parts.append(f'<text x="{x:.0f}" y="{label_y + 16:.0f}" text-anchor="middle" fill="#555">'
                         f'{html.escape(", ".join(column["detail"]))}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _caption(net):
    sizes = " \u2192 ".join(f"{c['neurons']:,}" for c in neuron_layers(net))
    return f"{sizes} neurons, {net.n_params:,} parameters"


def summary_rows(net):
    """The rows of ``net.summary()`` as data: ``(index, layer, neurons, output shape, parameters)``."""

    rows = [("", "input", net.n_features, f"(n, {net.n_features})", 0)]
    rows += [(str(i), layer.summary_name(), n, f"(n, {n})", layer.n_params)
             for i, (layer, n) in enumerate(zip(net.layers, net.sizes))]
    return rows


def summary_table_html(net):
    """``net.summary()`` as an HTML table (inline styles only)."""
    cell = 'style="padding: 2px 10px; text-align: {}; border-bottom: 1px solid #ddd"'
    head = "".join(f"<th {cell.format('right' if c in ('neurons', 'parameters') else 'left')}>{c}</th>"
                   for c in ("#", "layer", "neurons", "output shape", "parameters"))
    body = []
    for index, name, n, shape, params in summary_rows(net):
        body.append("<tr>" + "".join([
            f"<td {cell.format('left')}>{html.escape(index)}</td>",
            f"<td {cell.format('left')}><code>{html.escape(name)}</code></td>",
            f"<td {cell.format('right')}>{n:,}</td>",
            f"<td {cell.format('left')}>{html.escape(shape)}</td>",
            f"<td {cell.format('right')}>{params:,}</td>"]) + "</tr>")
    kib = net.n_params * net.dtype.itemsize / 1024
    return (f'<table style="border-collapse: collapse; font-size: 13px"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody>'
            f'<tfoot><tr><td colspan="5" style="padding: 4px 10px">Total parameters: <b>{net.n_params:,}</b> '
            f'({kib:,.1f} KiB as {html.escape(str(net.dtype))})</td></tr></tfoot></table>')


def network_html(net):
    """What a notebook shows for a network: its diagram (inline SVG) and the summary table."""
    trained = ""
    if getattr(net, "history_", None) is not None and len(net.history_):
        last = net.history_.epochs[-1]
        accuracy = f", accuracy {100 * last['accuracy']:.2f}%" if last.get("accuracy") is not None else ""
        trained = (f"<p style=\"margin: 4px 0\">Trained {len(net.history_)} epoch"
                   f"{'s' * (len(net.history_) != 1)}: last loss {last['loss']:.4f}{accuracy}</p>")
    return (f'<div class="glassnet-network" style="font-family: sans-serif">'
            f'<p style="margin: 4px 0"><b>glassnet Network</b>: {html.escape(_caption(net))}</p>'
            f'<div style="overflow-x: auto">{network_svg(net)}</div>{trained}{summary_table_html(net)}</div>')


# -- pictures and exercises ----------------------------------------------------------------
def picture(values, shape=None, size=140):
    """An array as a picture a notebook shows (``image/png``), enlarged to ``size`` pixels wide.

    ``values``: an image ``(28, 28)`` or a flat array with ``shape`` (default: square when it can be).
    Values that are all >= 0 are ink on white; signed values (weights) are red for +, blue for -.
    """
    a = np.asarray(values, dtype=np.float64)
    if shape is None and a.ndim == 1:
        side = int(round(np.sqrt(a.size)))
        if side * side != a.size:
            raise ValueError(f"picture: cannot guess the shape of {a.size} values; pass shape=(rows, columns)")
        shape = (side, side)
    a = a.reshape(shape) if shape is not None else a
    if a.ndim != 2:
        raise ValueError(f"picture expected a 2-D image or a flat array and its shape, received shape {a.shape}")
    scale = max(1, size // max(a.shape[1], 1))
    return _PNG(views.png(np.repeat(np.repeat(views.colour(a), scale, axis=0), scale, axis=1)))


def check(answer, expected, hint="", tolerance=1e-6):
    """Check an exercise: ``answer`` must equal ``expected`` (numbers: within a relative ``tolerance``).

    Prints a short "right" when it does; raises ``AssertionError`` with the ``hint`` when it does not, so
    a notebook run top to bottom fails on a wrong answer. ``...`` (the blank left to fill) says so.

    Example:
        >>> check(2 + 2, 4)
        right: 4
    """
    if answer is Ellipsis:
        raise AssertionError("not answered yet: replace ... with your answer")
    try:
        a, e = np.asarray(answer, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        right = a.shape == e.shape and bool(np.allclose(a, e, rtol=tolerance, atol=tolerance))
    except (TypeError, ValueError):
        right = answer == expected
    if not right:
        raise AssertionError(f"not quite: {answer!r} is not the answer. Hint: {hint}" if hint
                             else f"not quite: {answer!r} is not the answer")
    shown = str(answer) if isinstance(answer, (np.generic, np.ndarray)) else repr(answer)
    print(f"right: {views.short(shown, 200)}")


# -- curves that redraw during training ---------------------------------------------------
class _PNG:
    """A picture IPython can display (``display`` calls ``_repr_png_``)."""

    def __init__(self, data):
        self.data = data

    def _repr_png_(self):
        return self.data

    def __repr__(self):
        return f"<picture: {len(self.data):,} bytes of PNG>"


def _jupyter_display():
    """IPython's ``display`` when running inside IPython/Jupyter, else ``None``."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    return display if get_ipython() is not None else None


class LivePlot(Callback):
    """Redraw the loss and accuracy curves while ``fit`` runs: in a Jupyter cell, or into a PNG file.

    In a notebook, ``net.fit(..., callbacks=[gn.LivePlot()])`` shows one picture under the cell and
    updates it in place after every epoch (and, during long epochs, at most every ``interval``
    seconds with the loss of each mini-batch so far). Outside a notebook pass ``path="curves.png"``:
    the file is rewritten after every epoch, so an image viewer shows the run as it goes.

    Args:
        path: optional ``.png`` file rewritten at each redraw (atomically).
        display: the function that shows a picture; default IPython's ``display`` when in Jupyter.
            It is called as ``display(picture, display_id=True)`` once and must return a handle
            whose ``update(picture)`` replaces it (as IPython's does).
        interval: seconds between redraws within an epoch (``None``: only at the end of epochs).

    Raises:
        GlassnetError: neither Jupyter (IPython) nor a ``path`` nor a ``display`` is available.
        MissingExtraError: matplotlib is not installed (``pip install "glassnet[plot]"``).
    """

    def __init__(self, path=None, display=None, interval=2.0):
        require("matplotlib", "plot")
        if display is None and path is None:
            display = _jupyter_display()
            if display is None:
                raise GlassnetError("LivePlot draws in a Jupyter notebook, but this is not running in one "
                                    "(IPython is missing or inactive); pass path='curves.png' to redraw a "
                                    "PNG file after each epoch instead")
        if display is not None and not callable(display):
            raise TypeError(f"LivePlot: display expected a function like IPython's display, received {display!r}")
        if path is not None and Path(path).suffix.lower() != ".png":
            raise ValueError(f"LivePlot: path expected a file name ending in .png, received {str(path)!r}")
        if interval is not None and (isinstance(interval, bool) or not isinstance(interval, numbers.Real)
                                     or not interval >= 0):
            raise ValueError(f"LivePlot: interval expected seconds >= 0 or None, received {interval!r}")
        self.path = Path(path) if path is not None else None
        self.display = display
        self.interval = interval
        self.handle = None
        self.draws = 0
        self.batch_x, self.batch_loss = [], []

    def on_train_begin(self, logs):
        self.steps = max(int(logs.get("steps_per_epoch", 1)), 1)
        self.epoch = 0
        self.batch_x, self.batch_loss = [], []
        self.last_draw = time.perf_counter()

    def on_epoch_begin(self, epoch, logs):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        self.batch_x.append(self.epoch - 1 + batch / self.steps)
        self.batch_loss.append(float(logs["loss"]))
        if self.interval is not None and time.perf_counter() - self.last_draw >= self.interval:
            self.redraw()

    def on_epoch_end(self, epoch, logs):
        self.redraw()

    def on_train_end(self, logs):
        if self.batch_loss:
            self.redraw()

    def figure(self):
        """The current picture: the history's curves, with every mini-batch's loss behind them."""
        from matplotlib.figure import Figure


        records = self.run.history.epochs if self.run is not None and self.run.history is not None else []
        if records:
            fig = plot_history(history_records(records), title="Training (live)")
            ax = fig.axes[0]
        else:
            fig = Figure(figsize=(4.6, 3.4), dpi=DPI, layout="constrained")    # as plots draws its figures
            ax = fig.subplots()
            ax.set_xlabel("epoch")
            ax.set_ylabel("loss (lower is better)")
            ax.grid(alpha=0.3)
            fig.suptitle(f"Training (live): epoch {self.epoch}")
        if self.batch_loss:
            ax.plot(self.batch_x, self.batch_loss, color="#1f6fb4", alpha=0.25, linewidth=0.8,
                    label="train (each mini-batch)")
            ax.legend(fontsize=8, loc="best")   # given, not defaulted: no timing warning (plots.py)
        return fig

    def redraw(self):
        """Draw the figure and show it (in place after the first time) and/or write the PNG."""

        data = to_png(self.figure())
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, data)
        if self.display is not None:
            picture = _PNG(data)
            if self.handle is not None and hasattr(self.handle, "update"):
                self.handle.update(picture)        # replace the picture in place
            else:                                  # the first picture (or a display without handles)
                self.handle = self.display(picture, display_id=True)
        self.draws += 1
        self.last_draw = time.perf_counter()


views.show_figures_in_notebooks(to_png)     # in a Jupyter kernel: every Figure displays as a PNG

__all__ = ["LivePlot", "check", "network_html", "network_svg", "neuron_layers", "picture", "summary_table_html"]
