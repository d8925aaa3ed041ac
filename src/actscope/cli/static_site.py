"""The ``playground`` group: ``playground build DIR``, the playground as a static site."""

from __future__ import annotations

import logging

import click

from actscope.cli.group import main
from actscope.errors import InputError


def parse_seeds(text: str, most: int) -> tuple[int, ...]:
    """``"42,0-7"`` -> (42, 0, 1, ..., 7), at most ``most`` seeds; an InputError naming the
    option otherwise."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        lo, sep, hi = part.partition("-")
        try:
            first, last = (int(lo), int(hi)) if sep else (int(part), int(part))
        except ValueError:
            raise InputError(f"--seeds = {text!r}: {part!r} is not a seed or a range a-b of seeds") from None
        if last - first + 1 + len(seeds) > most:
            raise InputError(f"--seeds = {text!r}: more than {most} seeds (each embeds its draws)")
        seeds += range(first, last + 1)
    return tuple(dict.fromkeys(seeds))


@main.group()
def playground() -> None:
    """The playground as a static site (no server needed)."""


@playground.command()
@click.argument("out", metavar="DIR", type=click.Path())
@click.option("--seeds", default="42,0-7", show_default=True,
              help="Seeds the page offers (comma-separated, ranges a-b); each embeds its draws.")
@click.option("--activation", "formulas", multiple=True, metavar="FORMULA",
              help='An extra activation, e.g. "f(x) = x * tanh(softplus(x))" (repeatable).')
@click.option("--n-samples", type=int, default=None, help="Points per dataset (default 400).")
@click.option("--noise", type=float, default=None, help="Dataset noise (default 0.18).")
@click.option("--test-fraction", type=float, default=None, help="Test fraction (default 0.25).")
@click.option("--data-seed", type=int, default=None, help="Data seed (default 42).")
def build(out, seeds, formulas, n_samples, noise, test_fraction, data_seed) -> None:
    """Write a static playground into DIR (new or empty): open DIR/index.html."""
    from actscope.static_site import BuildOptions, build_site  # deferred: NumPy and the data stack
    from actscope.static_site.bundle import MAX_SEEDS

    data = {k: v for k, v in dict(n_samples=n_samples, noise=noise, test_fraction=test_fraction,
                                    data_seed=data_seed).items() if v is not None}
    opts = BuildOptions(seeds=parse_seeds(seeds, MAX_SEEDS), formulas=tuple(formulas), **data)
    path = build_site(out, opts)
    logging.getLogger(__name__).info("open %s in a browser (no server needed)", path / "index.html")
    click.echo(str(path))
