"""Figure sizes in pixels, so that a report reads the same with 2 arms or 20.

Every report figure is at most ``MAX_WIDTH_PX`` wide at the dpi it is saved with, and
each of its panels (axes) at least ``MIN_PANEL_PX`` wide: per-arm panels wrap into a
grid of 3 to 4 columns instead of one row that grows with the arms. Figures are laid
out by matplotlib's constrained layout, which also makes room for legends placed
outside the axes (``outside_legend``), so that no legend covers data.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

MAX_WIDTH_PX = 1600  # the widest figure, in pixels at the saved dpi
MIN_PANEL_PX = 300  # the narrowest panel (axes), in pixels at the saved dpi
CELL_PX = (400, 380)  # one panel with its labels: width, height
MAX_COLS = 4


def grid_shape(n: int, max_cols: int = MAX_COLS) -> tuple[int, int]:
    """(rows, columns) for ``n`` panels: one row up to ``max_cols``, else 3 to ``max_cols``
    columns, the number that leaves the fewest empty cells (the wider on a tie)."""
    if n <= max_cols:
        return 1, max(n, 1)
    cols = min(range(3, max_cols + 1), key=lambda c: ((-n) % c, -c))
    return math.ceil(n / cols), cols


def new_figure(dpi: int, width_px: float, height_px: float) -> Figure:
    """An empty figure of that size in pixels (width capped at ``MAX_WIDTH_PX``),
    laid out by constrained layout."""
    width_px = min(width_px, MAX_WIDTH_PX)
    return plt.figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, layout="constrained")


def panel_grid(n: int, dpi: int, cell_px: tuple[float, float] = CELL_PX,
               extra_px: tuple[float, float] = (0, 70), max_cols: int = MAX_COLS,
               **subplot_kw) -> tuple[Figure, list[Axes]]:
    """A figure with ``n`` panels in a grid (``grid_shape``) and no empty ones.

    ``cell_px``: each panel's cell with its labels; ``extra_px``: room for what is not a
    panel (a legend on the right, a title on top). Cells shrink where the grid would be
    wider than ``MAX_WIDTH_PX``.
    """
    rows, cols = grid_shape(n, max_cols)
    cw = min(cell_px[0], (MAX_WIDTH_PX - extra_px[0]) / cols)
    fig = new_figure(dpi, cols * cw + extra_px[0], rows * cell_px[1] + extra_px[1])
    axes = fig.subplots(rows, cols, squeeze=False, **subplot_kw).ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig, list(axes[:n])


def outside_legend(fig: Figure, handles=None, labels=None, where: str = "right", **kw):
    """A figure legend outside every axes (right of them, or below), or None without entries.

    Without ``handles`` it collects the entries of every axes, each label once.
    """
    if handles is None:
        seen: dict[str, object] = {}
        for ax in fig.axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(lab, h)
        handles, labels = list(seen.values()), list(seen)
    if not handles:
        return None
    loc = {"right": "outside right upper", "bottom": "outside lower center",
           "top": "outside upper center"}[where]
    kw.setdefault("fontsize", 9)
    if where != "right":
        kw.setdefault("ncol", min(len(handles), 6))
    kw["loc"] = loc
    return fig.legend(handles, labels, **kw)


def panels(fig: Figure) -> list[Axes]:
    """The figure's panels: its visible axes that are not colourbars."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def panel_sizes(fig: Figure, dpi: int) -> list[tuple[float, float]]:
    """(width, height) in pixels of every panel once the figure is laid out at ``dpi``
    (what ``savefig(dpi=dpi)`` writes)."""
    fig.set_dpi(dpi)
    fig.draw_without_rendering()
    w_in, h_in = fig.get_size_inches()
    return [(ax.get_position().width * w_in * dpi, ax.get_position().height * h_in * dpi)
            for ax in panels(fig)]


def legend_overlaps(fig: Figure, dpi: int) -> list[str]:
    """Labels of the legends whose box overlaps a panel's box (should be none)."""
    fig.set_dpi(dpi)
    fig.draw_without_rendering()
    renderer = cast("FigureCanvasAgg", fig.canvas).get_renderer()  # the report's backend is Agg
    legends = list(fig.legends) + [leg for ax in panels(fig) if (leg := ax.get_legend())]
    bad = []
    for leg in legends:
        box = leg.get_window_extent(renderer)
        for ax in panels(fig):
            if box.overlaps(ax.get_window_extent(renderer)):
                bad.append(", ".join(t.get_text() for t in leg.get_texts())[:60])
                break
    return bad
