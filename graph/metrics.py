"""Reconstruction metrics of dynamical-systems learning (numpy only; untrusted floats).

* :func:`state_space_divergence` — D_stsp = KL(p_data || p_model) of histograms with
  ``bins`` bins per dimension over the data's range, Laplace-smoothed (Hess et al. 2023;
  Koppe et al. 2019). Only occupied bins are stored, so any dimension works; for n >= 6 the
  histogram is very sparse and :func:`state_space_divergence_gmm` (Gaussian mixtures centred
  on the samples, KL by Monte Carlo) is the usual alternative.
* :func:`hellinger_spectrum_distance` — D_H = mean over dimensions of the Hellinger distance
  H(p, q) = sqrt(1 - sum_k sqrt(p_k q_k)) between Gaussian-smoothed, normalised power spectra.
* :func:`lyapunov_spectrum_qr` / :func:`max_lyapunov` — Lyapunov exponents from a sequence of
  Jacobians by repeated QR (Benettin et al. 1980; Eckmann & Ruelle 1985):
  lambda_i = lim (1/T) sum_t log |R_t[i, i]|, vectorised over many trajectories at once.

>>> import numpy as np
>>> J = np.broadcast_to(np.diag([2.0, 0.5]), (100, 2, 2))
>>> np.round(lyapunov_spectrum_qr(J), 12).tolist()
[0.69314718056, -0.69314718056]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["state_space_divergence", "state_space_divergence_gmm", "power_spectra",
           "hellinger_spectrum_distance", "lyapunov_spectrum_qr", "max_lyapunov",
           "model_jacobians", "reconstruction_metrics", "delay_embed", "mean_period",
           "DivergenceEstimate", "rosenstein_lyapunov"]


# ----------------------------------------------------------------------------- D_stsp

def _bin_coords(X: np.ndarray, lo: np.ndarray, hi: np.ndarray, bins: int) -> np.ndarray:
    """Integer bin coordinates (N, n); points outside [lo, hi] go to the edge bins (so a
    model that leaves the data's range is penalised, not ignored)."""
    width = np.where(hi > lo, hi - lo, 1.0)
    idx = np.floor((X - lo) / width * bins)
    return np.clip(np.nan_to_num(idx, nan=0.0, posinf=bins - 1, neginf=0), 0, bins - 1).astype(np.int64)


def state_space_divergence(X_data, X_model, bins: int = 30, alpha: float = 1e-5,
                           lims: tuple | None = None) -> float:
    """KL(p_data || p_model) of the two samples' histograms (``bins`` per dimension).

    The range is the data's min/max per dimension unless ``lims = (lo, hi)``. Laplace
    smoothing: p_k = (c_k + alpha) / (N + alpha * bins^n). Bins empty in both samples are
    summed in closed form, so no array of bins^n entries is ever built.

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(2000, 2))
    >>> state_space_divergence(X, X)
    0.0
    """
    Xd = np.atleast_2d(np.asarray(X_data, float))
    Xm = np.atleast_2d(np.asarray(X_model, float))
    if Xd.shape[1] != Xm.shape[1]:
        raise ValueError(f"data has {Xd.shape[1]} dimensions, model {Xm.shape[1]}")
    n = Xd.shape[1]
    lo, hi = (Xd.min(axis=0), Xd.max(axis=0)) if lims is None else map(np.asarray, lims)
    both = np.unique(np.vstack([_bin_coords(Xd, lo, hi, bins), _bin_coords(Xm, lo, hi, bins)]),
                     axis=0, return_inverse=True)[1].reshape(-1)
    nk = int(both.max()) + 1
    pd_c = np.bincount(both[: len(Xd)], minlength=nk).astype(float)
    pm_c = np.bincount(both[len(Xd):], minlength=nk).astype(float)
    total_bins = float(bins) ** n
    zd = len(Xd) + alpha * total_bins
    zm = len(Xm) + alpha * total_bins
    p = (pd_c + alpha) / zd
    q = (pm_c + alpha) / zm
    kl = float(np.sum(p * np.log(p / q)))
    # bins occupied by neither sample: each has p0 = alpha/zd, q0 = alpha/zm
    empty = total_bins - nk
    if empty > 0:
        p0, q0 = alpha / zd, alpha / zm
        kl += empty * p0 * np.log(p0 / q0)
    return float(kl)


def state_space_divergence_gmm(X_data, X_model, scale: float = 1.0, n_samples: int = 1000,
                               seed: int = 0) -> float:
    """KL(p_data || p_model) with p = equal-weight Gaussian mixture (isotropic, std ``scale``)
    centred on (a subsample of) each sample set, estimated by Monte Carlo from p_data
    (Koppe et al. 2019's version for high dimension)."""
    rng = np.random.default_rng(seed)
    Xd = np.asarray(X_data, float)
    Xm = np.asarray(X_model, float)
    Xm = Xm[np.all(np.isfinite(Xm), axis=1)]
    if len(Xm) == 0:
        return float("inf")
    # the same seed for both subsamples: identical inputs give identical mixtures
    cd = Xd[np.random.default_rng(seed).choice(len(Xd), min(n_samples, len(Xd)), replace=False)]
    cm = Xm[np.random.default_rng(seed).choice(len(Xm), min(n_samples, len(Xm)), replace=False)]
    S = cd[rng.integers(len(cd), size=n_samples)] + scale * rng.standard_normal((n_samples, Xd.shape[1]))

    def logmix(centres):
        d2 = ((S[:, None, :] - centres[None]) ** 2).sum(-1) / (2 * scale ** 2)
        m = (-d2).max(axis=1, keepdims=True)
        return (m[:, 0] + np.log(np.exp(-d2 - m).mean(axis=1)))

    return float(np.mean(logmix(cd) - logmix(cm)))


# ----------------------------------------------------------------------------- D_H

def _gauss_smooth(P: np.ndarray, sigma: float) -> np.ndarray:
    """Convolve each row with a normalised Gaussian kernel (std ``sigma`` frequency bins)."""
    if sigma <= 0:
        return P
    half = int(np.ceil(4 * sigma))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(P, [(0, 0)] * (P.ndim - 1) + [(half, half)], mode="reflect")
    out = np.apply_along_axis(lambda r: np.convolve(r, k, mode="valid"), -1, pad)
    return out


def power_spectra(X, smoothing: float = 2.0, n_freq: int | None = None) -> np.ndarray:
    """Normalised, smoothed power spectrum of each dimension.

    X: (T, N) or a list/array of trajectories (K, T, N) (spectra averaged over them).
    Returns (N, F): each row sums to 1. The mean of each series is removed first (the DC bin
    is dropped)."""
    arrs = [np.asarray(x, float) for x in (X if isinstance(X, (list, tuple)) else
                                           ([X] if np.ndim(X) == 2 else list(X)))]
    T = min(len(a) for a in arrs)
    P = 0.0
    for a in arrs:
        a = a[:T] - a[:T].mean(axis=0)
        P = P + np.abs(np.fft.rfft(a, axis=0)[1:]) ** 2
    P = np.asarray(P).T / len(arrs)
    if n_freq is not None:
        P = P[:, :n_freq]
    P = _gauss_smooth(P, smoothing)
    s = P.sum(axis=1, keepdims=True)
    return P / np.where(s > 0, s, 1.0)


def hellinger_spectrum_distance(X_data, X_model, smoothing: float = 2.0,
                                n_freq: int | None = None) -> float:
    """D_H: mean over dimensions of sqrt(1 - sum sqrt(p q)) of the normalised power spectra.

    0 for identical spectra, 1 for spectra with disjoint support.

    >>> import numpy as np
    >>> t = np.arange(1000)[:, None]
    >>> hellinger_spectrum_distance(np.sin(0.3 * t), np.sin(0.3 * t))
    0.0
    """
    p = power_spectra(X_data, smoothing, n_freq)
    q = power_spectra(X_model, smoothing, n_freq)
    F = min(p.shape[1], q.shape[1])
    # sqrt(1 - sum sqrt(pq)) = sqrt(sum (sqrt p - sqrt q)^2 / 2) for normalised p, q; the
    # second form is exactly 0 for identical spectra (no cancellation)
    h = np.sqrt(0.5 * ((np.sqrt(p[:, :F]) - np.sqrt(q[:, :F])) ** 2).sum(axis=1))
    h = np.minimum(h, 1.0)
    return float(h.mean())


# ----------------------------------------------------------------------------- Lyapunov

def lyapunov_spectrum_qr(jacobians, k: int | None = None, transient: int = 0) -> np.ndarray:
    """Lyapunov exponents (per step) from Jacobians along an orbit, by repeated QR.

    jacobians: (T, n, n), or (T, K, n, n) for K orbits at once (vectorised; exponents are
    averaged over the K orbits). Q_0 = first k columns of I; for each t:
    J_t Q_{t-1} = Q_t R_t, and lambda_i = mean over t >= transient of log |R_t[i, i]|.
    Returns the k largest exponents (k = n by default), in decreasing order of the QR
    columns (the standard ordering once converged).
    """
    J = np.asarray(jacobians, float)
    if J.ndim == 3:
        J = J[:, None]
    T, K, n, _ = J.shape
    k = n if k is None else k
    Q = np.broadcast_to(np.eye(n)[:, :k], (K, n, k)).copy()
    acc = np.zeros((K, k))
    used = 0
    for t in range(T):
        Q, R = np.linalg.qr(J[t] @ Q)
        d = np.abs(np.diagonal(R, axis1=1, axis2=2))
        if t >= transient:
            with np.errstate(divide="ignore"):
                acc += np.log(d)
            used += 1
    if used == 0:
        raise ValueError("transient is not shorter than the sequence of Jacobians")
    return (acc / used).mean(axis=0)


def model_jacobians(model, Z: np.ndarray) -> np.ndarray:
    """Float Jacobians J = A + B diag(Cz + d > 0) C at states Z (..., n) -> (..., n, n).

    *model* is any object with float arrays ``Af, Bf, Cf, df`` (a ReluAffineMap)."""
    Z = np.asarray(Z, float)
    D = (Z @ model.Cf.T + model.df > 0).astype(float)
    return model.Af + np.einsum("il,...l,lj->...ij", model.Bf, D, model.Cf)


def max_lyapunov(model, Z0, steps: int = 10_000, transient: int = 1_000, k: int = 1,
                 return_all: bool = False):
    """Largest Lyapunov exponent (per step) of a ReLU-affine map from initial states Z0
    (n,) or (K, n): iterate the map (vectorised over the K states), then QR along the
    Jacobians. Returns a float (mean over the K orbits), or the per-orbit values if
    ``return_all``."""
    Z = np.atleast_2d(np.asarray(Z0, float))
    for _ in range(transient):
        Z = model.f(Z)
    K, n = Z.shape
    Q = np.broadcast_to(np.eye(n)[:, :k], (K, n, k)).copy()
    acc = np.zeros((K, k))
    for _ in range(steps):
        J = model_jacobians(model, Z)
        Q, R = np.linalg.qr(J @ Q)
        with np.errstate(divide="ignore"):
            acc += np.log(np.abs(np.diagonal(R, axis1=1, axis2=2)))
        Z = model.f(Z)
    lam = acc[:, 0] / steps
    return lam if return_all else float(np.mean(lam))


# ----------------------------------------------------------------------------- all together

def reconstruction_metrics(data_trajs, model_trajs, bins: int = 30, smoothing: float = 2.0,
                           n_freq: int | None = None) -> dict:
    """D_stsp and D_H of model trajectories against data trajectories (lists of (T, N))."""
    Xd = np.concatenate(list(data_trajs), axis=0)
    Xm = np.concatenate(list(model_trajs), axis=0)
    fin = [m for m in model_trajs if np.all(np.isfinite(m))]
    out = {"D_stsp": state_space_divergence(Xd, Xm, bins=bins),
           "D_H": hellinger_spectrum_distance(list(data_trajs), fin, smoothing, n_freq) if fin
           else float("nan"),
           "D_stsp_bins": bins, "D_H_smoothing": smoothing}
    return out


# ----------------------------------------------------------------------------- λ from a series

def delay_embed(x, dim: int, tau: int = 1) -> np.ndarray:
    """Delay vectors (x_t, x_{t+tau}, ..., x_{t+(dim-1)tau}) of a series (T,) or (T, d)
    -> (T - (dim-1) tau, dim * d)."""
    X = np.asarray(x, float)
    X = X[:, None] if X.ndim == 1 else X
    T = len(X) - (dim - 1) * tau
    if T <= 0:
        raise ValueError(f"series of length {len(X)} is too short for dim={dim}, tau={tau}")
    return np.hstack([X[i * tau: i * tau + T] for i in range(dim)])


def mean_period(X) -> float:
    """Mean period (steps) of a series: 1 / the power-weighted mean frequency of its spectrum
    (Rosenstein et al. 1993 use it as the Theiler window)."""
    X = np.asarray(X, float)
    X = X[:, None] if X.ndim == 1 else X
    P = (np.abs(np.fft.rfft(X - X.mean(axis=0), axis=0)) ** 2).sum(axis=1)[1:]
    f = np.fft.rfftfreq(len(X))[1:]
    if P.sum() <= 0:
        return 1.0
    return float(1.0 / (np.sum(f * P) / np.sum(P)))


@dataclass
class DivergenceEstimate:
    """Result of :func:`rosenstein_lyapunov`: ``value`` (per step) is the slope of
    ``curve`` (mean log distance of neighbour pairs after i steps, i = 0..horizon) over
    ``fit`` = (i0, i1); ``theiler``: the temporal exclusion window; ``pairs``: number of
    reference points with a neighbour; ``status``: 'ok' | 'no-growth' | 'too-short'."""

    value: float
    curve: np.ndarray
    fit: tuple
    theiler: int
    pairs: int
    status: str
    message: str


def rosenstein_lyapunov(x, dim: int = 1, tau: int = 1, theiler: int | None = None,
                        horizon: int | None = None, fit: tuple | None = None, n_ref: int = 2000,
                        seed: int = 0) -> DivergenceEstimate:
    """Largest Lyapunov exponent (per sample) of a measured series by nearest-neighbour
    divergence (Rosenstein, Collins & De Luca 1993, Physica D 65:117).

    The series (T,) or (T, d) is delay-embedded (``dim``, ``tau``; dim = 1 uses it as is,
    right for a full state). For ``n_ref`` reference points j, the nearest neighbour k with
    |j − k| > ``theiler`` (default: the mean period from the spectrum) is found (k-d tree);
    y(i) = mean_j log ‖X_{j+i} − X_{k+i}‖, and λ ≈ the least-squares slope of y over the
    linear range ``fit`` = (i0, i1). Default fit: from the first i where y has risen by 10%
    of its total rise to the first i where it has risen by 60% (before saturation at the
    attractor's size). A numerical estimate, never a proof.

    >>> x = np.empty(20000); x[0] = 0.3
    >>> for t in range(1, len(x)): x[t] = 4 * x[t - 1] * (1 - x[t - 1])
    >>> bool(abs(rosenstein_lyapunov(x, horizon=20).value - np.log(2)) < 0.1)
    True
    """
    from scipy.spatial import cKDTree

    X = delay_embed(x, dim, tau)
    T = len(X)
    w = int(round(mean_period(X))) if theiler is None else int(theiler)
    w = max(0, w)
    K = horizon if horizon is not None else max(10, min(T // 10, 1000))
    if T - K < 2 * w + 10:
        return DivergenceEstimate(float("nan"), np.zeros(0), (0, 0), w, 0, "too-short",
                                  f"series of {T} points too short for horizon {K} and Theiler window {w}")
    usable = T - K
    rng = np.random.default_rng(seed)
    ref = np.sort(rng.choice(usable, size=min(n_ref, usable), replace=False))
    tree = cKDTree(X[:usable])
    kq = min(usable, 2 * w + 2)                     # at most 2w + 1 points are inside the window
    _, idx = tree.query(X[ref], k=kq)
    idx = np.atleast_2d(idx).reshape(len(ref), -1)
    far = np.abs(idx - ref[:, None]) > w
    has = far.any(axis=1)
    nb = idx[np.arange(len(ref)), np.argmax(far, axis=1)]   # nearest one outside the window
    ref, nb = ref[has], nb[has]
    steps = np.arange(K + 1)
    D = np.linalg.norm(X[ref[:, None] + steps] - X[nb[:, None] + steps], axis=2)
    with np.errstate(divide="ignore"):
        L = np.log(D)
    L = np.where(np.isfinite(L), L, np.nan)
    y = np.nanmean(L, axis=0)
    if fit is None:
        rise = np.nanmax(y) - y[0]
        if not np.isfinite(rise) or rise <= 0:
            return DivergenceEstimate(float("nan"), y, (0, 0), w, len(ref), "no-growth",
                                      "neighbour distances do not grow")
        i0 = int(np.argmax(y >= y[0] + 0.1 * rise))
        i1 = int(np.argmax(y >= y[0] + 0.6 * rise))
        if i1 - i0 < 2:
            i0, i1 = 0, max(i1, 2)
    else:
        i0, i1 = int(fit[0]), int(fit[1])
    i1 = min(i1, K)
    slope = float(np.polyfit(steps[i0:i1 + 1], y[i0:i1 + 1], 1)[0])
    return DivergenceEstimate(slope, y, (i0, i1), w, len(ref), "ok",
                              f"slope of the mean log divergence of {len(ref)} neighbour pairs over steps "
                              f"{i0}..{i1} (Theiler window {w})")
