"""numpy's PCG64 and ``Generator.permutation``, bit for bit, as numba source: the fast
engine draws each member's batch order in its kernel, identical to the NumPy engine's."""

from __future__ import annotations

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


@njit
def _mulhi(a, b):
    a0 = a & M32
    a1 = a >> U32
    b0 = b & M32
    b1 = b >> U32
    p00 = a0 * b0
    p01 = a0 * b1
    p10 = a1 * b0
    mid = (p00 >> U32) + (p01 & M32) + (p10 & M32)
    return a1 * b1 + (p01 >> U32) + (p10 >> U32) + (mid >> U32)


@njit
def _next64(st):
    """PCG64 (XSL-RR 128/64) step then output, as numpy's PCG64; st = [hi, lo, inc_hi, inc_lo]."""
    hi, lo = st[0], st[1]
    nlo = lo * MULT_LO
    nhi = _mulhi(lo, MULT_LO) + lo * MULT_HI + hi * MULT_LO
    lo2 = nlo + st[3]
    carry = U1 if lo2 < nlo else U0
    hi2 = nhi + st[2] + carry
    st[0] = hi2
    st[1] = lo2
    x = hi2 ^ lo2
    rot = hi2 >> U58
    return (x >> rot) | (x << ((U64 - rot) & U63))


@njit
def _next32(st, buf):
    """numpy's next_uint32 for PCG64; buf = [has_uint32, uinteger]."""
    if buf[0] != U0:
        buf[0] = U0
        return buf[1]
    v = _next64(st)
    buf[0] = U1
    buf[1] = v >> U32
    return v & M32


@njit
def _interval(st, buf, mx):
    """numpy's random_interval(max) for max < 2**32."""
    mask = np.uint64(mx)
    mask |= mask >> np.uint64(1)
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    v = _next32(st, buf) & mask
    while v > np.uint64(mx):
        v = _next32(st, buf) & mask
    return np.int64(v)


@njit
def _permute(st, buf, out):
    """out = Generator.permutation(n) for the PCG64 state st (advanced in place)."""
    n = out.shape[0]
    for i in range(n):
        out[i] = i
    for i in range(n - 1, 0, -1):
        j = _interval(st, buf, i)
        t = out[i]
        out[i] = out[j]
        out[j] = t


@njit(cache=True, nogil=True)
def permutations(pcg, out, k0, k1):
    """Rows k0..k1 of out (K, n): one permutation per row of pcg (K, 6), as numpy's
    Generator.permutation (the states advance in place)."""
    for k in range(k0, k1):
        _permute(pcg[k, 0:4], pcg[k, 4:6], out[k])
'''


__all__ = ["PCG_SOURCE"]
