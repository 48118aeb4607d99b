"""Simple cross-modal baselines: LSH (random hyperplanes) and CCA-ITQ.

Every learned method in the suite must beat both; they also exercise the harness end to end.

- lsh: data-independent random hyperplanes. Each modality is centred with its own training
  mean (removing the modality gap of CLIP-like features), then hashed with one shared set of
  Gaussian hyperplanes, so codes of the two modalities are comparable. When the modalities have
  different feature sizes, each gets its own hyperplanes (and cross-modal retrieval is then at
  chance level, as it must be for a method that learns nothing).
- cca-itq: CCA (Hotelling; ridge-regularised covariances) projects both modalities into a
  common `bits`-dimensional space, each canonical direction weighted by its correlation to the
  power `eigen_power`; ITQ (Gong & Lazebnik, 2011) then learns one orthogonal rotation on the
  stacked projections of both modalities that minimises the quantisation error. The defaults
  (ridge 0.1, eigen_power 2) are not the strongest setting on the synthetic data; docs/methods.md
  ("The baselines") has the sensitivity table.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.linalg
import torch
from threadpoolctl import threadpool_limits

import hashbench
from hashbench import Method, MethodInfo, TrainData

from . import _ranges


def _numpy(t: torch.Tensor) -> np.ndarray:
    """float64 for fitting: the linear algebra needs the precision."""
    return t.detach().to("cpu", torch.float64).numpy()


def _project(x: torch.Tensor, mean: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(x - mean) @ matrix in float32: encoding needs only the signs."""
    return (x.detach().cpu().numpy() - mean) @ matrix


class LinearHashModel(torch.nn.Module):
    """The inference model of a linear hashing method: one affine map per modality.

    Used by the profiler; encoding itself uses the same matrices through numpy.
    """

    def __init__(self, encoders: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
        super().__init__()
        self.maps = torch.nn.ModuleDict()
        for modality, (mean, matrix) in encoders.items():
            layer = torch.nn.Linear(matrix.shape[0], matrix.shape[1])
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(matrix.T.copy()))
                layer.bias.copy_(torch.from_numpy(-(mean @ matrix)))
            self.maps[modality] = layer

    def forward(self, image: torch.Tensor, text: torch.Tensor | None = None) -> object:
        if text is None:  # unimodal: one input, the single modality's map
            return next(iter(self.maps.values()))(image)
        return self.maps["image"](image), self.maps["text"](text)


def _sign(x: np.ndarray) -> np.ndarray:
    """sign with 0 mapped to +1, so every bit is valid."""
    return np.where(x >= 0, 1, -1).astype(np.int8)


class LSH(Method):
    info = MethodInfo(
        name="lsh",
        display_name="LSH",
        reference="Charikar, STOC 2002 (random-hyperplane hashing)",
        summary="random hyperplanes on mean-centred features (data-independent)",
        tasks=("cross-modal", "unimodal"),  # unimodal: hyperplanes on the flattened input
    )

    def fit(self, train: TrainData) -> None:
        rng = np.random.default_rng(self.seed)
        self.means = {m: _numpy(x).mean(0).astype(np.float32) for m, x in train.features.items()}
        dims = {m: x.shape[1] for m, x in train.features.items()}
        shared = len(set(dims.values())) == 1
        planes = {}
        for modality, dim in dims.items():
            if shared and planes:
                planes[modality] = next(iter(planes.values()))
            else:
                planes[modality] = rng.standard_normal((dim, self.bits)).astype(np.float32)
        self.planes = planes

    def encode(self, modality: str, inputs: Mapping[str, torch.Tensor]) -> np.ndarray:
        return _sign(_project(inputs[modality], self.means[modality], self.planes[modality]))

    def inference_model(self) -> torch.nn.Module:
        return LinearHashModel({m: (self.means[m], self.planes[m]) for m in self.means})


def _svd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SVD by LAPACK's gesvd: the default divide-and-conquer driver (gesdd) fails to converge
    on some well-conditioned inputs with single-threaded OpenBLAS 0.3.30/0.3.31."""
    return scipy.linalg.svd(a, full_matrices=False, lapack_driver="gesvd")


def _inv_sqrt(cov: np.ndarray) -> np.ndarray:
    vals, vecs = scipy.linalg.eigh(cov)
    return (vecs / np.sqrt(np.maximum(vals, 1e-12))) @ vecs.T


class CCAITQ(Method):
    info = MethodInfo(
        name="cca-itq",
        display_name="CCA-ITQ",
        reference="Gong et al., TPAMI 2013 (ITQ with CCA embedding)",
        summary="CCA into a common space, then an ITQ rotation shared by both modalities",
    )
    # ridge is relative to the mean eigenvalue of each covariance; canonical directions are
    # weighted by correlation**eigen_power before ITQ, so weakly correlated (noisy) ones count less.
    default_params = {"ridge": 0.1, "itq_iterations": 50, "eigen_power": 2.0}
    param_ranges = {
        "ridge": hashbench.Float(0.0, None),
        "itq_iterations": _ranges.SOLVER_ITERATIONS,
        "eigen_power": hashbench.Float(0.0, None),
    }
    #: `hashbench tune` searches these (docs/tuning.md)
    search_space = {
        "ridge": hashbench.Float(1e-3, 10.0, log=True),
        "eigen_power": hashbench.Float(0.0, 4.0),
    }

    @classmethod
    def max_bits(cls, feature_dims: Mapping[str, int]) -> int | None:
        return min(feature_dims.values()) if feature_dims else None

    # Small matrices (at most 512 x 512) and many small SVDs: one BLAS thread is as fast as two
    # on an idle machine and far faster when the cores are busy.
    @threadpool_limits.wrap(limits=1, user_api="blas")
    def fit(self, train: TrainData) -> None:
        (m1, x), (m2, y) = [(m, _numpy(v)) for m, v in train.features.items()]
        self.means = {m1: x.mean(0), m2: y.mean(0)}
        x, y = x - self.means[m1], y - self.means[m2]
        n = x.shape[0]
        ridge = float(self.params["ridge"])

        def cov(a: np.ndarray) -> np.ndarray:
            c = a.T @ a / n
            return c + ridge * np.trace(c) / c.shape[0] * np.eye(c.shape[0])

        wx, wy = _inv_sqrt(cov(x)), _inv_sqrt(cov(y))
        u, corr, vt = _svd(wx @ (x.T @ y / n) @ wy)
        scale = corr[: self.bits] ** float(self.params["eigen_power"])
        self.proj = {m1: wx @ u[:, : self.bits] * scale, m2: wy @ vt.T[:, : self.bits] * scale}
        rotation = self._itq(np.vstack([x @ self.proj[m1], y @ self.proj[m2]]))
        # Encoding applies mean, projection and rotation in one float32 product.
        self.encoders = {
            m: (self.means[m].astype(np.float32), (self.proj[m] @ rotation).astype(np.float32))
            for m in (m1, m2)
        }

    def _itq(self, v: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        rotation, _ = np.linalg.qr(rng.standard_normal((self.bits, self.bits)))
        for _ in range(int(self.params["itq_iterations"])):
            b = _sign(v @ rotation).astype(np.float64)
            u, _, wt = _svd(v.T @ b)
            rotation = u @ wt
        return rotation

    def encode(self, modality: str, inputs: Mapping[str, torch.Tensor]) -> np.ndarray:
        mean, matrix = self.encoders[modality]
        return _sign(_project(inputs[modality], mean, matrix))

    def inference_model(self) -> torch.nn.Module:
        return LinearHashModel(self.encoders)


@hashbench.hookimpl
def hashbench_register_methods() -> list[type[Method]]:
    return [LSH, CCAITQ]
