"""Activations as register programs: any scalar expression on the generic kernels.

The generic kernels (``numba_generic``) carry the built-ins in a compiled table; every
other activation (a formula, a search candidate) is *data*: its scalar pair (f, f') is
compiled here into two small register programs, and one interpreter in the kernel module
runs them. A program is an int array, row 0 a header ``(n_ops, out, n_regs, 0, 0)`` and
each further row an op ``(opcode, dst, a, b, c)`` over registers, plus an array of
constants. Register 0 holds z and register 1 holds a = f(z) (in f'); each register is a
whole layer block (units x LANES members), so an op's dispatch is paid once per block and
its inner loop runs over contiguous memory (which LLVM vectorises).

The functions use the same forms as the specialised kernels (``numba_prelude``'s vector
exp, log, log1p, tanh, sigmoid; ``lowering``'s expansions of softplus, expm1, ndtr, sign,
clip), so a program agrees with the activation's NumPy form within float rounding.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from actscope.activations._expr import FUNCTIONS, names_in
from actscope.engines.codegen.common import UnsupportedActivation
from actscope.engines.codegen.lowering import EXPANSIONS, lower

MAX_OPS = 512  # ops per program (f or f'), beyond which an activation is not run as one
# opcode -> the value it writes, in terms of its operands A, B, C (``R[a, j]`` ...)
OPS: dict[str, str] = {
    "const": "cv",
    "neg": "-A",
    "add": "A + B", "sub": "A - B", "mul": "A * B", "div": "A / B", "pow": "A ** B",
    "sq": "A * A", "cube": "A * A * A",
    "gt": "DT(1.0) if A > B else DT(0.0)", "lt": "DT(1.0) if A < B else DT(0.0)",
    "ge": "DT(1.0) if A >= B else DT(0.0)", "le": "DT(1.0) if A <= B else DT(0.0)",
    "eq": "DT(1.0) if A == B else DT(0.0)", "ne": "DT(1.0) if A != B else DT(0.0)",
    "and": "DT(1.0) if (A != DT(0.0)) & (B != DT(0.0)) else DT(0.0)",
    "or": "DT(1.0) if (A != DT(0.0)) | (B != DT(0.0)) else DT(0.0)",
    "select": "B if A != DT(0.0) else C",
    "max": "max(A, B)", "min": "min(A, B)",
    "exp": "vexp(A)", "log": "vlog(A)", "log1p": "vlog1p(A)", "tanh": "vtanh(A)",
    "sigmoid": "vsigmoid(A)", "sqrt": "math.sqrt(A)", "abs": "abs(A)",
    # erf, erfc, sin and cos in the prelude's vectorisable forms (``special_source``)
    "erf": "verf(A)", "erfc": "verfc(A)", "sin": "vsin(A)", "cos": "vcos(A)",
    **{f: f"math.{f}(A)" for f in ("tan", "asin", "acos", "atan", "sinh", "cosh", "asinh")},
}
OPCODES = {name: i for i, name in enumerate(OPS)}
_BIN = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_CMP = {ast.Gt: "gt", ast.Lt: "lt", ast.GtE: "ge", ast.LtE: "le", ast.Eq: "eq", ast.NotEq: "ne"}
Z_REG, A_REG = 0, 1


@dataclass(frozen=True)
class Program:
    """One compiled scalar expression: ``code`` (n_ops + 1, 5) int64 and ``consts``."""

    code: np.ndarray
    consts: tuple[float, ...]

    @property
    def n_ops(self) -> int:
        return int(self.code[0, 0])


class _Builder:
    """Emits SSA ops for a tree (common subexpressions once), then assigns registers."""

    def __init__(self, params: Mapping[str, float]):
        self.params = {k: float(v) for k, v in params.items()}
        self.ops: list[tuple[str, int, tuple[int, ...]]] = []  # (op, value, operands)
        self.memo: dict[str, int] = {}
        self.consts: list[float] = []
        self.n_values = 2  # values 0 and 1 are z and a

    def emit(self, op: str, args: tuple[int, ...], key: str) -> int:
        if key in self.memo:
            return self.memo[key]
        v = self.n_values
        self.n_values += 1
        self.ops.append((op, v, args))
        self.memo[key] = v
        return v

    def const(self, x: float) -> int:
        x = float(x)
        if x not in self.consts:
            self.consts.append(x)
        return self.emit("const", (self.consts.index(x),), f"const {x!r}")

    def node(self, n: ast.AST) -> int:
        key = ast.dump(n, annotate_fields=False)
        if key in self.memo:
            return self.memo[key]
        return self._node(n, key)

    def _node(self, n: ast.AST, key: str) -> int:
        if isinstance(n, ast.Constant) and isinstance(n.value, int | float) and not isinstance(n.value, bool):
            return self.const(n.value)
        if isinstance(n, ast.Name):
            if n.id in ("z", "a"):
                return Z_REG if n.id == "z" else A_REG
            if n.id in self.params:
                return self.const(self.params[n.id])
            raise UnsupportedActivation(f"name {n.id!r}")
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.UAdd | ast.USub):
            x = self.node(n.operand)
            return x if isinstance(n.op, ast.UAdd) else self.emit("neg", (x,), key)
        if isinstance(n, ast.BinOp) and type(n.op) in _BIN:
            return self._binop(n, key)
        if isinstance(n, ast.Compare):
            return self._compare(n, key)
        if isinstance(n, ast.BoolOp):
            op = "and" if isinstance(n.op, ast.And) else "or"
            v = self.node(n.values[0])
            for i, other in enumerate(n.values[1:]):
                v = self.emit(op, (v, self.node(other)), f"{key}#{i}")
            return v
        if isinstance(n, ast.IfExp):
            return self.emit("select", (self.node(n.test), self.node(n.body), self.node(n.orelse)), key)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in OPS \
                and not n.keywords and 1 <= len(n.args) <= 2:
            return self.emit(n.func.id, tuple(self.node(a) for a in n.args), key)
        raise UnsupportedActivation(f"{ast.unparse(n)!r} has no program op")

    def _binop(self, n: ast.BinOp, key: str) -> int:
        left = self.node(n.left)
        if isinstance(n.op, ast.Pow) and isinstance(n.right, ast.Constant) and n.right.value in (2, 3):
            return self.emit("sq" if n.right.value == 2 else "cube", (left,), key)
        return self.emit(_BIN[type(n.op)], (left, self.node(n.right)), key)

    def _compare(self, n: ast.Compare, key: str) -> int:
        vals = [self.node(n.left)] + [self.node(c) for c in n.comparators]
        out = None
        for i, op in enumerate(n.ops):
            t = self.emit(_CMP[type(op)], (vals[i], vals[i + 1]), f"{key}#{i}")
            out = t if out is None else self.emit("and", (out, t), f"{key}&{i}")
        assert out is not None  # a Compare has at least one operator
        return out


def _allocate(ops: list[tuple[str, int, tuple[int, ...]]], result: int) -> tuple[list, int, int]:
    """Physical registers for SSA values (a register is reused once its value is dead):
    (ops with registers, the result's register, registers used)."""
    last = {}
    for i, (op, _, args) in enumerate(ops):
        for a in args if op != "const" else ():
            last[a] = i
    reg = {Z_REG: Z_REG, A_REG: A_REG}
    free: list[int] = []
    n_regs = 2
    out = []
    for i, (op, v, args) in enumerate(ops):
        phys = [reg[a] for a in args] if op != "const" else list(args)
        for a in set(args) if op != "const" else ():
            if a > A_REG and last[a] == i and a != result:
                free.append(reg[a])
        if free:
            reg[v] = free.pop()
        else:
            reg[v] = n_regs
            n_regs += 1
        out.append((OPCODES[op], reg[v], *(phys + [0] * (3 - len(phys)))))
    return out, reg[result], n_regs


def compile_program(src: str, params: Mapping[str, float]) -> Program:
    """The register program of scalar expression ``src`` (parameters as constants);
    UnsupportedActivation where it uses something without an op or has too many ops."""
    try:
        tree = lower(src)
    except SyntaxError:
        raise UnsupportedActivation(f"{src!r} is not an expression") from None
    unknown = names_in(tree) - {"z", "a", *params}
    if unknown:
        raise UnsupportedActivation(f"names {sorted(unknown)} in {src!r}")
    b = _Builder(params)
    result = b.node(tree.body)
    if len(b.ops) > MAX_OPS:
        raise UnsupportedActivation(f"{src!r} needs {len(b.ops)} ops: at most {MAX_OPS}")
    ops, out, n_regs = _allocate(b.ops, result)
    code = np.zeros((len(ops) + 1, 5), np.int64)
    code[0, :3] = (len(ops), out, n_regs)
    if ops:
        code[1:] = np.array(ops, np.int64)
    return Program(code, tuple(b.consts))


def pack_programs(programs: list[Program], dtype) -> tuple[np.ndarray, np.ndarray]:
    """(progs (n, max ops + 1, 5) int64, consts (n, max constants) in ``dtype``): the
    kernels' arrays; with no programs, (0, 1, 5) and (0, 1)."""
    rows = max([p.code.shape[0] for p in programs], default=1)
    width = max([len(p.consts) for p in programs] + [1])
    progs = np.zeros((len(programs), rows, 5), np.int64)
    consts = np.zeros((len(programs), width), dtype)
    for i, p in enumerate(programs):
        progs[i, :p.code.shape[0]] = p.code
        consts[i, :len(p.consts)] = p.consts
    return progs, consts


def interpreter_source() -> str:
    """``_run(prog, consts, R, N)``: the kernel module's program interpreter, one branch
    per opcode, each a loop over the N elements of the registers; and ``_prog_block``,
    which runs a program over a layer's block of units for all of a minibatch's points."""
    lines = ['''

@njit(fastmath=FM, error_model="numpy", nogil=True)
def _run(prog, consts, R, N):
    """Run one program over registers R[:, :N] (z in R[0], a in R[1])."""
    for i in range(1, prog[0, 0] + 1):
        op = prog[i, 0]
        d = prog[i, 1]
        a = prog[i, 2]
        b = prog[i, 3]
        c = prog[i, 4]''']
    for name, code in OPCODES.items():
        expr = OPS[name].replace("A", "R[a, j]").replace("B", "R[b, j]").replace("C", "R[c, j]")
        head = "if" if code == 0 else "elif"
        pre = "            cv = consts[a]\n" if name == "const" else ""
        lines.append(f"""        {head} op == {code}:
{pre}            for j in range(N):
                R[d, j] = {expr}""")
    return "\n".join(lines) + "\n" + _POINTS


# a program over a layer's block of units for all the minibatch's points: rows of (units,
# points x LANES) views, as many rows a run of _run as its registers hold
_POINTS = '''

@njit(fastmath=FM, error_model="numpy", nogil=True)
def _prog_block(p, progs, consts, Z2, zo, H2, ao, D2, do, n, N, which, R):
    """Program p over rows zo..zo+n of Z2 (units, points x LANES), their first N elements,
    as many rows a run as R holds: H2[ao:ao+n, :N] = f(z) (which 0), or D2[do:do+n, :N]
    *= f'(z, a) with a in H2[ao:ao+n] (which 1)."""
    o = progs[p, 0, 1]
    per = max(1, R.shape[1] // N)
    for i0 in range(0, n, per):
        i1 = min(i0 + per, n)
        for i in range(i0, i1):
            b = (i - i0) * N
            for e in range(N):
                R[0, b + e] = Z2[zo + i, e]
            if which == 1:
                for e in range(N):
                    R[1, b + e] = H2[ao + i, e]
        _run(progs[p], consts[p], R, (i1 - i0) * N)
        for i in range(i0, i1):
            b = (i - i0) * N
            if which == 0:
                for e in range(N):
                    H2[ao + i, e] = R[o, b + e]
            else:
                for e in range(N):
                    D2[do + i, e] *= R[o, b + e]
'''


def program_functions() -> frozenset[str]:
    """The scalar language's functions a program runs (directly or by expansion)."""
    return frozenset(f for f in FUNCTIONS if f in OPS or f in EXPANSIONS)


__all__ = ["MAX_OPS", "OPCODES", "OPS", "Program", "compile_program", "interpreter_source", "pack_programs",
           "program_functions"]
