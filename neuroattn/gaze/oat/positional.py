"""OAT's object positional encoding: a table with Gaussian cosine similarity, fitted offline.

OAT (reference §2.1) places each object token by its grid cell and by whether
it is the target, with one table ``W`` of shape ``(n, k)``:

* **Fit** (offline, once): ``W ~ N(0, 1)``, then Adam (lr 0.01, 10 000
  iterations in the reference) on

  ``L(W) = Σ_ij (cos(W_i, W_j) - exp(-(i - j)² / (2σ²)))² / (n(n - 1)) + var(‖W_i‖)``

  with ``σ = 2``: rows ``i`` and ``j`` are as similar as a Gaussian of their
  distance says, and the variance term (unbiased, over the ``n`` row norms)
  makes every row equally long. The fitted table then satisfies
  ``cos(W_i, W_j) ≈ exp(-(i-j)²/(2σ²))`` (the reference's shipped tables
  give 0.883, 0.607, 0.325, 0.135 at distances 1-4, against 0.882, 0.607,
  0.325, 0.135).
* **Encode**: ``PE(row, col, is_target) = concat(W[row], W[col],
  W[is_target])[:dim]``; the flag ``0``/``1`` indexes rows 0/1 of the same
  table, and ``k = ceil(dim / 3)`` so the concatenation is truncated to
  ``dim`` (in the reference ``3·86 = 258 → 256``).

``n = max(n_rows, n_cols, 2)`` rows index rows, columns and the flag. The
reference also appends four zero rows for its padding tokens; here padded
objects are masked out of the model instead, so the table has none.

Nothing is downloaded or shipped: the fit takes about 1.5 s on one CPU core
for the reference's 14 × 86 table and 10 000 iterations, and is cached per
process for identical arguments.

Examples
--------
>>> import numpy as np
>>> from neuroattn.gaze.oat.positional import fit_position_table
>>> from neuroattn.gaze.oat.positional import gaussian_similarity
>>> W = fit_position_table(6, 16, n_iter=3000)
>>> W.shape
(6, 16)
>>> Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
>>> bool(np.abs(Wn @ Wn.T - gaussian_similarity(6, sigma=2.0)).max() < 0.01)
True
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import nn

from neuroattn.errors import ParameterError

__all__ = ["ObjectPositionalEncoding", "fit_position_table", "gaussian_similarity",
           "table_loss_and_grad"]


def gaussian_similarity(n: int, sigma: float = 2.0) -> np.ndarray:
    """The target similarity ``exp(-(i - j)² / (2σ²))``, an ``(n, n)`` float64 matrix.

    Examples
    --------
    >>> gaussian_similarity(3, sigma=1.0).round(3)
    array([[1.   , 0.607, 0.135],
           [0.607, 1.   , 0.607],
           [0.135, 0.607, 1.   ]])
    """
    if not isinstance(n, int | np.integer) or n < 1:
        raise ParameterError(f"n={n!r} must be a positive integer (the number of table rows).")
    if not math.isfinite(sigma) or sigma <= 0:
        raise ParameterError(f"sigma={sigma!r} must be a positive number (in rows).")
    d = np.arange(n)[:, None] - np.arange(n)[None, :]
    return np.exp(-(d.astype(np.float64) ** 2) / (2.0 * sigma**2))


def fit_position_table(
    n: int,
    dim: int,
    *,
    sigma: float = 2.0,
    n_iter: int = 10_000,
    lr: float = 0.01,
    seed: int = 0,
) -> np.ndarray:
    """Fit the ``(n, dim)`` table ``W`` whose rows have Gaussian cosine similarity.

    Minimises the loss of the module docstring with Adam (torch's update
    rule, on the analytic gradient of :func:`table_loss_and_grad`, in
    float64 NumPy) from ``W ~ N(0, 1)`` drawn with ``seed``.

    Parameters
    ----------
    n : int
        Number of rows (at least 2).
    dim : int
        Row width.
    sigma : float
        Width of the similarity Gaussian, in rows (reference: 2).
    n_iter : int
        Adam iterations (reference: 10 000; 0 returns the initial draw).
    lr : float
        Adam learning rate (reference: 0.01).
    seed : int
        Seed of the initial draw.

    Returns
    -------
    numpy.ndarray
        ``(n, dim)`` float32, a fresh copy (results are cached per process).

    Examples
    --------
    >>> import numpy as np
    >>> W = fit_position_table(5, 12, n_iter=2000, seed=1)
    >>> norms = np.linalg.norm(W, axis=1)
    >>> bool(norms.std() / norms.mean() < 1e-3)
    True
    """
    if not isinstance(n, int | np.integer) or n < 2:
        raise ParameterError(f"n={n!r} must be an integer >= 2 (rows of the table).")
    if not isinstance(dim, int | np.integer) or dim < 1:
        raise ParameterError(f"dim={dim!r} must be a positive integer (width of a row).")
    if not isinstance(n_iter, int | np.integer) or n_iter < 0:
        raise ParameterError(f"n_iter={n_iter!r} must be a non-negative integer.")
    if not math.isfinite(lr) or lr <= 0:
        raise ParameterError(f"lr={lr!r} must be a positive number.")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer.")
    gaussian_similarity(int(n), sigma)  # validates sigma
    return _fit_cached(int(n), int(dim), float(sigma), int(n_iter), float(lr), int(seed)).copy()


@functools.lru_cache(maxsize=32)
def _fit_cached(n: int, dim: int, sigma: float, n_iter: int, lr: float,
                seed: int) -> np.ndarray:
    """Adam (torch's defaults: betas 0.9/0.999, eps 1e-8) on the analytic gradient, in float64."""
    w = np.random.default_rng(seed).standard_normal((n, dim))
    target = gaussian_similarity(n, sigma)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, n_iter + 1):
        _, grad = table_loss_and_grad(w, target)
        m = beta1 * m + (1.0 - beta1) * grad
        v = beta2 * v + (1.0 - beta2) * grad * grad
        denom = np.sqrt(v / (1.0 - beta2**step)) + eps
        w = w - lr / (1.0 - beta1**step) * m / denom
    out = w.astype(np.float32)
    out.setflags(write=False)
    return out


def table_loss_and_grad(w: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """The fitting loss ``L(W)`` of the module docstring and its gradient ``dL/dW``.

    Parameters
    ----------
    w : numpy.ndarray
        ``(n, k)`` table with non-zero rows.
    target : numpy.ndarray
        ``(n, n)`` target similarity (:func:`gaussian_similarity`).

    Returns
    -------
    tuple
        ``(loss, grad)`` with ``grad`` of the shape of ``w``.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.eye(3)  # orthogonal rows of equal norm: only the off-diagonal terms count
    >>> loss, grad = table_loss_and_grad(w, gaussian_similarity(3, sigma=1.0))
    >>> round(loss, 4), grad.shape
    (0.2514, (3, 3))
    """
    n = w.shape[0]
    norms = np.linalg.norm(w, axis=1)
    unit = w / norms[:, None]
    resid = unit @ unit.T - target
    loss = float((resid**2).sum() / (n * (n - 1)) + norms.var(ddof=1))
    g_unit = 4.0 / (n * (n - 1)) * resid @ unit  # dL/dU; resid is symmetric
    g_w = (g_unit - (g_unit * unit).sum(1, keepdims=True) * unit) / norms[:, None]
    g_w += (2.0 * (norms - norms.mean()) / (n - 1))[:, None] * unit
    return loss, g_w


class ObjectPositionalEncoding(nn.Module):
    """``PE(row, col, is_target) = concat(W[row], W[col], W[is_target])[:dim]``.

    Parameters
    ----------
    n_rows, n_cols : int
        Grid size; the table has ``max(n_rows, n_cols, 2)`` rows.
    dim : int
        Width of the encoding (OAT: half the model width).
    sigma, n_iter, lr, seed
        Passed to :func:`fit_position_table` (the table is fitted here, with
        rows of width ``ceil(dim / 3)``) unless ``table`` is given.
    table : numpy.ndarray or torch.Tensor, optional
        A ready ``(n, ceil(dim / 3))`` table (for example the reference's).

    Attributes
    ----------
    table : torch.Tensor
        The table, a buffer (saved in the state dict, not trained).

    Examples
    --------
    >>> import torch
    >>> pe = ObjectPositionalEncoding(4, 6, dim=32, n_iter=500)
    >>> pe.table.shape
    torch.Size([6, 11])
    >>> rows, cols = torch.tensor([[0, 3]]), torch.tensor([[5, 1]])
    >>> pe(rows, cols, torch.tensor([[False, True]])).shape
    torch.Size([1, 2, 32])
    """

    def __init__(self, n_rows: int, n_cols: int, dim: int, *, sigma: float = 2.0,
                 n_iter: int = 10_000, lr: float = 0.01, seed: int = 0,
                 table: np.ndarray | torch.Tensor | None = None) -> None:
        super().__init__()
        for name, value in (("n_rows", n_rows), ("n_cols", n_cols), ("dim", dim)):
            if not isinstance(value, int | np.integer) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive integer.")
        self.n_rows, self.n_cols, self.dim = int(n_rows), int(n_cols), int(dim)
        n = max(self.n_rows, self.n_cols, 2)
        width = math.ceil(self.dim / 3)
        if table is None:
            table = fit_position_table(n, width, sigma=sigma, n_iter=n_iter, lr=lr, seed=seed)
        table = torch.as_tensor(np.asarray(table, dtype=np.float32))
        if table.shape != (n, width):
            raise ParameterError(f"table has shape {tuple(table.shape)}; a {self.n_rows}x"
                                 f"{self.n_cols} grid with dim={self.dim} needs ({n}, {width}).")
        self.register_buffer("table", table.clone())

    def forward(self, rows: torch.Tensor, cols: torch.Tensor,
                is_target: torch.Tensor) -> torch.Tensor:
        """Encode integer ``rows``, ``cols`` and boolean ``is_target`` of any equal shape.

        Returns a float tensor of shape ``(*rows.shape, dim)``.
        """
        flag = is_target.long()
        parts = (self.table[rows.long()], self.table[cols.long()], self.table[flag])
        return torch.cat(parts, dim=-1)[..., : self.dim]

    def extra_repr(self) -> str:
        return f"grid={self.n_rows}x{self.n_cols}, dim={self.dim}"
