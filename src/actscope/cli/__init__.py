"""The command line: parses, calls the library, prints. It holds no logic of its own.

Exit status: 0 success, 2 bad input or usage, 1 anything else. The last line a run prints
on stdout is the path of its run directory (with ``--json``: one JSON document, alone).

Modules: ``group`` (the root group, `main`, ``-q``/``-v``), one module per command group:
``experiments`` (run, reproduce, demo, report), ``sweeps``, ``search``, ``theory``, ``activations``,
``playground`` (serve); ``options`` (shared options: ``--set``, ``--json``, ``--max-memory``),
``output`` (the ``--json`` documents), ``logs`` (the stderr handler of the ``actscope``
logger), ``progress`` (the training progress bar).
"""

# importing a command module adds its commands to `main`
from actscope.cli import (  # noqa: F401, E501
    activations,
    experiments,
    interop,
    playground,
    schema,
    search,
    static_site,
    sweeps,
    theory,
)
from actscope.cli.group import Group, fail, main

__all__ = ["Group", "fail", "main"]
