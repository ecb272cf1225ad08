"""SHAP values of the clinical and genomic variables, other modalities held fixed.

For a patient :math:`x` and the explained scalar :math:`f` (a
:class:`~oncofusion.explain.targets.Target` of the network output), the SHAP value of
variable :math:`i` among the :math:`M` variables :math:`\\mathcal F` is the Shapley value
(Lundberg & Lee 2017, eq. 8; MM-Care eq. 21)

.. math:: \\phi_i = \\sum_{S \\subseteq \\mathcal F \\setminus \\{i\\}}
          \\frac{|S|!\\,(M - |S| - 1)!}{M!}\\,\\big(v(S \\cup \\{i\\}) - v(S)\\big), \\qquad
          v(S) = \\frac{1}{N} \\sum_{n=1}^{N} f\\big(x_S, b^{(n)}_{\\bar S}\\big),

with the interventional value :math:`v` averaging over a background of :math:`N` training
patients :math:`b^{(n)}`. It is computed by ``shap.KernelExplainer`` (Kernel SHAP, exact
when every coalition is enumerated: :math:`M \\le 11` with ``nsamples="auto"``), and is
additive: :math:`\\sum_i \\phi_i = f(x) - \\phi_0` with :math:`\\phi_0 = v(\\emptyset)`.

* A variable is an original column: the one-hot columns ``stage=I``, ``stage=II``, ...
  of a categorical variable (names ``col=level`` from
  ``TabularPreprocessor.clinical_feature_names``) move together, as one player.
* Missing values are respected: a value that was missing (``clinical_missing``) is the
  training imputation, exactly what the model saw, and the background rows carry their
  own imputed values and missing flags, which move with their variable. A background
  patient without genomics has 0 genes (the training mean, the preprocessor's
  imputation); one without any clinical value is left out of the background.
* Imaging, biomarkers (and any modality not explained) stay at the patient's own values;
  their encoder outputs are computed once. A patient without a modality gets
  :math:`\\phi = 0` for its variables (the network does not read them).

Reference: Lundberg SM, Lee S-I. A unified approach to interpreting model predictions.
NeurIPS 2017.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from oncofusion.errors import ConfigError
from oncofusion.explain._batch import batch_size, evaluating, patient_ids, repeat_rows, select_rows
from oncofusion.explain._features import (
    display_value,
    feature_groups,
    local_columns,
    resolve_names,
)
from oncofusion.explain.targets import AnyTarget

__all__ = ["ShapResult", "feature_groups", "shap_attributions", "shap_attributions_many"]

_EXPLAINABLE = ("clinical", "genomics")


@dataclass
class ShapResult:
    """SHAP values per patient and original variable.

    Attributes
    ----------
    values
        (patients x variables) DataFrame of :math:`\\phi_i`, indexed by ``patient_id``.
    base_values
        Per patient :math:`\\phi_0`: the mean target over the background (with the
        patient's own other modalities).
    predictions
        Per patient :math:`f(x)`.
    features
        (patients x variables) display values: the level of a categorical variable, the
        number of a continuous one (raw units when a preprocessor was given, else z-score).
    missing
        (patients x variables) bool: the value was missing and imputed (or the modality
        is absent).
    modality
        Variable -> ``"clinical"`` or ``"genomics"``.
    target
        What was explained.
    """

    values: pd.DataFrame
    base_values: pd.Series
    predictions: pd.Series
    features: pd.DataFrame
    missing: pd.DataFrame
    modality: dict[str, str]
    target: AnyTarget

    @property
    def additivity_error(self) -> pd.Series:
        """:math:`|\\sum_i \\phi_i + \\phi_0 - f(x)|` per patient (0 up to round-off)."""
        return (self.values.sum(axis=1) + self.base_values - self.predictions).abs()

    def table(self, patient_id: str) -> pd.DataFrame:
        """One patient's variables sorted by :math:`|\\phi|`: ``variable``, ``modality``,
        ``value``, ``missing``, ``shap``, ``rank`` (1 = largest magnitude)."""
        pid = str(patient_id)
        if pid not in self.values.index:
            raise ConfigError(
                f"patient '{pid}' is not in this SHAP result ({list(self.values.index)[:5]}...)."
            )
        df = pd.DataFrame(
            {
                "variable": self.values.columns,
                "modality": [self.modality[v] for v in self.values.columns],
                "value": self.features.loc[pid].to_numpy(),
                "missing": self.missing.loc[pid].to_numpy(dtype=bool),
                "shap": self.values.loc[pid].to_numpy(dtype=float),
            }
        )
        df = df.iloc[np.argsort(-df["shap"].abs().to_numpy(), kind="stable")].reset_index(drop=True)
        df["rank"] = np.arange(1, len(df) + 1)
        return df

    def mean_abs(self) -> pd.Series:
        """Mean :math:`|\\phi_i|` over the patients per variable, largest first (MM-Care Table 8)."""
        return self.values.abs().mean(axis=0).sort_values(ascending=False)


class _FixedModalities:
    """``f(clinical, clinical_missing, genomics) -> targets (n, T)`` for one patient, other
    modalities fixed.

    Shortcut: when the network has ``encoders``, ``fusion``, ``head`` and ``modalities``, the
    fixed modalities (the CT above all) are encoded once. A network that combines several
    such networks (an ensemble) declares them as ``mixture_parts`` and combines their head
    outputs with ``mix_outputs(list of outputs)``; each part then gets the shortcut."""

    def __init__(
        self, network: Any, row: dict[str, Any], targets: Sequence[AnyTarget], chunk: int
    ) -> None:
        self.network, self.row, self.targets, self.chunk = network, row, list(targets), int(chunk)
        self.fast = False
        self.parts = list(getattr(network, "mixture_parts", None) or [network])
        self.mix = getattr(network, "mix_outputs", None) or (lambda outs: outs[0])
        needed = ("encoders", "fusion", "head", "modalities")
        if all(getattr(p, a, None) is not None for p in self.parts for a in needed):
            self.features = [
                {m: p.encoders[m].forward_batch(row) for m in p.modalities if m not in _EXPLAINABLE}
                for p in self.parts
            ]
            own = self._fast(row["clinical"], row["clinical_missing"], row["genomics"])
            full = self._read(network(row))
            self.fast = bool(torch.allclose(own, full, atol=1e-5, rtol=1e-4))
            if not self.fast:
                warnings.warn(
                    "SHAP: the cached-encoder shortcut does not reproduce network(batch); "
                    "falling back to full forward passes (slower).",
                    RuntimeWarning,
                    stacklevel=3,
                )

    def _fast(
        self, clinical: torch.Tensor, missing: torch.Tensor, genomics: torch.Tensor
    ) -> torch.Tensor:
        n = clinical.shape[0]
        mask = {m: v.expand(n) for m, v in self.row["modality_mask"].items()}
        sub = {
            "clinical": clinical,
            "clinical_missing": missing,
            "genomics": genomics,
            "modality_mask": mask,
        }
        outs = []
        for net, fixed in zip(self.parts, self.features, strict=True):
            feats = {}
            for m in net.modalities:
                if m in fixed:
                    feats[m] = {
                        k: (v.expand(n, *v.shape[1:]) if torch.is_tensor(v) and v.dim() >= 1 else v)
                        for k, v in fixed[m].items()
                    }
                else:
                    feats[m] = net.encoders[m].forward_batch(sub)
            own_mask = {m: mask[m] for m in net.modalities}
            fuse = getattr(net, "fuse", None)
            fused = fuse(feats, own_mask, sub) if fuse is not None else net.fusion(feats, own_mask)
            outs.append(dict(net.head(fused)))
        return self._read(self.mix(outs))

    def _read(self, output: Mapping[str, Any]) -> torch.Tensor:
        return torch.stack([t(output) for t in self.targets], dim=-1)

    def __call__(
        self, clinical: torch.Tensor, missing: torch.Tensor, genomics: torch.Tensor
    ) -> torch.Tensor:
        outs = []
        for s in range(0, clinical.shape[0], self.chunk):
            c, mi, g = (
                clinical[s : s + self.chunk],
                missing[s : s + self.chunk],
                genomics[s : s + self.chunk],
            )
            if self.fast:
                outs.append(self._fast(c, mi, g))
            else:
                rep = repeat_rows(self.row, 0, c.shape[0])
                outs.append(
                    self._read(
                        self.network({**rep, "clinical": c, "clinical_missing": mi, "genomics": g})
                    )
                )
        return torch.cat(outs)


def shap_attributions(
    network: nn.Module,
    batch: Mapping[str, Any],
    target: AnyTarget,
    *,
    background: Mapping[str, Any],
    feature_names: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    modalities: Sequence[str] = _EXPLAINABLE,
    preprocessor: Any = None,
    nsamples: int | str = "auto",
    max_background: int = 50,
    seed: int = 0,
    chunk: int = 4096,
) -> ShapResult:
    """Kernel SHAP values of the clinical (and genomic) variables of every patient of ``batch``.

    Parameters
    ----------
    network
        The fitted network (run in evaluation mode, without gradients).
    batch
        Collated batch of the patients to explain (one or a cohort).
    target
        The explained scalar (a :class:`Target` or a
        :class:`~oncofusion.explain.targets.DecisionTarget`).
    background
        Collated batch of training patients (the reference distribution); at most
        ``max_background`` of them are used (a seeded random subset).
    feature_names
        ``{"clinical": [...], "genomics": [...]}`` or the clinical names alone; default
        from ``preprocessor`` (``clinical_feature_names``, ``genomic_names``).
    modalities
        Which of ``clinical``/``genomics`` to explain (those the network uses).
    preprocessor
        Optional fitted ``TabularPreprocessor``: names, and display values in raw units.
    nsamples
        Coalitions per patient for ``KernelExplainer`` (``"auto"``: all when M <= 11).
    max_background, seed
        Background size cap and the seed of the subset and of Kernel SHAP's sampling.
    chunk
        Rows per forward pass.

    Returns
    -------
    ShapResult
    """
    return shap_attributions_many(
        network,
        batch,
        {"target": target},
        background=background,
        feature_names=feature_names,
        modalities=modalities,
        preprocessor=preprocessor,
        nsamples=nsamples,
        max_background=max_background,
        seed=seed,
        chunk=chunk,
    )["target"]


def shap_attributions_many(
    network: nn.Module,
    batch: Mapping[str, Any],
    targets: Mapping[str, AnyTarget],
    *,
    background: Mapping[str, Any],
    feature_names: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    modalities: Sequence[str] = _EXPLAINABLE,
    preprocessor: Any = None,
    nsamples: int | str = "auto",
    max_background: int = 50,
    seed: int = 0,
    chunk: int = 4096,
) -> dict[str, ShapResult]:
    """:func:`shap_attributions` of several targets at once, keyed like ``targets``.

    Every target is read off the same forward passes of the same coalitions (Kernel SHAP of
    a vector-valued model: one weighted regression per output), so explaining, e.g., the
    benefit of a treatment and :math:`P_{OS}` under each arm costs about as much as one
    target. Each result is what :func:`shap_attributions` gives for that target alone with
    the same coalitions; in particular each is additive on its own.
    """
    with warnings.catch_warnings():  # shap's import trips matplotlib deprecations
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap  # lazy: heavy optional dependency
        from shap.utils._legacy import DenseData  # grouped features for KernelExplainer

    keys = list(targets)
    if not keys:
        raise ConfigError("no target to explain: pass at least one.")
    wanted = [targets[k] for k in keys]
    used = [
        m
        for m in modalities
        if m in _EXPLAINABLE and m in getattr(network, "modalities", _EXPLAINABLE)
    ]
    if not used:
        raise ConfigError(
            f"nothing to explain: modalities {list(modalities)} are not among the network's "
            f"{getattr(network, 'modalities', None)} (SHAP explains clinical and genomics)."
        )
    n_clin, n_gen = int(batch["clinical"].shape[1]), int(batch["genomics"].shape[1])
    names = resolve_names(feature_names, preprocessor, n_clin, n_gen)
    stats = preprocessor.to_dict() if preprocessor is not None else {}
    # data matrix columns: [clinical values | clinical missing flags | genes]
    variables, groups, var_mod = [], [], {}
    if "clinical" in used:
        cv, cg = feature_groups(names["clinical"])
        for v, g in zip(cv, cg, strict=True):
            variables.append(v)
            groups.append(np.array(g + [n_clin + j for j in g]))
            var_mod[v] = "clinical"
    if "genomics" in used:
        for j, v in enumerate(names["genomics"]):
            if v in var_mod:
                raise ConfigError(
                    f"gene '{v}' has the name of a clinical variable; rename one of them."
                )
            variables.append(v)
            groups.append(np.array([2 * n_clin + j]))
            var_mod[v] = "genomics"

    def matrix(b: Mapping[str, Any]) -> np.ndarray:
        return np.hstack(
            [
                b["clinical"].numpy(),
                b["clinical_missing"].numpy().astype(float),
                b["genomics"].numpy(),
            ]
        ).astype(np.float64)

    bg_ok = torch.as_tensor(background["modality_mask"]["clinical"]).bool().reshape(-1)
    if "clinical" not in used:
        bg_ok = torch.ones_like(bg_ok)
    rows = np.flatnonzero(bg_ok.numpy())
    if rows.size == 0:
        raise ConfigError(
            "the SHAP background has no patient with clinical data; pass training patients."
        )
    rng = np.random.default_rng(seed)
    if rows.size > max_background:
        rows = np.sort(rng.choice(rows, size=int(max_background), replace=False))
    bg = matrix(select_rows(background, rows.tolist()))
    local = [local_columns(g, var_mod[v], n_clin) for v, g in zip(variables, groups, strict=True)]
    # the explainer sees only the explained columns; the others stay at the patient's values
    cols = np.sort(np.concatenate(groups))
    where = {int(c): p for p, c in enumerate(cols)}
    players = [np.array([where[int(c)] for c in g]) for g in groups]

    ids = patient_ids(batch)
    n_t = len(keys)
    phi = np.zeros((n_t, len(ids), len(variables)))
    base, pred = np.zeros((n_t, len(ids))), np.zeros((n_t, len(ids)))
    shown: list[list[Any]] = []
    miss = np.zeros((len(ids), len(variables)), dtype=bool)
    state = np.random.get_state()
    try:
        with evaluating(network), torch.no_grad():
            for i in range(batch_size(batch)):
                row = select_rows(batch, [i])
                x = matrix(row)
                present = {m: bool(row["modality_mask"][m][0]) for m in _EXPLAINABLE}
                bg_i = bg.copy()
                shown_i: list[Any] = []
                for k, v in enumerate(variables):
                    mod = var_mod[v]
                    if not present[mod]:
                        # the network does not read an absent modality: its variables keep the
                        # patient's own placeholder values in every coalition, hence phi = 0
                        bg_i[:, groups[k]] = x[0, groups[k]]
                        miss[i, k] = True
                        shown_i.append(None)
                        continue
                    miss[i, k] = mod == "clinical" and bool(x[0, n_clin + local[k][0]] > 0.5)
                    shown_i.append(
                        display_value(
                            x[0] if mod == "clinical" else x[0, 2 * n_clin :],
                            names[mod],
                            local[k],
                            mod,
                            stats,
                        )
                    )
                shown.append(shown_i)
                f = _FixedModalities(network, row, wanted, chunk)

                def model(
                    z: np.ndarray, f: Callable[..., torch.Tensor] = f, x: np.ndarray = x
                ) -> np.ndarray:
                    full = np.repeat(x, len(z), axis=0)
                    full[:, cols] = z
                    t = torch.as_tensor(full, dtype=torch.float32)
                    y = f(t[:, :n_clin], t[:, n_clin : 2 * n_clin] > 0.5, t[:, 2 * n_clin :])
                    out: np.ndarray = y.double().numpy()
                    return out[:, 0] if n_t == 1 else out  # one target: a 1-D model, as before

                # seeded per patient id, so a patient's values do not depend on the batch
                np.random.seed((seed + zlib.crc32(ids[i].encode())) % 2**32)
                explainer = shap.KernelExplainer(
                    model, DenseData(bg_i[:, cols], variables, players)
                )
                values = explainer.shap_values(
                    x[:, cols], nsamples=nsamples, l1_reg=False, silent=True
                )
                values = np.asarray(values, dtype=float).reshape(len(variables), -1)
                expected = np.asarray(explainer.expected_value, dtype=float).reshape(-1)
                own = np.asarray(model(x[:, cols]), dtype=float).reshape(-1)
                for j in range(n_t):
                    phi[j, i] = values[:, j]
                    base[j, i] = float(expected[j])
                    pred[j, i] = float(own[j])
    finally:
        np.random.set_state(state)
    index = pd.Index(ids, name="patient_id")
    features = pd.DataFrame(shown, index=index, columns=variables, dtype=object)
    missing = pd.DataFrame(miss, index=index, columns=variables)
    return {
        key: ShapResult(
            values=pd.DataFrame(phi[j], index=index, columns=variables),
            base_values=pd.Series(base[j], index=index, name="base_value"),
            predictions=pd.Series(pred[j], index=index, name="prediction"),
            features=features.copy(),
            missing=missing.copy(),
            modality=dict(var_mod),
            target=targets[key],
        )
        for j, key in enumerate(keys)
    }
