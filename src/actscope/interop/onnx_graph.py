"""One member as an ONNX graph, built with ``onnx.helper`` from the activations' scalar
expressions (no torch needed; every activation with an expression, formulas included).

The expression tree is first lowered as the compiled engines lower it
(``engines.codegen.lowering``: softplus, expm1, ndtr, sign and clip in terms of the rest),
then each node becomes one ONNX operator. The graph takes raw features ``x`` (N, n_inputs),
standardises them with the run's scaler, and gives ``probabilities`` (N, n_classes; binary:
``[1 - p, p]``) and ``logits`` (N, n_outputs).
"""

from __future__ import annotations

import ast
import itertools
from typing import cast

import numpy as np

from actscope.activations import Activation
from actscope.engines import MissingExtraError
from actscope.engines.codegen.lowering import lower
from actscope.errors import InputError
from actscope.interop.member import Member

OPSET = 17
_UNARY = {"exp": "Exp", "log": "Log", "sqrt": "Sqrt", "tanh": "Tanh", "sigmoid": "Sigmoid",
          "erf": "Erf", "sin": "Sin", "cos": "Cos", "tan": "Tan", "asin": "Asin", "acos": "Acos",
          "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "asinh": "Asinh", "abs": "Abs"}
_BINARY = {ast.Add: "Add", ast.Sub: "Sub", ast.Mult: "Mul", ast.Div: "Div", ast.Pow: "Pow"}
_COMPARE = {ast.Gt: "Greater", ast.Lt: "Less", ast.GtE: "GreaterOrEqual", ast.LtE: "LessOrEqual",
            ast.Eq: "Equal"}


def _onnx():
    try:
        import onnx
    except ImportError:
        raise MissingExtraError("export to ONNX needs onnx: pip install 'actscope[export]'") from None
    return onnx


class _Graph:
    """Nodes and constants of one graph, named uniquely."""

    def __init__(self, onnx, dtype: str) -> None:
        self.onnx, self.np_dtype = onnx, np.dtype(dtype)
        self.nodes: list = []
        self.inits: list = []
        self._ids = itertools.count()

    def name(self, stem: str) -> str:
        return f"{stem}_{next(self._ids)}"

    def const(self, value, stem: str = "c") -> str:
        name = self.name(stem)
        arr = np.asarray(value, dtype=self.np_dtype)
        self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


class _Expression:
    """One activation's lowered expression tree as operators on the tensor ``z``."""

    def __init__(self, g: _Graph, act: Activation, z: str) -> None:
        self.g, self.params, self.env = g, dict(act.params), {"z": z}
        self.act = act

    def emit(self, node: ast.expr) -> str:  # noqa: C901 - one case per node type
        g = self.g
        if isinstance(node, ast.Constant):
            return g.const(float(cast(float, node.value)))  # lowered trees hold numbers only
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            return g.const(float(self.params[node.id]))
        if isinstance(node, ast.UnaryOp):
            x = self.emit(node.operand)
            return g.op("Neg", x) if isinstance(node.op, ast.USub) else x
        if isinstance(node, ast.BinOp):
            return g.op(_BINARY[type(node.op)], self.emit(node.left), self.emit(node.right))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BoolOp):
            op = "And" if isinstance(node.op, ast.And) else "Or"
            vals = [self.emit(v) for v in node.values]
            out = vals[0]
            for v in vals[1:]:
                out = g.op(op, out, v)
            return out
        if isinstance(node, ast.IfExp):
            test, x, y = self.emit(node.test), self.emit(node.body), self.emit(node.orelse)
            return g.op("Where", test, x, y)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise InputError(f"activation {self.act.name!r}: {type(node).__name__} has no ONNX form")

    def _compare(self, node: ast.Compare) -> str:
        vals = [self.emit(node.left), *(self.emit(c) for c in node.comparators)]
        tests = []
        for op, a, b in zip(node.ops, vals, vals[1:]):
            if isinstance(op, ast.NotEq):
                tests.append(self.g.op("Not", self.g.op("Equal", a, b)))
            else:
                tests.append(self.g.op(_COMPARE[type(op)], a, b))
        out = tests[0]
        for t in tests[1:]:
            out = self.g.op("And", out, t)
        return out

    def _call(self, node: ast.Call) -> str:
        f, args = cast(ast.Name, node.func).id, [self.emit(a) for a in node.args]
        if f in _UNARY:
            return self.g.op(_UNARY[f], *args)
        if f in ("max", "min"):
            return self.g.op(f.capitalize(), *args)
        if f == "log1p":
            return self.g.op("Log", self.g.op("Add", self.g.const(1.0), args[0]))
        if f == "erfc":
            return self.g.op("Sub", self.g.const(1.0), self.g.op("Erf", args[0]))
        raise InputError(f"activation {self.act.name!r}: function {f}() has no ONNX form")


def activation_nodes(g: _Graph, act: Activation, z: str) -> str:
    """Emit ``act`` applied to tensor ``z``; the name of the result."""
    if act.scalar is None:
        raise InputError(f"activation {act.name!r} was registered as a Python callable, without a "
                         "scalar expression: it has no ONNX form (--format torch exports it)")
    return _Expression(g, act, z).emit(lower(act.scalar[0]).body)


def to_onnx(m: Member, dtype: str = "float32"):
    """``m`` as an ``onnx.ModelProto`` (opset 17): input ``x`` (N, n_inputs) of raw features;
    outputs ``probabilities`` (N, n_classes) and ``logits`` (N, n_outputs)."""
    onnx = _onnx()
    g = _Graph(onnx, dtype)
    h = "x"
    if m.scaler is not None:
        h = g.op("Div", g.op("Sub", h, g.const(m.scaler[0], "mean")), g.const(m.scaler[1], "scale"))
    acts = m.mlp.activations
    for i, (W, b) in enumerate(m.layers):
        h = g.op("Add", g.op("MatMul", h, g.const(W, f"W{i + 1}")), g.const(b, f"b{i + 1}"))
        if i < len(acts):
            h = activation_nodes(g, acts[i], h)
    g.nodes.append(onnx.helper.make_node("Identity", [h], ["logits"]))
    if m.mlp.n_outputs == 1:
        p = g.op("Sigmoid", "logits")
        probs = g.op("Concat", g.op("Sub", g.const(1.0), p), p, axis=1)
    else:
        probs = g.op("Softmax", "logits", axis=1)
    g.nodes.append(onnx.helper.make_node("Identity", [probs], ["probabilities"]))
    elem = onnx.helper.np_dtype_to_tensor_dtype(g.np_dtype)
    vi = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph(
        g.nodes, f"actscope_{m.arm}_{m.seed}", [vi("x", elem, ["N", m.mlp.n_inputs])],
        [vi("probabilities", elem, ["N", m.mlp.n_classes]), vi("logits", elem, ["N", m.mlp.n_outputs])],
        initializer=g.inits)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="actscope")
    model.ir_version = min(model.ir_version, 8)  # readable by onnxruntime >= 1.14
    onnx.checker.check_model(model, full_check=True)
    return model


__all__ = ["OPSET", "activation_nodes", "to_onnx"]
