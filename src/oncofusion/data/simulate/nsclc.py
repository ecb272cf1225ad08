"""Simulated early-stage NSCLC cohort after MM-Care (seed paper 002): SBRT vs surgery.

Patients have a fitness deficit :math:`f \\sim N(0, 1)` (drives age, FEV1, DLCO, Charlson
index, ECOG) and a tumour aggressiveness :math:`g \\sim N(0, 1)` (drives size, SUVmax and
the nodule's look). The CT nodule is rendered from three imaging latents,

.. math::

    s_z = 0.6 g + 0.8 \\varepsilon_1, \\quad c_z = 0.5 g + 0.87 \\varepsilon_2 + 0.4\\,\\text{squamous},
    \\quad h_z = 0.5 g + 0.87 \\varepsilon_3

as spiculation :math:`\\sigma(1.3 s_z - 0.3)`, consolidation-to-tumour ratio
:math:`\\sigma(1.1 + 1.4 c_z)` and heterogeneity :math:`\\sigma(1.2 h_z)`
(:mod:`.nsclc_ct`). Genomics (:mod:`.nsclc_genomics`) exist for every patient but are
observed for about 60% (72% after surgery, 45% after SBRT: tissue availability).
Treatment and potential outcomes: :mod:`.nsclc_outcomes`. Times are in months;
administrative censoring is uniform on 24-96 months (staggered accrual) plus exponential
loss to follow-up; local control is followed to 36 months and is censored by death.
"""

from __future__ import annotations

import functools
from dataclasses import asdict

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from oncofusion.data.simulate.nsclc_ct import NoduleParams, render_ct
from oncofusion.data.simulate.nsclc_genomics import (
    DRIVERS,
    EXPRESSION_GENES,
    gene_graph,
    simulate_genomics,
)
from oncofusion.data.simulate.nsclc_outcomes import (
    ARMS,
    NSCLCParams,
    linear_predictors,
    propensity_logit,
    solve_intercepts,
)
from oncofusion.data.simulate.truth_docs import NSCLC_TRUTH_README
from oncofusion.data.simulate.writer import SimulatedCohort
from oncofusion.errors import ConfigError

__all__ = ["NSCLCParams", "simulate_nsclc"]

CONTINUOUS = (
    "age",
    "pack_years",
    "fev1_pct",
    "dlco_pct",
    "charlson",
    "bmi",
    "tumour_size",
    "suv_max",
)
CATEGORICAL = ("sex", "smoking_status", "ecog", "t_stage", "histology", "central")
_MISSING = {
    "pack_years": 0.03,
    "fev1_pct": 0.02,
    "dlco_pct": 0.06,
    "bmi": 0.02,
    "suv_max": 0.10,
    "ecog": 0.01,
}
#: the variables in clinical words (``cohort.yaml`` ``labels:``), for reports
LABELS: dict[str, str] = {
    "age": "Age (years)",
    "pack_years": "Smoking (pack-years)",
    "fev1_pct": "FEV1 (% predicted)",
    "dlco_pct": "DLCO (% predicted)",
    "charlson": "Charlson comorbidity index",
    "bmi": "Body-mass index (kg/m2)",
    "tumour_size": "Tumour size (cm)",
    "suv_max": "SUVmax on PET",
    "sex": "Sex",
    "smoking_status": "Smoking status",
    "ecog": "ECOG performance status",
    "t_stage": "T stage",
    "histology": "Histology",
    "central": "Central tumour (1 = yes)",
    "egfr": "EGFR mutation",
    "kras": "KRAS mutation",
    "tp53": "TP53 mutation",
    "stk11": "STK11 mutation",
    "pd_l1": "PD-L1 expression (% of tumour cells)",
}
_STREAMS = ("clinical", "genomics", "treatment", "outcome", "missing", "images")
_REFERENCE_SEED = 20240612
_REFERENCE_N = 20_000


def _population(
    n: int, rng_clin: np.random.Generator, rng_gen: np.random.Generator
) -> pd.DataFrame:
    """Complete clinical values, imaging latents, mutations and module activities."""
    g_ = lambda: rng_clin.standard_normal(n)
    u_ = lambda: rng_clin.random(n)
    f, g = g_(), g_()
    age = np.clip(np.rint(69 + 3.0 * f + rng_clin.normal(0, 7.5, n)), 45, 90)
    female = u_() < 0.45
    never = u_() < expit(-2.2 + 1.2 * female)
    current = ~never & (u_() < expit(-0.6 - 0.04 * (age - 69)))
    py = np.where(never, 0.0, np.round(rng_clin.gamma(4.0, 10.0, n) + 10.0 * current))
    fev1 = np.rint(np.clip(84 - 9 * f - 0.2 * (py - 30) + rng_clin.normal(0, 13, n), 25, 130))
    dlco = np.rint(
        np.clip(
            76 - 7 * f - 0.15 * (py - 30) + 0.25 * (fev1 - 80) + rng_clin.normal(0, 11, n), 20, 130
        )
    )
    charlson = np.minimum(rng_clin.poisson(np.exp(0.25 + 0.45 * f + 0.02 * (age - 69))), 10)
    cuts = norm.ppf([0.5, 0.9])
    ecog = np.searchsorted(cuts, 0.6 * f + 0.02 * (age - 69) + 0.8 * g_())
    bmi = np.round(np.clip(rng_clin.normal(26.0, 4.5, n) - 0.8 * f, 15, 45), 1)
    size = np.round(np.clip(np.exp(np.log(2.2) + 0.22 * g + 0.3 * g_()), 0.6, 5.0), 1)
    t_stage = np.array(["T1a", "T1b", "T1c", "T2a", "T2b"])[
        np.searchsorted([1.0, 2.0, 3.0, 4.0], size, side="left")
    ]
    squam = u_() < expit(-1.8 + 0.025 * py + 0.4 * ~female)
    other = ~squam & (u_() < 0.08)
    histology = np.where(squam, "squamous", np.where(other, "other", "adenocarcinoma"))
    central = u_() < expit(-2.0 + 0.7 * squam)
    suv = np.round(
        np.exp(np.log(5.0) + 0.3 * g + 0.3 * squam + 0.25 * (size - 2.2) + 0.35 * g_()), 1
    )
    site = np.array(["site_a", "site_b", "site_c"])[np.searchsorted([0.45, 0.80], u_())]
    spic_z = 0.6 * g + 0.8 * g_()
    solid_z = 0.5 * g + 0.87 * g_() + 0.4 * squam
    het_z = 0.5 * g + 0.87 * g_()
    pop = pd.DataFrame(
        {
            "age": age.astype(np.int64), "pack_years": py, "fev1_pct": fev1, "dlco_pct": dlco,
            "charlson": charlson.astype(np.int64), "bmi": bmi, "tumour_size": size, "suv_max": suv,
            "sex": np.where(female, "female", "male"),
            "smoking_status": np.where(never, "never", np.where(current, "current", "former")),
            "ecog": ecog.astype(np.int64), "t_stage": t_stage, "histology": histology,
            "central": central.astype(np.int64), "site": site,
            "fitness_deficit": f, "aggressiveness": g, "spic_z": spic_z, "solid_z": solid_z, "het_z": het_z,
            "spiculation": expit(1.3 * spic_z - 0.3), "solid_ratio": expit(1.1 + 1.4 * solid_z),
            "heterogeneity": expit(1.2 * het_z),
        }
    )  # fmt: skip
    genomics, modules = simulate_genomics(
        rng_gen, aggressiveness=g, solidity=solid_z, never_smoker=never, current_smoker=current,
        female=female, histology=histology,
    )  # fmt: skip
    return pd.concat([pop, genomics, modules], axis=1)


@functools.lru_cache(maxsize=8)
def _intercepts(params: NSCLCParams) -> dict[str, float]:
    ss = np.random.SeedSequence(_REFERENCE_SEED)
    r1, r2 = (np.random.default_rng(s) for s in ss.spawn(2))
    return solve_intercepts(_population(_REFERENCE_N, r1, r2), params)


def _floor2(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.floor(np.asarray(x) * 100.0 + 1e-9) / 100.0, 0.01)


def simulate_nsclc(
    n: int = 2000,
    seed: int = 0,
    out: str | None = None,
    *,
    size: int = 32,
    images: bool = True,
    params: NSCLCParams | None = None,
    overwrite: bool = False,
) -> SimulatedCohort:
    """Simulate the early-stage NSCLC cohort (CT nodule + mask, clinical, genomics, SBRT vs surgery).

    Parameters
    ----------
    n
        Number of patients.
    seed
        The one seed every random draw derives from (same seed, same bytes).
    out
        Write the cohort directory here (optional).
    size
        CT patch size in voxels per side (64 mm field of view).
    images
        Render the CT patches; ``False`` drops ``imaging.csv`` (other tables and truth unchanged).
    params
        Model parameters (default :class:`NSCLCParams`); ``os_weight``/``lc_weight`` set the
        recommendation rule of the truth.
    overwrite
        Replace a non-empty ``out``.

    Returns
    -------
    SimulatedCohort
        Tables, truth (``potential_outcomes``, ``latent``) and a CT renderer.
    """
    if int(n) < 1:
        raise ConfigError(f"n must be a positive number of patients, got {n}.")
    if size < 8:
        raise ConfigError(f"size must be >= 8 voxels, got {size}.")
    p = params or NSCLCParams()
    icpt = _intercepts(p)
    ss = np.random.SeedSequence(seed)
    rng = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, ss.spawn(len(_STREAMS)))}
    pop = _population(n, rng["clinical"], rng["genomics"])

    e = expit(icpt["propensity"] + propensity_logit(pop))
    sbrt = rng["treatment"].random(n) < e
    has_gen = rng["treatment"].random(n) < np.where(sbrt, p.p_genomics_sbrt, p.p_genomics_surgery)
    has_ct = rng["treatment"].random(n) >= p.p_no_ct
    lp = {k: icpt[k] + v for k, v in linear_predictors(pop).items()}
    e_os, e_lc = rng["outcome"].exponential(size=n), rng["outcome"].exponential(size=n)
    t_pot = {
        f"os_time_{a}": (e_os * np.exp(-lp[f"os_{a}"])) ** (1.0 / p.os_shape) for a in ARMS
    } | {f"lc_time_{a}": (e_lc * np.exp(-lp[f"lc_{a}"])) ** (1.0 / p.lc_shape) for a in ARMS}
    cens = np.minimum(
        rng["outcome"].uniform(p.accrual_min, p.accrual_max, n),
        rng["outcome"].exponential(size=n) / p.ltfu_rate,
    )
    arm = np.where(sbrt, "sbrt", "surgery")
    t_os = np.where(sbrt, t_pot["os_time_sbrt"], t_pot["os_time_surgery"])
    t_lf = np.where(sbrt, t_pot["lc_time_sbrt"], t_pot["lc_time_surgery"])
    time = _floor2(np.minimum(t_os, cens))
    lc_end = np.minimum(np.minimum(t_os, cens), p.lc_horizon)
    lc_time = np.minimum(_floor2(np.minimum(t_lf, lc_end)), time)

    width = max(4, len(str(n)))
    ids = [f"NSCLC{i + 1:0{width}d}" for i in range(n)]
    clin = pop[list(CONTINUOUS) + list(CATEGORICAL)].copy()
    miss = rng["missing"].random((n, len(_MISSING)))
    for j, (col, rate) in enumerate(_MISSING.items()):
        if clin[col].dtype.kind == "i":
            clin[col] = clin[col].astype("Int64")
        clin[col] = clin[col].mask(miss[:, j] < rate)
    for col in clin.columns:
        if clin[col].dtype.kind == "i":
            clin[col] = clin[col].astype("Int64")
    patients = pd.concat(
        [
            pd.DataFrame({
                "patient_id": ids, "time": time, "event": (t_os <= cens).astype(np.int64), "arm": arm,
                "lc_time": lc_time, "lc_event": (t_lf <= lc_end).astype(np.int64),
            }),
            clin, pop[["site"]],
        ],
        axis=1,
    )  # fmt: skip
    genes = list(DRIVERS) + list(EXPRESSION_GENES)
    genomics = pop.loc[has_gen, genes].copy()
    genomics.insert(0, "patient_id", np.asarray(ids)[has_gen])

    truth = _truth(p, ids, pop, e, lp, t_pot, cens, has_gen)
    schema: dict = {
        "name": "nsclc_simulated",
        "time_unit": "months",
        "horizons": [12, 36, 60],
        "clinical": {"continuous": list(CONTINUOUS), "categorical": list(CATEGORICAL)},
        "genomics": genes,
        "arms": list(ARMS),
    }
    imaging = render = None
    if images:
        schema["imaging"] = "volume"
        ct_ids = [pid for pid, ok in zip(ids, has_ct) if ok]
        imaging = pd.DataFrame(
            {"patient_id": ct_ids, "path": [f"images/{i}_ct.npy" for i in ct_ids],
             "mask_path": [f"images/{i}_mask.npy" for i in ct_ids]}
        )  # fmt: skip
        render = _renderer(seed, ids, pop, size)
    schema["extra"] = ["site"]
    schema["labels"] = {**LABELS, **{g: f"{g.upper()} expression" for g in EXPRESSION_GENES}}
    schema["description"] = (
        f"Simulated early-stage NSCLC cohort after MM-Care (n={n}, seed={seed}): CT nodule patch "
        "and mask, clinical, genomics with a gene graph, SBRT vs surgery, overall survival and "
        "local control. Ground truth in truth/ (see truth/README.md)."
    )
    cohort = SimulatedCohort(
        name="nsclc_simulated", schema=schema, patients=patients, genomics=genomics.reset_index(drop=True),
        gene_graph=gene_graph(), imaging=imaging, truth=truth, truth_readme=NSCLC_TRUTH_README,
        params={**asdict(p), "cohort": "nsclc", "n": n, "seed": seed, "size": size, "images": images,
                "intercepts": icpt},
        render=render,
    )  # fmt: skip
    if out is not None:
        cohort.write(out, overwrite=overwrite)
    return cohort


def _renderer(seed: int, ids: list[str], pop: pd.DataFrame, size: int):
    index = {pid: i for i, pid in enumerate(ids)}
    stream = _STREAMS.index("images")
    cols = pop[["tumour_size", "spiculation", "solid_ratio", "heterogeneity"]].to_numpy(np.float64)

    def render(patient_id: str) -> dict[str, np.ndarray]:
        i = index[patient_id]
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, i)))
        d, s, c, h = cols[i]
        vol, mask = render_ct(NoduleParams(10.0 * d, s, c, h), rng, size=size)
        return {f"images/{patient_id}_ct.npy": vol, f"images/{patient_id}_mask.npy": mask}

    return render


def _truth(p, ids, pop, e, lp, t_pot, cens, has_gen) -> dict[str, pd.DataFrame]:
    po = pd.DataFrame({"patient_id": ids, "propensity_sbrt": e})
    for a in ARMS:
        for t in (12, 36, 60):
            po[f"os_{a}_{t}"] = np.exp(-(t**p.os_shape) * np.exp(lp[f"os_{a}"]))
    for a in ARMS:
        for t in (12, 36):
            po[f"lc_{a}_{t}"] = np.exp(-(t**p.lc_shape) * np.exp(lp[f"lc_{a}"]))
    for a in ARMS:
        po[f"score_{a}"] = p.os_weight * po[f"os_{a}_36"] + p.lc_weight * po[f"lc_{a}_36"]
    po["optimal_arm"] = np.where(po["score_sbrt"] > po["score_surgery"], "sbrt", "surgery")
    latent_cols = [
        "fitness_deficit", "aggressiveness", "spic_z", "solid_z", "het_z", "spiculation",
        "solid_ratio", "heterogeneity", "proliferation", "immune", "emt", "hypoxia", "nrf2",
        "dna_repair", "egfr", "kras", "tp53", "stk11", "pd_l1",
    ]  # fmt: skip
    latent = pop[latent_cols].copy()
    latent.insert(0, "patient_id", ids)
    latent["genomics_observed"] = has_gen.astype(np.int64)
    for k, v in lp.items():
        latent[f"eta_{k}"] = v
    for k, v in t_pot.items():
        latent[k] = v
    latent["censoring_time"] = cens
    return {"potential_outcomes": po, "latent": latent}
