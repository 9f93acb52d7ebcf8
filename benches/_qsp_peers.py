r"""Peer phase-factor solvers for an odd real QSP target: pyqsp's ``sym_qsp`` and QSPPACK's
Newton and NLFT solvers, all returned in one convention and checked by one evaluator.

The convention (QSPPACK's $W_x$ form, Dong, Lin, Ni & Wang, arXiv:2307.12468): for phases
$\Phi = (\phi_0, \dots, \phi_d)$,

.. math::

    U_\Phi(x) = e^{i\phi_0 Z} W(x) e^{i\phi_1 Z} W(x) \cdots W(x) e^{i\phi_d Z}, \qquad
    W(x) = \begin{pmatrix} x & i\sqrt{1-x^2} \\ i\sqrt{1-x^2} & x \end{pmatrix},

and the target is $f(x) = \operatorname{Im}\langle 0|U_\Phi(x)|0\rangle$, given by its Chebyshev
coefficients $c_0, \dots, c_d$ ($f = \sum_k c_k T_k$, $d$ odd, $c_{2j} = 0$, $\|f\|_\infty < 1$).
Both peers solve for the *symmetric* phases ($\phi_k = \phi_{d-k}$) and optimise only the right
half, the "reduced" phases $\psi_j = \phi_{(d+1)/2 + j}$, $j < (d+1)/2$, against the odd
coefficients $c_1, c_3, \dots, c_d$. The full sequence is $(\psi_{m-1}, \dots, \psi_0, \psi_0,
\dots, \psi_{m-1})$, $m = (d+1)/2$ (:func:`full_phases`).

Conversions, checked by :func:`residual` (explicit $2\times2$ products):

* pyqsp 0.2.0, ``pyqsp.sym_qsp_opt.newton_solver(c_odd, 1, crit=..., maxiter=...)`` (what
  ``QuantumSignalProcessingPhases(poly, method="sym_qsp", chebyshev_basis=True)`` calls with
  ``crit=1e-12``): returns the reduced phases above, already for the imaginary part; no shift.
* qsppack 0.4.0, ``qsppack.solve(c_odd, 1, opts)`` with ``opts["method"]`` in ``"Newton"``,
  ``"NLFT"``: by default (``targetPre=True``) it negates the target and adds $\pi/4$ to both end
  phases, which moves $f$ into $\operatorname{Re}\langle0|U|0\rangle$. We pass
  ``targetPre=False`` (target stays in the imaginary part, no shift) and ``typePhi="reduced"``,
  then mirror as above. (Its default full output $\Phi_T$ is ours as $\phi_k = -\phi_{T,k}$
  plus $\pi/4$ on $\phi_0$ and $\phi_d$.) NLFT's ``opts["N"]`` is the FFT length of its Weiss
  step ($\log(1 - |b|^2)$ sampled on $N$ roots of unity): $N = 2d$ already loses digits on
  sharp targets (1/x-like, $\max|f| = 0.9$: residual 1e-2 at $2d$, 1e-4 at $4d$, 1e-14 at
  $16d$), so we take the least power of two $\ge \max(256, 16 d)$.

Neither package is a dependency of qrtc: both are imported inside the functions, and
:func:`available` says which peers can run (``pip install pyqsp qsppack``; qsppack pulls in
cvxpy). Times are the wall and CPU time of the solver call alone (our own clocks around it;
pyqsp prints every iteration, so stdout is swallowed during the call).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

PEERS = ("pyqsp sym_qsp", "qsppack Newton", "qsppack NLFT")
_PACKAGE = {"pyqsp sym_qsp": "pyqsp", "qsppack Newton": "qsppack", "qsppack NLFT": "qsppack"}


class PeerPhases(NamedTuple):
    """What a peer returned for one target, in this module's convention.

    Attributes:
        phases: full symmetric phases $(\\phi_0, \\dots, \\phi_d)$, shape ``(d + 1,)``.
        seconds: wall time of the solver call alone.
        cpu_seconds: CPU time of this process during the call (all its threads), which other
            load on the machine does not inflate.
        reported_error: the peer's own error figure, ``None`` where it reports none. Newton:
            1-norm of the odd-Chebyshev-coefficient residual (QSPPACK: of the returned phases;
            pyqsp: of the iterate before its last update, so an upper bound in practice). NLFT:
            1-norm of the error of the ``b`` polynomial re-synthesised from the phases.
        iterations: Newton iterations (1 for NLFT, a direct method).
    """

    phases: np.ndarray
    seconds: float
    cpu_seconds: float
    reported_error: float | None
    iterations: int | None


@functools.cache
def _module(name: str) -> Any:
    """The imported module, or ``None`` when it (or one of its dependencies) fails to import."""
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a broken install of a dependency (cvxpy, matplotlib)
        return None


def available() -> dict[str, bool]:
    """Peer name (one of :data:`PEERS`) -> whether it can run here."""
    mods = {"pyqsp": _module("pyqsp.sym_qsp_opt"), "qsppack": _module("qsppack")}
    return {peer: mods[_PACKAGE[peer]] is not None for peer in PEERS}


def versions() -> dict[str, str | None]:
    """Installed version of ``pyqsp`` and ``qsppack`` (``None`` where missing)."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {}
    for package in ("pyqsp", "qsppack"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def odd_coefficients(coefficients: np.ndarray) -> np.ndarray:
    """$(c_1, c_3, \\dots, c_d)$ of an odd target given as $(c_0, \\dots, c_d)$, checked."""
    c = np.asarray(coefficients, dtype=np.float64)
    if c.ndim != 1 or c.size < 2 or c.size % 2:
        raise ValueError(f"need c_0..c_d with d odd, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("coefficients must be finite")
    even = float(np.max(np.abs(c[0::2])))
    if even > 1e-12 * max(1.0, float(np.max(np.abs(c)))):
        raise ValueError(f"target must be odd: largest even coefficient is {even:.3g}")
    return np.ascontiguousarray(c[1::2])


def full_phases(reduced: np.ndarray) -> np.ndarray:
    """$(\\psi_{m-1}, \\dots, \\psi_0, \\psi_0, \\dots, \\psi_{m-1})$: the symmetric odd-degree
    sequence from its right half."""
    r = np.asarray(reduced, dtype=np.float64)
    return np.concatenate([r[::-1], r])


def nlft_fft_length(degree: int) -> int:
    """FFT length for QSPPACK's Weiss step: the least power of two $\\ge \\max(256, 16 d)$."""
    return 1 << max(8, math.ceil(math.log2(16 * degree)))


def _need(package: str) -> Any:
    mod = _module("pyqsp.sym_qsp_opt" if package == "pyqsp" else package)
    if mod is None:
        raise ImportError(f"{package} is not installed here: `pip install {package}` (a venv)")
    return mod


def _timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """``call()``, its wall and CPU seconds; what it prints is dropped."""
    with contextlib.redirect_stdout(io.StringIO()):
        start, cpu = time.perf_counter(), time.process_time()
        out = call()
        return out, time.perf_counter() - start, time.process_time() - cpu


def pyqsp_sym_qsp(
    coefficients: np.ndarray, *, tolerance: float = 1e-12, max_iterations: int = 100
) -> PeerPhases:
    """pyqsp's symmetric-QSP Newton solver (``sym_qsp``) for the odd target ``coefficients``."""
    solver = _need("pyqsp").newton_solver
    odd = odd_coefficients(coefficients)
    (reduced, err, iters, _), seconds, cpu = _timed(
        lambda: solver(odd, 1, crit=tolerance, maxiter=max_iterations)
    )
    return PeerPhases(full_phases(reduced), seconds, cpu, float(err), int(iters))


def _qsppack(coefficients: np.ndarray, opts: dict[str, Any]) -> PeerPhases:
    qsppack = _need("qsppack")
    odd = odd_coefficients(coefficients)
    opts = {**opts, "targetPre": False, "typePhi": "reduced", "print": 0}
    (reduced, out), seconds, cpu = _timed(lambda: qsppack.solve(odd, 1, opts))
    return PeerPhases(full_phases(reduced), seconds, cpu, float(out["value"]), int(out["iter"]))


def qsppack_newton(
    coefficients: np.ndarray, *, tolerance: float = 1e-12, max_iterations: int = 100
) -> PeerPhases:
    """QSPPACK's Newton solver (``qsppack.solve``, ``method="Newton"``)."""
    opts = {"method": "Newton", "criteria": tolerance, "maxiter": max_iterations}
    return _qsppack(coefficients, opts)


def qsppack_nlft(coefficients: np.ndarray, *, fft_length: int | None = None) -> PeerPhases:
    """QSPPACK's inverse nonlinear FFT (``method="NLFT"``); ``fft_length`` is its ``opts["N"]``
    (default :func:`nlft_fft_length` of the degree)."""
    degree = np.asarray(coefficients).size - 1
    n = nlft_fft_length(degree) if fft_length is None else fft_length
    return _qsppack(coefficients, {"method": "NLFT", "N": n})


SOLVERS: dict[str, Callable[..., PeerPhases]] = {
    "pyqsp sym_qsp": pyqsp_sym_qsp,
    "qsppack Newton": qsppack_newton,
    "qsppack NLFT": qsppack_nlft,
}


def solve(peer: str, coefficients: np.ndarray, **options: Any) -> PeerPhases:
    """Run ``peer`` (one of :data:`PEERS`) with its keyword ``options``."""
    if peer not in SOLVERS:
        raise ValueError(f"peer must be one of {PEERS}, got {peer!r}")
    return SOLVERS[peer](coefficients, **options)


def qsp_element(phases: np.ndarray, points: np.ndarray) -> np.ndarray:
    """$\\langle 0|U_\\Phi(x)|0\\rangle$ at every point, by explicit $2\\times2$ products.

    Only the first row $(u, v)$ of the running product is carried: right-multiplying by $W(x)$
    maps it to $(ux + ivs, ius + vx)$, $s = \\sqrt{1-x^2}$, and by $e^{i\\phi Z}$ scales $u$ by
    $e^{i\\phi}$ and $v$ by $e^{-i\\phi}$. Vectorised over points, looped over phases.
    """
    x = np.asarray(points, dtype=np.float64)
    s = np.sqrt(np.clip(1.0 - x * x, 0.0, None))
    rotations = np.exp(1j * np.asarray(phases, dtype=np.float64))
    u = np.full(x.shape, rotations[0], dtype=np.complex128)
    v = np.zeros(x.shape, dtype=np.complex128)
    for e in rotations[1:]:
        u, v = (u * x + 1j * s * v) * e, (1j * s * u + v * x) * e.conjugate()
    return u


def residual(phases: np.ndarray, coefficients: np.ndarray, points: np.ndarray) -> float:
    """$\\max_x |\\operatorname{Im}\\langle0|U_\\Phi(x)|0\\rangle - f(x)|$ over ``points``,
    $f = \\sum_k c_k T_k$ evaluated by ``numpy.polynomial.chebyshev.chebval``."""
    x = np.asarray(points, dtype=np.float64)
    target = np.polynomial.chebyshev.chebval(x, np.asarray(coefficients, dtype=np.float64))
    return float(np.max(np.abs(qsp_element(phases, x).imag - target)))
