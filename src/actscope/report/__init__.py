"""Figures (matplotlib, Agg) and the self-contained HTML report of a run (and of a sweep).

Figures and sections are registered (`add_figure`, `add_section`); importing this package
registers every built-in one: the run's own (figures.py), the second article's, a PCA view
of n-D data and confusion matrices, the probes' figures, table and verdicts, and where
each arm's init sits in the phase diagram.
"""

# registration order is the report's order
from actscope.report import article2, ndfigures, probe_figures, probe_sections, theory_figures  # noqa: F401
from actscope.report.html import add_figure, add_section, prepare, write_figures, write_report
from actscope.report.sweep_report import lr_tuning_section

add_section("Learning-rate tuning", lr_tuning_section)  # only tuned runs ([train] lr = "tune")

__all__ = ["add_figure", "add_section", "prepare", "write_figures", "write_report"]
