"""numpy's PCG64 and ``Generator.permutation``, bit for bit, as numba source: the fast
engine draws each member's batch order in its kernel, identical to the NumPy engine's."""

from __future__ import annotations

# appended to a prelude (numba_prelude), which imports njit, intrinsic, types and llvmlite's ir
PCG_SOURCE = '''

MULT_HI = np.uint64(2549297995355413924)
MULT_LO = np.uint64(4865540595714422341)
M32 = np.uint64(0xFFFFFFFF)
U32 = np.uint64(32)
U58 = np.uint64(58)
U63 = np.uint64(63)
U64 = np.uint64(64)
U1 = np.uint64(1)
U0 = np.uint64(0)


@intrinsic
def _mulhi(typingctx, a, b):
    """The high 64 bits of the 128-bit product a * b (one widening multiply)."""
    def codegen(context, builder, sig, args):
        wide = ir.IntType(128)
        prod = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(prod, ir.Constant(wide, 64)), ir.IntType(64))
    return types.uint64(types.uint64, types.uint64), codegen


@njit
def _permute(st, buf, out):
    """out = Generator.permutation(n) for the PCG64 state st = [hi, lo, inc_hi, inc_lo] and
    buf = [has_uint32, uinteger] (both advanced in place).

    numpy's steps written out: a Fisher-Yates shuffle whose draws are random_interval(i)
    (masked rejection) over next_uint32 (each 64-bit PCG64 XSL-RR output used low half
    first, the high half kept in buf). The state stays in local variables while it draws:
    kept in the arrays, every draw waited on a store and a load of it."""
    n = out.shape[0]
    for i in range(n):
        out[i] = i
    hi, lo, inc_hi, inc_lo, has, half = st[0], st[1], st[2], st[3], buf[0], buf[1]
    for i in range(n - 1, 0, -1):
        mx = np.uint64(i)
        mask = mx | (mx >> np.uint64(1))
        mask |= mask >> np.uint64(2)
        mask |= mask >> np.uint64(4)
        mask |= mask >> np.uint64(8)
        mask |= mask >> np.uint64(16)
        while True:
            if has != U0:
                has = U0
                v = half & mask
            else:
                nlo = lo * MULT_LO
                nhi = _mulhi(lo, MULT_LO) + lo * MULT_HI + hi * MULT_LO
                lo = nlo + inc_lo
                hi = nhi + inc_hi + (U1 if lo < nlo else U0)
                x = hi ^ lo
                rot = hi >> U58
                r = (x >> rot) | (x << ((U64 - rot) & U63))
                has = U1
                half = r >> U32
                v = r & M32 & mask
            if v <= mx:
                break
        j = np.int64(v)
        t = out[i]
        out[i] = out[j]
        out[j] = t
    st[0], st[1], buf[0], buf[1] = hi, lo, has, half


@njit(cache=True, nogil=True)
def permutations(pcg, out, k0, k1):
    """Rows k0..k1 of out (K, n): one permutation per row of pcg (K, 6), as numpy's
    Generator.permutation (the states advance in place)."""
    for k in range(k0, k1):
        _permute(pcg[k, 0:4], pcg[k, 4:6], out[k])
'''


__all__ = ["PCG_SOURCE"]
