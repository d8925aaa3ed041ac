"""Options that several commands share: ``--max-memory``, ``--set``, ``--json``."""

from __future__ import annotations

import click

MAX_MEMORY = click.option(
    "--max-memory", metavar="SIZE",
    help="Refuse a run whose estimated peak memory is above SIZE (8G, 512M, ...) "
         "[default: half the available memory; env ACTSCOPE_MAX_MEMORY].")


SET = click.option(
    "--set", "sets", multiple=True, metavar="SECTION.FIELD=VALUE",
    help="Set any spec field before validation (repeatable); VALUE is a TOML literal: "
         "--set train.lr=0.1 --set model.hidden=[16,16] --set 'arms.0.activation=\"tanh\"'.")
JSON = click.option("--json", "as_json", is_flag=True,
                    help="Print one JSON document on stdout (the summary) and nothing else there.")
