"""Training data for the shipped example models: ODE generators and a real recording.

Every generator is deterministic (fixed seeds, scipy ``solve_ivp`` with tight tolerances) and
returns a :class:`Dataset`: a list of trajectories (each an array of shape (T, N)) in
z-scored coordinates, plus the mean and standard deviation used (so that data units are
``x_raw = std * x + mean``), the sampling step and a description of where the data come from.

* :func:`duffing` — x'' = -0.5 x' + x - 0.1 x^3 (bistable: stable foci (+-sqrt 10, 0),
  saddle (0, 0)); 100 trajectories from a 10 x 10 grid over [-4, 4] x [-2.5, 2.5], t in [0, 40].
* :func:`lorenz63` — sigma = 10, rho = 28, beta = 8/3, dt = 0.01, one long trajectory after a
  transient.
* :func:`decision` — a two-choice rate model (two excitatory populations with shared
  inhibition, after Wong & Wang 2006 / the reference paper's task): a noisy evidence input
  during a stimulus period, then free evolution into one of two choice attractors.
* :func:`santafe_laser` — the Santa Fe competition data set A (a far-infrared NH3 laser in a
  chaotic regime), shipped inside the ``reservoirpy`` wheel, delay-embedded.
* :func:`ecg` — a real human ECG, delay-embedded (T x N array in a ``.npy`` file the user
  names; never shipped here): the first part is the training set, the last part is held out
  (:attr:`Dataset.heldout`).

>>> ds = duffing(grid=2, t_end=4.0)
>>> len(ds.trajectories), ds.trajectories[0].shape
(4, (41, 2))
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import solve_ivp

__all__ = ["Dataset", "DataError", "duffing", "lorenz63", "decision", "decision_rhs", "santafe_laser",
           "santafe_laser_raw", "ecg", "load_series", "DATASETS", "make_dataset"]


class DataError(ValueError):
    """Bad input data (missing file, wrong shape, non-finite values): a one-line message."""


@dataclass
class Dataset:
    """Z-scored trajectories (list of (T, N) arrays) and how they were made."""

    name: str
    trajectories: list
    mean: np.ndarray
    std: np.ndarray
    dt: float
    source: str
    params: dict = field(default_factory=dict)
    heldout: np.ndarray | None = None   # z-scored with the training statistics, (T_test, N)

    @property
    def dim(self) -> int:
        return self.trajectories[0].shape[1]

    def stacked(self) -> np.ndarray:
        """All samples, shape (sum T, N)."""
        return np.concatenate(self.trajectories, axis=0)

    def to_raw(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X) * self.std + self.mean

    def provenance(self) -> dict:
        out = {"generator": f"proofs_examples.training.data.{self.name}", "source": self.source,
               "params": self.params, "dt": self.dt, "n_trajectories": len(self.trajectories),
               "samples": int(sum(len(t) for t in self.trajectories)), "dim": self.dim,
               "zscore": {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}}
        if self.heldout is not None:
            out["heldout_samples"] = int(len(self.heldout))
        return out


def _zscore(name, raw: list, dt, source, params) -> Dataset:
    allx = np.concatenate(raw, axis=0)
    mean, std = allx.mean(axis=0), allx.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return Dataset(name, [(x - mean) / std for x in raw], mean, std, dt, source, params)


def _integrate(rhs, x0, t_end, dt, args=()):
    t = np.arange(0.0, t_end + dt / 2, dt)
    sol = solve_ivp(rhs, (0.0, t[-1]), x0, t_eval=t, args=args, method="DOP853",
                    rtol=1e-10, atol=1e-12)
    if not sol.success:  # pragma: no cover - the systems here are smooth and bounded
        raise RuntimeError(sol.message)
    return sol.y.T


# ----------------------------------------------------------------------------- Duffing

def duffing_rhs(t, s, delta=0.5, alpha=1.0, beta=0.1):
    """x' = y, y' = -delta y + alpha x - beta x^3 (unforced, bistable)."""
    x, y = s
    return [y, -delta * y + alpha * x - beta * x ** 3]


def duffing(grid: int = 10, t_end: float = 40.0, dt: float = 0.1, seed: int = 0) -> Dataset:
    """Duffing trajectories from a grid x grid lattice over [-4, 4] x [-2.5, 2.5].

    Deterministic (the seed is unused: the initial conditions are a grid)."""
    xs, ys = np.linspace(-4, 4, grid), np.linspace(-2.5, 2.5, grid)
    raw = [_integrate(duffing_rhs, [x, y], t_end, dt) for x in xs for y in ys]
    return _zscore("duffing", raw, dt,
                   "Duffing ODE x'' = -0.5 x' + x - 0.1 x^3, solve_ivp DOP853 rtol 1e-10; initial "
                   f"conditions a {grid}x{grid} grid over [-4,4]x[-2.5,2.5]; t in [0,{t_end}]",
                   {"grid": grid, "t_end": t_end, "delta": 0.5, "alpha": 1.0, "beta": 0.1})


# ----------------------------------------------------------------------------- Lorenz-63

def lorenz_rhs(t, s, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    x, y, z = s
    return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]


def lorenz63(steps: int = 100_000, dt: float = 0.01, transient: float = 50.0, seed: int = 0,
             noise: float = 0.0) -> Dataset:
    """One Lorenz-63 trajectory of *steps* samples after a transient (optional observation
    noise as a fraction of each coordinate's standard deviation, seeded)."""
    rng = np.random.default_rng(seed)
    x0 = np.array([1.0, 1.0, 1.0]) + 0.1 * rng.standard_normal(3)
    x0 = _integrate(lorenz_rhs, x0, transient, transient)[-1]
    x = _integrate(lorenz_rhs, x0, (steps - 1) * dt, dt)
    if noise > 0:
        x = x + noise * x.std(axis=0) * rng.standard_normal(x.shape)
    return _zscore("lorenz63", [x], dt,
                   "Lorenz-63 ODE (sigma=10, rho=28, beta=8/3), solve_ivp DOP853 rtol 1e-10, "
                   f"{steps} samples at dt={dt} after a transient of {transient}"
                   + (f", {noise:.0%} observation noise" if noise else ""),
                   {"steps": steps, "transient": transient, "seed": seed, "noise": noise})


# ----------------------------------------------------------------------------- decision task

# Two excitatory populations E1, E2 with shared inhibition I (Wilson-Cowan-type rates with a
# logistic transfer F). With the background drive below the network is bistable: two
# winner-take-all choice attractors and a symmetric saddle (one unstable direction, E1 - E2).
DECISION_PARAMS = {"tau_E": 10.0, "tau_I": 5.0, "w_EE": 16.0, "w_EI": -15.0, "w_IE": 12.0,
                   "theta_E": 5.0, "theta_I": 3.0, "I_background": 6.0}


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def decision_rhs(t, s, u1=0.0, u2=0.0, p=DECISION_PARAMS):
    """tau_E E_i' = -E_i + F(w_EE E_i + w_EI I + I_bg + u_i - theta_E),
    tau_I I' = -I + F(w_IE (E1 + E2) - theta_I), F logistic."""
    e1, e2, inh = s
    drive = p["I_background"] - p["theta_E"] + p["w_EI"] * inh
    return [(-e1 + _logistic(p["w_EE"] * e1 + drive + u1)) / p["tau_E"],
            (-e2 + _logistic(p["w_EE"] * e2 + drive + u2)) / p["tau_E"],
            (-inh + _logistic(p["w_IE"] * (e1 + e2) - p["theta_I"])) / p["tau_I"]]


def decision(n_trials: int = 64, dt: float = 1.0, t_stim: float = 20.0, t_free: float = 200.0,
             evidence: float = 1.0, noise: float = 1.0, seed: int = 0) -> Dataset:
    """Trials of the two-choice task; the returned trajectories are the free (post-stimulus)
    phase, sampled every *dt*, in which the network settles into one of the two choice
    attractors.

    Each trial starts at the symmetric saddle plus small noise; during the stimulus period
    the inputs are u_i = evidence * (1 +- c) + noise * xi_i (xi white, held for dt), with the
    coherence c drawn from {-0.2, -0.1, 0, 0.1, 0.2}; then the input is switched off.
    """
    rng = np.random.default_rng(seed)
    saddle = _decision_saddle()
    raw, choices = [], []
    for _ in range(n_trials):
        s = saddle + 0.01 * rng.standard_normal(3)
        c = rng.choice([-0.2, -0.1, 0.0, 0.1, 0.2])
        for _k in range(int(round(t_stim / dt))):
            u = evidence * (1 + np.array([c, -c])) + noise * rng.standard_normal(2)
            s = _integrate(decision_rhs, s, dt, dt, args=tuple(u))[-1]
        x = _integrate(decision_rhs, s, t_free, dt)
        raw.append(x)
        choices.append(int(x[-1, 0] > x[-1, 1]))
    return _zscore("decision", raw, dt,
                   "two-choice rate model (E1, E2 with shared inhibition I; logistic rates, "
                   + ", ".join(f"{k}={v}" for k, v in DECISION_PARAMS.items())
                   + f"); {n_trials} trials from the symmetric saddle, {t_stim} time units of noisy "
                   f"evidence (evidence={evidence}, noise={noise}), then the free {t_free}-unit "
                   f"phase (the data) sampled at dt={dt}",
                   {**DECISION_PARAMS, "n_trials": n_trials, "t_stim": t_stim, "t_free": t_free,
                    "evidence": evidence, "noise": noise, "seed": seed,
                    "choices_E1": int(sum(choices))})


def _decision_saddle() -> np.ndarray:
    """The symmetric fixed point E1 = E2 of the free decision network (bisection on E)."""
    p = DECISION_PARAMS
    lo, hi = 0.0, 1.0

    def g(e):  # fixed point on the diagonal: E = F(w_EE E + w_EI I(E) + bg - theta_E)
        inh = _logistic(p["w_IE"] * 2 * e - p["theta_I"])
        return _logistic(p["w_EE"] * e + p["w_EI"] * inh + p["I_background"] - p["theta_E"]) - e

    for _ in range(200):
        mid = (lo + hi) / 2
        if np.sign(g(mid)) == np.sign(g(lo)):
            lo = mid
        else:
            hi = mid
    e = (lo + hi) / 2
    return np.array([e, e, _logistic(p["w_IE"] * 2 * e - p["theta_I"])])


def decision_fixed_points() -> dict:
    """The free network's fixed points (numerical): the saddle and the two choice states."""
    from scipy.optimize import fsolve

    saddle = _decision_saddle()
    att = fsolve(lambda s: decision_rhs(0, s), [0.2, 0.01, 0.35], xtol=1e-13)
    return {"saddle": saddle, "choice_1": att, "choice_2": att[[1, 0, 2]]}


# ----------------------------------------------------------------------------- Santa Fe laser

SANTAFE_NOTE = ("Santa Fe time-series competition data set A (Weigend & Gershenfeld 1993): "
                "intensity of a far-infrared NH3 laser in a chaotic (Lorenz-like) regime, "
                "recorded by U. Huebner; 10093 integer samples, file "
                "reservoirpy/datasets/santafe_laser.npy inside the reservoirpy wheel (MIT)")


def santafe_laser_raw() -> np.ndarray:
    """The recording as float array (10093,), read from the installed reservoirpy package
    without importing it. Raises ImportError naming the extra when it is not installed."""
    spec = importlib.util.find_spec("reservoirpy")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the Santa Fe laser recording needs the 'reservoirpy' package "
                          "(pip install 'plrnn-manifolds[train]')")
    path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "santafe_laser.npy")
    return np.load(path).astype(float).reshape(-1)


def santafe_laser(embed: int = 3, lag: int = 2, start: int = 0, length: int | None = None,
                  seed: int = 0) -> Dataset:
    """The laser series z-scored and delay-embedded: rows (x_t, x_{t-lag}, ..., x_{t-(embed-1)lag})."""
    x = santafe_laser_raw()[start: None if length is None else start + length]
    span = (embed - 1) * lag
    emb = np.stack([x[span - j * lag: len(x) - j * lag] for j in range(embed)], axis=1)
    return _zscore("santafe_laser", [emb], 1.0,
                   SANTAFE_NOTE + f"; delay embedding of dimension {embed} with lag {lag}",
                   {"embed": embed, "lag": lag, "start": start, "length": length})


# ----------------------------------------------------------------------------- ECG (user's file)

ECG_NOTE = ("real human ECG, delay-embedded and standardised (10000 x 5), file "
            "ECG_delay_embedded.npy of DurstewitzLab/ALRNN-DSR (GPL-3.0; read from the path the "
            "user gives, never copied into this project)")


def load_series(path, min_rows: int = 200, max_cols: int = 64) -> np.ndarray:
    """A (T, N) float64 series from a ``.npy`` file, validated.

    Raises :class:`DataError` (one line) for a missing/unreadable file, an array that is not
    2-D with ``min_rows <= T`` and ``1 <= N <= max_cols``, or non-finite values.

    >>> try:
    ...     load_series("/no/such/file.npy")
    ... except DataError as exc:
    ...     print(exc)
    data file /no/such/file.npy does not exist
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"data file {path} does not exist")
    if not os.path.isfile(path):
        raise DataError(f"data file {path} is not a file")
    try:
        X = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        why = str(exc).split(". ")[0].rstrip(".")
        raise DataError(f"data file {path} is not a readable .npy array ({why})") from None
    if not isinstance(X, np.ndarray):  # an .npz archive
        raise DataError(f"data file {path}: expected one array (.npy), got an archive of several")
    if X.dtype.kind not in "fiu":
        raise DataError(f"data file {path}: expected a numeric array, got dtype {X.dtype}")
    if X.ndim != 2 or X.shape[0] < min_rows or not 1 <= X.shape[1] <= max_cols:
        raise DataError(f"data file {path}: expected shape (T, N) with T >= {min_rows} and "
                        f"1 <= N <= {max_cols}, got {X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise DataError(f"data file {path}: contains NaN or infinite values")
    return X


def ecg(path=None, heldout: float = 0.2, length: int | None = None, seed: int = 0) -> Dataset:
    """The delay-embedded ECG in *path*: the first ``1 - heldout`` of the rows (optionally only
    the first ``length`` rows of the file) are the training trajectory, the last ``heldout``
    fraction is :attr:`Dataset.heldout`. Both are z-scored with the training part's mean and
    standard deviation (the file is already standardised, so this is nearly the identity).
    The seed is unused (the data are a recording)."""
    if path is None:
        raise DataError("the ecg data set needs the path of the .npy file (--data PATH)")
    if not 0.0 < heldout < 1.0:
        raise DataError(f"heldout must be in (0, 1), got {heldout}")
    X = load_series(path)
    if length is not None:
        X = X[:length]
    cut = int(round(len(X) * (1.0 - heldout)))
    if cut < 200 or len(X) - cut < 100:
        raise DataError(f"data file {path}: {len(X)} rows are too few for a {heldout:.0%} hold-out")
    ds = _zscore("ecg", [X[:cut]], 1.0,
                 ECG_NOTE + f"; training rows 0..{cut - 1}, held-out rows {cut}..{len(X) - 1}",
                 {"path": os.path.basename(path), "rows": int(len(X)), "heldout": heldout,
                  "train_rows": [0, cut], "heldout_rows": [cut, int(len(X))]})
    ds.heldout = (X[cut:] - ds.mean) / ds.std
    return ds


DATASETS = {"duffing": duffing, "lorenz63": lorenz63, "decision": decision,
            "santafe_laser": santafe_laser, "ecg": ecg}


def make_dataset(name: str, **kwargs) -> Dataset:
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r} (one of {', '.join(DATASETS)})")
    return DATASETS[name](**kwargs)
