"""What one site does: split its patients, train the global model locally, evaluate it.

Local training is the project's trainer (:func:`oncofusion.train.fit.fit`) with the model
config's ``train:`` block for ``local_epochs`` epochs (no early stopping inside a round), the
DMA-Net objective, landmark augmentation and the event-balanced sampler, exactly as in
central training. With FedProx the objective gets the proximal term

.. math:: L_{prox}(w) = L(w) + \\frac{\\mu}{2} \\lVert w - w^{t} \\rVert_2^2

where :math:`w^{t}` are the global weights the round started from (Li et al., "Federated
optimization in heterogeneous networks", MLSys 2020).
"""

from __future__ import annotations

import tempfile
import warnings
import zlib
from typing import Any

import numpy as np
import torch

from oncofusion.data.cohort import Cohort
from oncofusion.data.preprocess import TabularPreprocessor
from oncofusion.errors import CohortError, ConfigError
from oncofusion.models.config import ModelConfig
from oncofusion.survival.discretize import Discretizer

__all__ = [
    "ProximalObjective",
    "SiteTrainer",
    "build_network",
    "config_digest",
    "get_weights",
    "predict_survival",
    "set_weights",
    "shared_discretizer",
    "survival_metrics",
]

NDArrays = list[np.ndarray]


def image_shape(config: ModelConfig) -> tuple[int, int, int] | None:
    """The configured image shape when the network reads images, else None."""
    shape = config.data.image_shape
    if not shape or "imaging" not in config.network.modalities:
        return None
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def config_digest(config: ModelConfig) -> str:
    """SHA-256 of the model config: the server and every site must train the same network."""
    import hashlib

    return hashlib.sha256(config.to_yaml().encode()).hexdigest()


def shared_discretizer(config: ModelConfig, horizons: list[float]) -> Discretizer:
    """The time grid every site uses: ``data.cuts``, or equal intervals up to the horizon.

    The horizon is ``data.horizon`` or the cohort's last horizon; a grid fitted on one
    site's follow-up (quantile cuts, or no horizon) would differ between sites, so it is
    refused.
    """
    if config.data.cuts:
        return Discretizer.from_cuts(config.data.cuts)
    horizon = config.data.horizon or (max(horizons) if horizons else None)
    if horizon is None:
        raise ConfigError(
            "federated training needs one time grid for every site. Fix: set data.horizon (or "
            "data.cuts) in the model config, or horizons in cohort.yaml."
        )
    return Discretizer.equidistant(config.data.n_intervals, horizon=float(horizon))


def build_network(config: ModelConfig, pre: TabularPreprocessor, n_intervals: int) -> tuple[torch.nn.Module, dict]:
    """The configured network for the preprocessor's input sizes, and those sizes."""
    from oncofusion.models.network import MultimodalSurvivalNet

    genomics = config.network.encoders.get("genomics")
    if genomics is not None and genomics.name == "gcn" and "genomics" in config.network.modalities:
        raise ConfigError("the gcn genomic encoder is not supported in federated training (the gene graph would "
                          "have to be shared). Fix: use genomic_mlp.")
    sizes = {"imaging": 1, "biomarkers": len(pre.biomarker_names), "clinical": len(pre.clinical_feature_names),
             "genomics": len(pre.genomic_names)}
    for m in config.network.modalities:
        if sizes[m] == 0:
            raise CohortError(f"the config uses modality '{m}' but the cohort has no {m} columns.",
                              file="cohort.yaml", fix=f"remove '{m}' from network.modalities.")
    net = MultimodalSurvivalNet(config.network, sizes, n_intervals)
    return net, {"input_sizes": sizes, "extra_encoder_args": {}}


def get_weights(net: torch.nn.Module) -> NDArrays:
    """The state dict as arrays, in the state dict's order (what travels)."""
    return [v.detach().cpu().numpy().copy() for v in net.state_dict().values()]


def set_weights(net: torch.nn.Module, weights: NDArrays) -> None:
    keys = list(net.state_dict())
    if len(keys) != len(weights):
        raise ConfigError(f"received {len(weights)} weight arrays for a network with {len(keys)}: "
                          "the server and this site use different model configs.")
    net.load_state_dict({k: torch.as_tensor(np.asarray(w)) for k, w in zip(keys, weights, strict=True)}, strict=True)


class ProximalObjective:
    """``objective`` plus :math:`\\frac{\\mu}{2}\\lVert w - w^t\\rVert^2` over ``model``'s parameters."""

    def __init__(self, objective: Any, model: torch.nn.Module, mu: float) -> None:
        self.objective, self.model, self.mu = objective, model, float(mu)
        self.anchor = [p.detach().clone() for p in model.parameters()]

    def __call__(self, outputs: dict[str, Any], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        terms = dict(self.objective(outputs, batch))
        prox = sum(((p - a.to(p.device)) ** 2).sum() for p, a in zip(self.model.parameters(), self.anchor, strict=True))
        terms["proximal"] = prox  # type: ignore[assignment]
        terms["loss"] = terms["loss"] + 0.5 * self.mu * prox
        return terms


def survival_metrics(time: np.ndarray, event: np.ndarray, surv: np.ndarray, grid: np.ndarray, *,
                     horizon: float, train_time: np.ndarray, train_event: np.ndarray) -> dict[str, float]:
    """AUC at ``horizon`` (cumulative/dynamic, IPCW) and IBS up to it; NaN where undefined."""
    from oncofusion.evaluation import PredictionSet
    from oncofusion.evaluation._compute import metric_value
    from oncofusion.evaluation.run import usable_horizon

    if len(time) == 0:
        return {"auc": float("nan"), "ibs": float("nan")}
    pred = PredictionSet(model="federated", patient_ids=np.arange(len(time)).astype(str), time=time,
                         event=event.astype(int), surv=surv, grid=grid, train_time=train_time,
                         train_event=train_event.astype(int), horizons=[horizon])
    h = usable_horizon(horizon, time)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small site often lacks events for one metric: NaN, logged
        return {"auc": metric_value(pred, "auc", h), "ibs": metric_value(pred, "ibs", h)}


@torch.no_grad()
def predict_survival(net: torch.nn.Module, weights: NDArrays, dataset: Any) -> np.ndarray:
    """S(t) on the grid, ``(n, K)``, for every patient of ``dataset`` under ``weights``."""
    from torch.utils.data import DataLoader

    from oncofusion.data.collate import collate_patients

    set_weights(net, weights)
    net.eval()
    out = [net(b)["hazard"].double().cpu().numpy() for b in DataLoader(dataset, batch_size=64, collate_fn=collate_patients)]
    hazard = np.concatenate(out) if out else np.zeros((0, int(getattr(net, "n_intervals", 0))))
    return np.cumprod(1.0 - hazard, axis=1)


def _seed(base: int, server_round: int, site: str) -> int:
    return int((base * 1_000_003 + server_round * 10_007 + zlib.crc32(site.encode())) % 2**31)


class SiteTrainer:
    """One site's data and local training.

    Parameters
    ----------
    site
        The site's name.
    cohort
        The site's patients (only those; they never leave the site).
    config
        The model config (network, loss, ``train:`` block for local training).
    val_fraction
        Share of the site's patients kept for its own validation (stratified by event).
    seed
        Seed of the local split and of local training.
    """

    def __init__(self, site: str, cohort: Cohort, config: ModelConfig, *, val_fraction: float = 0.2, seed: int = 0) -> None:
        from oncofusion.data.splits import split_patients

        if len(cohort) < 2:
            raise CohortError(f"site '{site}' has {len(cohort)} patient(s); a site needs at least 2.",
                              file="patients.csv", fix="merge small sites or leave them out.")
        self.site, self.cohort, self.config, self.seed = site, cohort, config, seed
        n_val = min(max(1, round(val_fraction * len(cohort))), len(cohort) - 1)
        parts = split_patients(cohort.patients, sizes=(len(cohort) - n_val, n_val), stratify=("event",), seed=seed)
        self.train_ids, self.val_ids = parts["train"], parts["test"]
        train = cohort.subset(self.train_ids).patients
        self.train_time = train["time"].to_numpy(float)
        self.train_event = train["event"].to_numpy(int)
        self._ready_for: str | None = None

    @property
    def n_train(self) -> int:
        return len(self.train_ids)

    def statistics(self) -> dict[str, Any]:
        """Aggregate statistics of the training patients for federated preprocessing."""
        from oncofusion.federated.preprocessing import site_statistics

        return site_statistics(self.cohort.subset(self.train_ids), log_biomarkers=self.config.data.log_biomarkers,
                               vocabulary=self.cohort)

    def prepare(self, preprocessing: str, cuts: list[float]) -> None:
        """Build the datasets and the network from the server's preprocessing and grid (once)."""
        from oncofusion.data.dataset import PatientDataset
        from oncofusion.train.landmark import LandmarkAugmentedDataset
        from oncofusion.train.objective import DiscreteTimeObjective

        key = preprocessing + repr(cuts)
        if self._ready_for == key:
            return
        cfg = self.config
        self.pre = TabularPreprocessor.from_json(preprocessing)
        self.disc = Discretizer.from_cuts(cuts)
        self.net, self.sizes = build_network(cfg, self.pre, self.disc.n_intervals)
        shape = image_shape(cfg)
        base = cfg.data.baseline
        train = PatientDataset(self.cohort.subset(self.train_ids), self.pre, image_shape=shape)
        self.train_set = LandmarkAugmentedDataset(train, self.disc.cuts, baseline=base, landmarks=cfg.data.landmarks,
                                                  p=cfg.data.landmark_p)
        self.val_cohort = self.cohort.subset(self.val_ids)
        self.val_set = PatientDataset(self.val_cohort, self.pre, image_shape=shape, max_visit_time=base)
        self.objective = DiscreteTimeObjective(self.disc, cfg.loss, self.train_time, self.train_event)
        self._ready_for = key

    def train(self, weights: NDArrays, *, server_round: int, epochs: int, mu: float = 0.0) -> tuple[NDArrays, dict[str, float]]:
        """Start from the global ``weights``, train ``epochs`` local epochs, return the new weights."""
        from oncofusion.data.collate import collate_patients
        from oncofusion.train.fit import fit

        set_weights(self.net, weights)
        objective: Any = ProximalObjective(self.objective, self.net, mu) if mu > 0 else self.objective
        seed = _seed(self.seed, server_round, self.site)
        local = self.config.train.model_copy(update={
            "max_epochs": int(epochs), "patience": int(epochs) + 1, "seed": seed, "progress": False,
            "strategy": "auto", "devices": 1, "num_nodes": 1,
        })
        torch.manual_seed(seed)
        self.net.train()
        with tempfile.TemporaryDirectory(prefix=f"oncofusion-{self.site}-") as tmp, warnings.catch_warnings():
            # a site's validation split is small; its IBS may be undefined (fit then monitors
            # val_loss). Nothing is selected on it inside a round, so the warning is noise here
            warnings.filterwarnings("ignore", message="validation IBS is undefined")
            result = fit(self.net, objective, self.train_set, self.val_set, train_time=self.train_time,
                         train_event=self.train_event, grid=self.disc.cuts[1:], config=local,
                         collate=collate_patients, work_dir=tmp, resume=False)
        last = result.history[-1] if result.history else {}
        return get_weights(self.net), {"train_loss": float(last.get("train_loss", float("nan")))}

    def survival(self, weights: NDArrays, dataset: Any) -> np.ndarray:
        """S(t) on the grid for every patient of ``dataset`` under ``weights``."""
        return predict_survival(self.net, weights, dataset)

    def evaluate(self, weights: NDArrays, *, horizon: float) -> dict[str, float]:
        """The global model on this site's validation patients: n, events, AUC, IBS."""
        p = self.val_cohort.patients
        time, event = p["time"].to_numpy(float), p["event"].to_numpy(int)
        surv = self.survival(weights, self.val_set)
        m = survival_metrics(time, event, surv, self.disc.cuts[1:], horizon=horizon,
                             train_time=self.train_time, train_event=self.train_event)
        return {"n": float(len(time)), "events": float(event.sum()), **m}
