"""A torch callable as an activation (issue 17, item 3): registered as ``fn`` (detected) or
``torch_fn``; the torch engine runs it on tensors with its autograd derivative, the NumPy
engine through torch on the CPU, and both train alike."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from actscope.activations import get_activation, register_activation  # noqa: E402
from actscope.errors import InputError  # noqa: E402


def test_torch_function_is_detected_and_differentiated():
    act = register_activation("t_hardswish", torch.nn.functional.hardswish, overwrite=True)
    assert act.torch_fn is torch.nn.functional.hardswish
    z = np.array([-4.0, -1.0, 0.5, 2.0, 4.0])
    np.testing.assert_allclose(act.fn(z), z * np.clip(z + 3, 0, 6) / 6, atol=1e-15)
    # hardswish' = (2z + 3) / 6 inside (-3, 3), 0 below, 1 above
    np.testing.assert_allclose(act.grad(z), [0.0, 1 / 6, 4 / 6, 7 / 6, 1.0], atol=1e-15)
    t = torch.tensor(z, requires_grad=False)
    np.testing.assert_allclose(act.torch_grad(t).numpy(), act.grad(z), atol=1e-15)
    assert get_activation("t_hardswish") is act


def test_torch_fn_alone_and_its_gain():
    act = register_activation("t_cube", torch_fn=lambda z: z**3 / 3 + z, overwrite=True)
    z = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(act.fn(z), z**3 / 3 + z, atol=1e-15)
    np.testing.assert_allclose(act.grad(z), z**2 + 1, atol=1e-13)
    x, w = np.polynomial.hermite_e.hermegauss(101)
    m2 = np.sum(w / w.sum() * (x**3 / 3 + x) ** 2)
    assert act.gain == pytest.approx(1 / np.sqrt(m2), rel=1e-12)
    assert act.fn(z.astype(np.float32)).dtype == np.float32


def test_neither_fn_nor_torch_fn_is_refused():
    with pytest.raises(InputError, match="give fn"):
        register_activation("t_none")


@pytest.mark.parametrize("name, tfn", [("t_hardswish2", torch.nn.functional.hardswish),
                                       ("t_mix", lambda z: torch.tanh(z) * torch.sigmoid(2 * z))])
def test_numpy_and_torch_engines_train_it_alike(name, tfn):
    import actscope

    register_activation(name, tfn, overwrite=True)
    spec = actscope.MLPSpec(n_inputs=2, hidden=[5, 3], activation=name)
    data = actscope.make_dataset(name="moons", n_samples=100)
    out = {}
    for eng in ("numpy", "torch"):
        e = actscope.get_engine(eng)
        p = e.init(spec, seeds=[0, 1])
        loss, grads = e.loss_and_grad(spec, p, data.X_train, data.y_train)
        out[eng] = (np.asarray(loss), [np.asarray(g.W if hasattr(g.W, "shape") else g[0]) for g in grads])
    np.testing.assert_allclose(out["numpy"][0], out["torch"][0], rtol=1e-12)
    for a, b in zip(out["numpy"][1], out["torch"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    assert np.abs(out["numpy"][1][0]).max() > 1e-6  # gradients flow through the activation
