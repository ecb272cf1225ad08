"""The 35 clinical-pathological variables of the simulated CRLM cohort and their risk score.

Marginals follow Table 1 of DMA-Net (seed paper 000): age 60.4 +- 10.3 years, 58% male,
TNM stage I/II/III 18/36/46%, EMVI positive 31%, preoperative CEA > 5 ng/mL 42%, left/right
62/38%. The other variables take typical values for resected colorectal cancer. They are
tied together by a latent tumour aggressiveness :math:`a \\sim N(0, 1)` (stage, T and N
stage, EMVI, LVI, PNI, tumour deposits, CEA, CA19-9, inflammation markers) and by tumour
side (MSI, BRAF, anaemia).

CEA is simulated as a continuous value (ng/mL); the paper's "CEA > 5" flag is *not* a
column: it is computed in the analysis (``cea > 5``).

The clinical risk score is linear in the variables,

.. math:: s(x) = \\sum_j \\gamma_j f_j(x_j), \\qquad z = (s(x) - m) / s_d,

with the weights :data:`SCORE_WEIGHTS` and :math:`(m, s_d)` the mean and standard deviation
of :math:`s` in a large reference population, so :math:`z` has mean 0 and variance 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

__all__ = [
    "CATEGORICAL",
    "CONTINUOUS",
    "MISSING_RATES",
    "SCORE_WEIGHTS",
    "apply_missingness",
    "clinical_score",
    "generate_clinical",
]

CONTINUOUS: tuple[str, ...] = (
    "age", "bmi", "cea", "ca199", "tumour_size", "lymph_nodes_harvested", "positive_nodes",
    "albumin", "haemoglobin", "nlr", "plr", "crp", "ldh", "platelets",
)  # fmt: skip
CATEGORICAL: tuple[str, ...] = (
    "sex", "tnm_stage", "t_stage", "n_stage", "emvi", "side", "rectal", "grade", "histology",
    "lvi", "pni", "tumour_deposits", "kras", "nras", "braf", "msi", "asa", "ecog", "diabetes",
    "laparoscopic", "adjuvant_chemo",
)  # fmt: skip

#: log CEA ~ N(_CEA_MU, 1): P(CEA > 5 ng/mL) = 1 - Phi(log 5 - _CEA_MU) = 0.42
_CEA_MU = float(np.log(5.0) - norm.ppf(0.58))
_CA199_MU = float(np.log(13.0))

#: weights gamma_j of the clinical risk score s(x) (log-hazard scale, before standardising)
SCORE_WEIGHTS: dict[str, float] = {
    "stage_II": 0.05,
    "stage_III": 0.20,
    "n2": 0.15,
    "t4": 0.20,
    "emvi": 0.35,
    "log_cea": 0.85,  # per unit of log CEA (its SD is 1)
    "log_ca199": 0.35,  # per SD of log CA19-9
    "braf": 0.60,
    "kras": 0.12,
    "msi": -0.55,
    "lvi": 0.30,
    "pni": 0.15,
    "tumour_deposits": 0.40,
    "grade3": 0.15,
    "mucinous_or_signet": 0.15,
    "right": 0.50,
    "age_per_10y": 0.07,
    "male": 0.15,
    "adjuvant_chemo": -0.30,
    "log_nlr": 0.20,  # per SD of log NLR
    "albumin_per_5": -0.10,
}

#: probability that a value is missing (before the age-dependent MAR factor); age, sex,
#: side, stage, T/N stage, rectal, surgical approach and adjuvant chemotherapy are complete
MISSING_RATES: dict[str, float] = {
    "bmi": 0.04, "cea": 0.03, "ca199": 0.08, "tumour_size": 0.03,
    "lymph_nodes_harvested": 0.02, "positive_nodes": 0.01, "albumin": 0.05,
    "haemoglobin": 0.03, "nlr": 0.06, "plr": 0.08, "crp": 0.15, "ldh": 0.12,
    "platelets": 0.03, "emvi": 0.03, "grade": 0.05, "histology": 0.02, "lvi": 0.08,
    "pni": 0.10, "tumour_deposits": 0.10, "kras": 0.12, "nras": 0.15, "braf": 0.15,
    "msi": 0.12, "asa": 0.03, "ecog": 0.04, "diabetes": 0.02,
}  # fmt: skip


def _ordinal(latent: np.ndarray, probs: list[float]) -> np.ndarray:
    """Cut a standard-normal latent into categories 0..K-1 with the given marginal probabilities."""
    cuts = norm.ppf(np.cumsum(probs)[:-1])
    return np.searchsorted(cuts, latent).astype(np.int64)


def generate_clinical(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw ``n`` complete clinical records (no missing values yet).

    Parameters
    ----------
    n
        Number of patients.
    rng
        The random generator (consumed).

    Returns
    -------
    pandas.DataFrame
        The :data:`CONTINUOUS` and :data:`CATEGORICAL` columns in that order. Binary flags are
        0/1 integers; categories are strings (``"I"``, ``"T3"``, ``"mutant"``...).
    """
    u = lambda: rng.random(n)
    g = lambda: rng.standard_normal(n)
    age = np.clip(np.rint(rng.normal(60.4, 10.3, n)), 18, 85)
    male = u() < 0.58
    right = u() < 0.38
    rectal = ~right & (u() < 0.52)
    a = g()  # latent tumour aggressiveness
    stage = _ordinal(0.75 * a + np.sqrt(1 - 0.75**2) * g(), [0.18, 0.36, 0.46]) + 1
    # T stage within stage
    t_i = np.where(u() < 0.35, 1, 2)
    t_ii = np.where(u() < expit(-1.6 + 0.8 * a), 4, 3)
    t_iii = 1 + _ordinal(0.5 * a + np.sqrt(0.75) * g(), [0.04, 0.10, 0.64, 0.22])
    t_stage = np.select([stage == 1, stage == 2], [t_i, t_ii], t_iii)
    n_stage = np.where(stage == 3, np.where(u() < expit(-0.45 + 0.9 * a), 2, 1), 0)
    # molecular
    p_msi = np.where(right, 0.22, 0.05) * np.where(stage == 3, 0.6, 1.25)
    msi = u() < p_msi
    braf = u() < np.where(msi & right, 0.40, np.where(right, 0.10, 0.03))
    kras = ~braf & (u() < 0.43)
    nras = ~braf & ~kras & (u() < 0.05)
    # pathology
    emvi = u() < expit(-1.15 + 1.0 * a + 0.3 * (stage == 3))
    lvi = u() < expit(-1.35 + 0.8 * a + 0.8 * emvi)
    pni = u() < expit(-1.65 + 0.7 * a + 0.4 * lvi)
    deposits = u() < expit(-3.0 + 0.8 * a + 1.2 * (stage == 3))
    grade = 1 + _ordinal(0.45 * a + 0.9 * msi + 0.25 * right + 0.8 * g(), [0.10, 0.75, 0.15])
    p_muc = 0.06 + 0.14 * msi + 0.04 * right
    hist_u = u()
    histology = np.where(hist_u < 0.015, 2, np.where(hist_u < 0.015 + p_muc, 1, 0))
    pos = np.where(
        n_stage == 0, 0,
        np.where(n_stage == 1, 1 + rng.binomial(2, 0.4, n), 4 + rng.poisson(np.exp(0.9 + 0.3 * a))),
    )  # fmt: skip
    harvested = np.rint(rng.normal(18.0 - 3.0 * rectal + 1.5 * right, 6.0, n))
    harvested = np.clip(np.maximum(harvested, pos + 2), 3, 60)
    size_mu = np.log(np.array([1.0, 2.2, 3.0, 4.5, 5.6]))[t_stage]
    size = np.round(np.clip(np.exp(size_mu + 0.3 * g()), 0.5, 15.0), 1)
    # laboratory values
    log_cea = _CEA_MU + 0.35 * a + np.sqrt(1 - 0.35**2) * g()
    log_ca199 = _CA199_MU + 0.4 * a + 0.3 * (log_cea - _CEA_MU) + 0.85 * g()
    albumin = np.round(40.5 - 1.2 * a - 0.06 * (age - 60) + rng.normal(0, 3.8, n), 1)
    hb = np.rint(132 + 10 * male - 7 * right - 4 * a - 0.2 * (age - 60) + rng.normal(0, 14, n))
    log_nlr = np.log(2.4) + 0.2 * a + 0.45 * g()
    plr = np.round(np.exp(np.log(140) + 0.12 * a + 0.5 * (log_nlr - np.log(2.4)) + 0.3 * g()), 1)
    crp = np.round(np.exp(np.log(3.5) + 0.3 * a + 1.0 * g()), 1)
    ldh = np.rint(180 + 10 * a + rng.normal(0, 35, n)).clip(90, None)
    platelets = np.rint(250 + 15 * a + 10 * right + rng.normal(0, 60, n)).clip(80, None)
    bmi = np.round(np.clip(rng.normal(23.8, 3.4, n), 15, 45), 1)
    # patient condition and treatment
    asa = 1 + _ordinal(0.5 * (age - 60) / 10 + 0.3 * (bmi > 30) + 0.85 * g(), [0.25, 0.60, 0.15])
    ecog = _ordinal(0.4 * (age - 60) / 10 + 0.3 * a + 0.85 * g(), [0.60, 0.33, 0.07])
    diabetes = u() < expit(-2.1 + 0.04 * (age - 60) + 0.12 * (bmi - 24))
    lap = u() < expit(1.0 - 0.5 * (t_stage == 4) - 0.02 * (age - 60))
    high_risk = (t_stage == 4) | emvi | lvi | pni | (harvested < 12)
    p_chemo = np.select(
        [stage == 3, stage == 2], [0.88, np.where(msi, 0.05, 0.10 + 0.45 * high_risk)], 0.02
    ) * np.where(age > 75, 0.6, 1.0)
    chemo = u() < p_chemo
    return pd.DataFrame(
        {
            "age": age.astype(np.int64),
            "bmi": bmi,
            "cea": np.round(np.exp(log_cea), 2),
            "ca199": np.round(np.exp(log_ca199), 1),
            "tumour_size": size,
            "lymph_nodes_harvested": harvested.astype(np.int64),
            "positive_nodes": pos.astype(np.int64),
            "albumin": albumin,
            "haemoglobin": hb.astype(np.int64),
            "nlr": np.round(np.exp(log_nlr), 2),
            "plr": plr,
            "crp": crp,
            "ldh": ldh.astype(np.int64),
            "platelets": platelets.astype(np.int64),
            "sex": np.where(male, "male", "female"),
            "tnm_stage": np.array(["", "I", "II", "III"])[stage],
            "t_stage": np.array(["", "T1", "T2", "T3", "T4"])[t_stage],
            "n_stage": np.array(["N0", "N1", "N2"])[n_stage],
            "emvi": emvi.astype(np.int64),
            "side": np.where(right, "right", "left"),
            "rectal": rectal.astype(np.int64),
            "grade": np.array(["", "G1", "G2", "G3"])[grade],
            "histology": np.array(["adenocarcinoma", "mucinous", "signet_ring"])[histology],
            "lvi": lvi.astype(np.int64),
            "pni": pni.astype(np.int64),
            "tumour_deposits": deposits.astype(np.int64),
            "kras": np.where(kras, "mutant", "wild_type"),
            "nras": np.where(nras, "mutant", "wild_type"),
            "braf": np.where(braf, "mutant", "wild_type"),
            "msi": np.where(msi, "MSI-H", "MSS"),
            "asa": asa.astype(np.int64),
            "ecog": ecog.astype(np.int64),
            "diabetes": diabetes.astype(np.int64),
            "laparoscopic": lap.astype(np.int64),
            "adjuvant_chemo": chemo.astype(np.int64),
        }
    )


def clinical_score(df: pd.DataFrame) -> np.ndarray:
    """The unstandardised clinical risk score :math:`s(x)` of complete records.

    .. math::

        s(x) = \\sum_j \\gamma_j f_j(x_j)

    with :math:`f_j` the indicator or the scaled value named in :data:`SCORE_WEIGHTS`
    (log CEA as is, log CA19-9 and log NLR per standard deviation, age per 10 years,
    albumin per 5 g/L below 40).
    """
    w = SCORE_WEIGHTS
    stage = df["tnm_stage"].to_numpy()
    f = {
        "stage_II": stage == "II",
        "stage_III": stage == "III",
        "n2": df["n_stage"].to_numpy() == "N2",
        "t4": df["t_stage"].to_numpy() == "T4",
        "emvi": df["emvi"].to_numpy() == 1,
        "log_cea": np.log(df["cea"].to_numpy(np.float64)) - _CEA_MU,
        "log_ca199": (np.log(df["ca199"].to_numpy(np.float64)) - _CA199_MU - 0.3) / 1.05,
        "braf": df["braf"].to_numpy() == "mutant",
        "kras": df["kras"].to_numpy() == "mutant",
        "msi": df["msi"].to_numpy() == "MSI-H",
        "lvi": df["lvi"].to_numpy() == 1,
        "pni": df["pni"].to_numpy() == 1,
        "tumour_deposits": df["tumour_deposits"].to_numpy() == 1,
        "grade3": df["grade"].to_numpy() == "G3",
        "mucinous_or_signet": df["histology"].to_numpy() != "adenocarcinoma",
        "right": df["side"].to_numpy() == "right",
        "age_per_10y": (df["age"].to_numpy(np.float64) - 60.0) / 10.0,
        "male": df["sex"].to_numpy() == "male",
        "adjuvant_chemo": df["adjuvant_chemo"].to_numpy() == 1,
        "log_nlr": (np.log(df["nlr"].to_numpy(np.float64)) - np.log(2.4)) / 0.49,
        "albumin_per_5": (df["albumin"].to_numpy(np.float64) - 40.0) / 5.0,
    }
    return sum(w[k] * np.asarray(v, dtype=np.float64) for k, v in f.items())  # type: ignore[return-value]


def apply_missingness(
    df: pd.DataFrame, rng: np.random.Generator, *, scale: float = 1.0
) -> pd.DataFrame:
    """Blank values missing at random (MAR: older patients miss more, factor 0.6-1.4).

    .. math:: P(x_{ij}\\ \\text{missing}) = \\min(1, c \\, r_j \\, (0.6 + 0.8\\,\\Phi((age_i - 60)/10)))

    with :math:`r_j` from :data:`MISSING_RATES` and :math:`c` = ``scale`` (overall about 5% of
    all clinical values). Integer columns become pandas ``Int64`` so they stay integers.
    """
    out = df.copy()
    factor = 0.6 + 0.8 * norm.cdf((df["age"].to_numpy(np.float64) - 60.0) / 10.0)
    draws = rng.random((len(df), len(MISSING_RATES)))
    for j, (col, rate) in enumerate(MISSING_RATES.items()):
        miss = draws[:, j] < np.minimum(1.0, scale * rate * factor)
        if out[col].dtype.kind == "i":
            out[col] = out[col].astype("Int64")
        out[col] = out[col].mask(miss)
    for col in out.columns:
        if out[col].dtype.kind == "i":
            out[col] = out[col].astype("Int64")
    return out
