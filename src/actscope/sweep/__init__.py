"""Sweeps: a grid over spec fields x seeds; each cell trains as one ensemble.

A sweep file is an experiment file (``[data]``, ``[model]``, ``[train]``, ``[seeds]``, ...)
with a top-level ``[sweep]`` table whose ``[sweep.grid]`` lists the values of dotted spec
fields (``model.hidden``, ``train.lr``, ``data.noise``, ...) plus the shortcuts
``activation`` (one arm per value), ``model.depth`` and ``model.width`` (``hidden =
[width] * depth``). With ``[train] lr = "tune"`` every cell is trained at every rate of
``lr_grid`` and the rate is chosen per arm on the validation split (tune.py).

Modules: ``spec`` (the sweep file), ``plan`` (its cells), ``cells`` (running one),
``executors`` (where cells run), ``ray_cluster`` (connecting to Ray, shipping the code,
lost tasks), ``tables`` (the results table), ``analysis`` (what the table says), ``run``
(`run_sweep`, the sweep directory, failed and lost cells), ``progress``.
"""

from actscope.sweep.cells import MEMBER_METRICS, run_cell
from actscope.sweep.display import read_frame
from actscope.sweep.executors import EXECUTORS, check_executor, execute
from actscope.sweep.plan import MAX_CELLS, cell_id, cell_spec, plan_cells
from actscope.sweep.progress import SweepProgress
from actscope.sweep.run import SweepResult, default_sweep_dir, finish_sweep, run_sweep
from actscope.sweep.spec import Sweep, SweepTable, load_sweep, parse_sweep, resolved_toml
from actscope.sweep.tables import (
    CELL_COLUMNS,
    finished_cells,
    read_table,
    table_rows,
    write_csv,
    write_parquet,
)

__all__ = [
    "CELL_COLUMNS", "EXECUTORS", "MAX_CELLS", "MEMBER_METRICS", "Sweep", "SweepProgress", "SweepResult",
    "SweepTable", "cell_id", "cell_spec", "check_executor", "default_sweep_dir", "execute",
    "finish_sweep", "finished_cells", "load_sweep", "parse_sweep", "plan_cells", "read_frame", "read_table",
    "resolved_toml", "run_cell", "run_sweep", "table_rows", "write_csv", "write_parquet",
]
