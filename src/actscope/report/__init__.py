"""Figures (matplotlib, Agg) and the self-contained HTML report of a run."""

from .html import add_figure, add_section, write_figures, write_report

__all__ = ["add_figure", "add_section", "write_figures", "write_report"]
