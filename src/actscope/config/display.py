"""An ExperimentSpec in a notebook: what it trains, on what, how, and its arms, as HTML.

Every value shown is the spec's own (defaults included), so what the table says is what a
run of this spec does.
"""

from __future__ import annotations

from actscope._util import notebook as nb


def _fmt(value) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return nb.cell(value)


def spec_rows(spec) -> list[list[str]]:
    """(section, setting) rows: data, model, training and seeds."""
    d, m, t, s = spec.data, spec.model, spec.train, spec.seeds
    seeds = (f"{s.n} ({', '.join(map(str, s.values[:8]))}{', …' if s.n > 8 else ''})" if s.values is not None
             else f"{s.count} from {s.start}")
    return [
        ["data", f"{d.name}, {d.n_samples} samples, noise {d.noise}, test {d.test_size}, "
                 f"val {d.val_size}, standardize {d.standardize}"],
        ["model", f"hidden {_fmt(m.hidden)}, activation {_fmt(m.activation)}, init {m.init}"],
        ["train", f"{t.optimizer}, lr {t.lr}, {t.epochs} epochs, batch {t.batch_size}, engine {t.engine} "
                  f"({t.dtype}, {t.device}), rng {t.rng}"],
        ["seeds", seeds],
    ]


def spec_html(spec) -> str:
    """The notebook view of an ExperimentSpec: its settings and one row per arm."""
    arms = [[a.name, _fmt(a.activation), a.init or f"{spec.model.init} (model)",
             nb.cell(a.lr) if a.lr is not None else f"{spec.train.lr} (train)"] for a in spec.arms]
    own = [f"{name} = {a.formula}" for name, a in (spec.activations or {}).items()]
    parts = [nb.heading(f"ExperimentSpec {spec.name}", spec.description or f"{len(spec.arms)} arms"),
             nb.table(["", "setting"], spec_rows(spec)),
             nb.table(["arm", "activation", "init", "lr"], arms, caption="arms")]
    if own:
        parts.append(nb.paragraph("own activations:") + nb.items(own))
    return "<div>" + "".join(parts) + "</div>"
