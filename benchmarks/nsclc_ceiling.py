"""What the observed inputs of the simulated NSCLC cohort allow: the observed-information oracle.

The true optimal arm of a patient is a function of latent quantities that no model sees in
full: genomics are unobserved for ~40% of patients and, for the rest, the pathway module
activities are seen through noisy expression; the CT shows the tumour's spiculation,
solidity and heterogeneity only through the image; a few clinical values are missing. This
script estimates, on a large simulated cohort, the best any model can do from what *is*
observed, i.e. the Bayes-optimal policy :math:`\\operatorname{sign} E[\\Delta U \\mid x]`
(value) or :math:`P(\\Delta U > 0 \\mid x) > 1/2` (agreement), with
:math:`\\Delta U = U_{sbrt} - U_{surgery}`, :math:`U = 0.7 P_{OS}(3y) + 0.3 P_{LC}(3y)`.

Estimator (fitted on ``--n-train`` simulated patients, scored on ``--n-test`` others):

1. the simulator's four linear predictors :math:`\\eta` (OS and LC under each arm, without
   intercepts) are regressed linearly on the observed features in the simulator's own
   transforms (log SUV, BMI < 20, current smoking, ...; pathway scores from the expression
   with the simulator's gene loadings; missing clinical values mean-imputed with missing
   flags), separately for patients with and without genomics; the residual covariance
   gives a Gaussian :math:`\\eta \\mid x`, and Monte Carlo over it gives
   :math:`E[\\Delta U \\mid x]`, :math:`P(\\Delta U > 0 \\mid x)` and :math:`E[P_{OS}(3y) \\mid x]`
   per arm (the simulator's formula marginalised over the unobserved part);
2. gradient boosting (scikit-learn ``HistGradientBoosting``) of the *true* :math:`\\Delta U`
   (regressor), of :math:`1[\\Delta U > 0]` (classifier) and of the true 3-year OS under
   each arm, on the observed features plus the step-1 summaries, corrects what the Gaussian
   approximation misses.

The recommendation of the classifier is the agreement ceiling, that of the regressor the
value ceiling; the OS C-index ceiling is Uno's C (truncated at 36 months) of
:math:`1 - \\hat E[P_{OS,a}(3y) \\mid x]` under the arm received. Information sets:
``clinical+genomics`` (the CT adds nothing beyond the clinical tumour size), ``+ CT (perfect
reading)`` (spiculation, solidity and heterogeneity exactly as rendered: an upper bound on
what a CT encoder can extract) and, as a check of the estimator, ``all latents`` (the
complete latent state; only missing clinical values are unknown, so it should be near 1).

The same fitted ceilings are scored on the 300 test patients of the MM-Care benchmark's
splits (``simulate_nsclc(2000, seed=0)``, 70/15/15 stratified by event and arm, seeds 0 1 2,
as in ``benchmarks/bench_mmcare.py``), next to two *structured* Cox models fitted on the
split's 1,400 training patients only, on the same transformed features (what a small,
correctly specified model reaches at the benchmark's sample size): a T-learner (per-arm Cox
models of OS and LC) and an S-learner (one Cox model per outcome, stratified by arm, with
ridge-penalised arm x feature interactions, the penalty chosen on the validation patients).

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.nsclc_ceiling --out bench-out/nsclc-ceiling

(defaults: ``--n-train 100000 --n-test 50000 --seeds 0 1 2``; about 10 minutes on a shared
2-core CPU). Results: ``OUT/results.json`` and ``OUT/results.md``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ETA = ("os_sbrt", "os_surgery", "lc_sbrt", "lc_surgery")
ARMS = ("sbrt", "surgery")
HORIZON = 36.0
NUMERIC = ("age", "pack_years", "fev1_pct", "dlco_pct", "charlson", "bmi", "tumour_size",
           "suv_max", "ecog", "central")  # fmt: skip
CT_LATENTS = ("spic_z", "solid_z", "het_z")
INFO_SETS = {
    "clinical+genomics": "none",
    "+ CT (perfect reading)": "ct",
    "all latents (estimator check)": "all",
}


def observed_features(cohort: Any, ct: str = "none") -> pd.DataFrame:
    """Observed features of every patient (NaN where unobserved), in the simulator's transforms.

    ``ct``: ``"none"`` (clinical + genomics), ``"ct"`` (plus the CT's imaging latents, a
    perfect reading of the image) or ``"all"`` (plus every latent variable of the truth).
    """
    from oncofusion.data.simulate.nsclc_genomics import MODULES, _network

    p = cohort.patients.set_index("patient_id")
    x = pd.DataFrame(index=p.index)
    for col in NUMERIC:
        x[col] = pd.to_numeric(p[col], errors="coerce").astype(float)
    x["log_suv"] = np.log(x["suv_max"] / 5.0)
    x["bmi_low"] = (x["bmi"] < 20).astype(float).where(x["bmi"].notna())
    x["female"] = (p["sex"] == "female").astype(float)
    x["current"] = (p["smoking_status"] == "current").astype(float)
    x["never"] = (p["smoking_status"] == "never").astype(float)
    x["squamous"] = (p["histology"] == "squamous").astype(float)
    x["other_histology"] = (p["histology"] == "other").astype(float)
    g = cohort.genomics.set_index("patient_id").reindex(p.index)
    x["genomics_observed"] = g.notna().all(axis=1).astype(float)
    for col in g.columns:
        x[f"g_{col}"] = g[col].astype(float)
    # the sufficient statistic of each module activity given its genes' expression
    loadings, j = _network()[0], 0
    for module, genes in MODULES.items():
        lam = loadings[j : j + len(genes)]
        j += len(genes)
        w = lam * np.sqrt(1.0 + lam**2) / (lam**2).sum()
        x[f"module_{module}"] = g[list(genes)].to_numpy() @ w
    lat = cohort.truth["latent"].set_index("patient_id").reindex(p.index)
    if ct in ("ct", "all"):
        for col in CT_LATENTS:
            x[col] = lat[col]
    if ct == "all":
        keep = [c for c in lat.columns[:20] if c not in CT_LATENTS]
        for col in keep:
            x[f"latent_{col}"] = lat[col].astype(float)
    return x


def utility_difference(eta: np.ndarray, intercepts: dict[str, float], params: Any) -> tuple:
    """:math:`\\Delta U` and the 3-year OS under each arm for linear predictors ``eta`` (..., 4)."""
    s = {}
    for i, k in enumerate(ETA):
        shape = params.os_shape if k.startswith("os") else params.lc_shape
        s[k] = np.exp(-(HORIZON**shape) * np.exp(intercepts[k] + eta[..., i]))
    d = params.os_weight * (s["os_sbrt"] - s["os_surgery"]) + params.lc_weight * (
        s["lc_sbrt"] - s["lc_surgery"]
    )
    return d, s["os_sbrt"], s["os_surgery"]


class GaussianPosterior:
    """:math:`\\eta \\mid x \\approx N(Bx, \\Sigma_g)`, one linear fit per genomics group g."""

    def __init__(self, intercepts: dict[str, float], params: Any, draws: int = 200) -> None:
        self.intercepts, self.params, self.draws = intercepts, params, draws

    def _design(self, x: pd.DataFrame) -> np.ndarray:
        z = x[self.columns].fillna(self.means)
        flags = x[self.flagged].isna().astype(float).to_numpy()
        return np.column_stack([z.to_numpy(float), flags])

    def fit(self, x: pd.DataFrame, eta: np.ndarray) -> GaussianPosterior:
        from sklearn.linear_model import LinearRegression

        self.columns = list(x.columns)
        self.means = x.mean()
        self.flagged = [c for c in self.columns if x[c].isna().any()]
        d = self._design(x)
        group = x["genomics_observed"].to_numpy() > 0
        self.models, self.chol = {}, {}
        for flag in (False, True):
            m = group == flag
            lr = LinearRegression().fit(d[m], eta[m])
            r = eta[m] - lr.predict(d[m])
            self.models[flag] = lr
            self.chol[flag] = np.linalg.cholesky(np.cov(r.T) + 1e-9 * np.eye(len(ETA)))
        return self

    def predict(self, x: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
        d = self._design(x)
        group = x["genomics_observed"].to_numpy() > 0
        z = np.random.default_rng(seed).standard_normal((self.draws, len(ETA)))
        cols = ["plugin_delta", "mean_delta", "p_sbrt_better", "os_sbrt_3y", "os_surgery_3y"]
        out = pd.DataFrame(0.0, index=x.index, columns=[f"eta_{e}" for e in ETA] + cols)
        for flag in (False, True):
            m = group == flag
            if not m.any():
                continue
            mu = self.models[flag].predict(d[m])
            out.loc[m, [f"eta_{e}" for e in ETA]] = mu
            out.loc[m, "plugin_delta"] = utility_difference(mu, self.intercepts, self.params)[0]
            delta, os_s, os_r = utility_difference(
                mu[:, None, :] + (z @ self.chol[flag].T)[None], self.intercepts, self.params
            )
            out.loc[m, "mean_delta"] = delta.mean(1)
            out.loc[m, "p_sbrt_better"] = (delta > 0).mean(1)
            out.loc[m, "os_sbrt_3y"] = os_s.mean(1)
            out.loc[m, "os_surgery_3y"] = os_r.mean(1)
        return out


def truth_arrays(cohort: Any, intercepts: dict[str, float]) -> dict[str, np.ndarray]:
    """True utilities (n, 2) in ``ARMS`` order, :math:`\\Delta U`, 3-year OS per arm, and
    :math:`\\eta` without intercepts (n, 4)."""
    ids = cohort.patients["patient_id"]
    po = cohort.truth["potential_outcomes"].set_index("patient_id").loc[ids]
    lat = cohort.truth["latent"].set_index("patient_id").loc[ids]
    u = po[[f"score_{a}" for a in ARMS]].to_numpy(float)
    return {
        "utility": u,
        "delta": u[:, 0] - u[:, 1],
        "os": po[[f"os_{a}_36" for a in ARMS]].to_numpy(float),
        "eta": np.column_stack([lat[f"eta_{e}"].to_numpy(float) - intercepts[e] for e in ETA]),
    }


class Ceiling:
    """Observed-information oracle for one information set (see the module docstring)."""

    def __init__(self, ct: str, seed: int = 0) -> None:
        self.ct, self.seed = ct, seed

    def fit(self, cohort: Any) -> Ceiling:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        from oncofusion.data.simulate.nsclc_outcomes import NSCLCParams

        params = NSCLCParams(**{k: v for k, v in cohort.params.items()
                                if k in NSCLCParams.__dataclass_fields__})  # fmt: skip
        icpt = cohort.params["intercepts"]
        t = truth_arrays(cohort, icpt)
        x = observed_features(cohort, self.ct)
        self.posterior = GaussianPosterior(icpt, params).fit(x, t["eta"])
        f = pd.concat([x, self.posterior.predict(x, seed=self.seed)], axis=1)
        kw: dict[str, Any] = {"max_iter": 1000, "learning_rate": 0.05, "max_leaf_nodes": 31,
                              "early_stopping": True, "validation_fraction": 0.1,
                              "n_iter_no_change": 30, "random_state": self.seed}  # fmt: skip
        self.value = HistGradientBoostingRegressor(**kw).fit(f, t["delta"])
        self.agree = HistGradientBoostingClassifier(**kw).fit(f, (t["delta"] > 0).astype(int))
        self.os = [HistGradientBoostingRegressor(**kw).fit(f, t["os"][:, j]) for j in range(2)]
        return self

    def predict(self, cohort: Any) -> pd.DataFrame:
        """Per patient: ``delta`` (E[ΔU|x]), ``p_sbrt_better``, ``os_sbrt_3y``, ``os_surgery_3y``
        and the Gaussian-posterior summaries (``gauss_*``)."""
        x = observed_features(cohort, self.ct)
        post = self.posterior.predict(x, seed=self.seed)
        f = pd.concat([x, post], axis=1)
        out = pd.DataFrame(index=x.index)
        out["delta"] = self.value.predict(f)
        out["p_sbrt_better"] = self.agree.predict_proba(f)[:, 1]
        for j, a in enumerate(ARMS):
            out[f"os_{a}_3y"] = np.clip(self.os[j].predict(f), 0.0, 1.0)
        out["gauss_delta"] = post["mean_delta"].to_numpy()
        out["gauss_p_sbrt_better"] = post["p_sbrt_better"].to_numpy()
        return out


def rows_of(arrays: dict[str, np.ndarray], cohort: Any, ids: list[str]) -> dict[str, np.ndarray]:
    """The rows of per-patient ``arrays`` (in ``cohort.patients`` order) for ``ids``."""
    pos = pd.Index(cohort.patients["patient_id"]).get_indexer(ids)
    return {k: v[pos] for k, v in arrays.items()}


def policy_scores(pick_sbrt: np.ndarray, truth: dict[str, np.ndarray]) -> dict[str, float]:
    """Agreement with the true optimal arm and the share of the oracle's true mean utility."""
    u = truth["utility"]
    chosen = np.where(pick_sbrt, u[:, 0], u[:, 1])
    return {
        "agreement": float((pick_sbrt == (truth["delta"] > 0)).mean()),
        "value_share": float(chosen.mean() / u.max(1).mean()),
    }


def uno_c(cohort: Any, ids: list[str], risk: np.ndarray, reference: pd.DataFrame) -> float:
    """Uno's C truncated at 36 months; censoring from ``reference`` (``time``, ``event``)."""
    from oncofusion.metrics import concordance_index_uno

    te = cohort.patients.set_index("patient_id").loc[ids]
    return float(
        concordance_index_uno(
            te["time"].to_numpy(float), te["event"].to_numpy(int), risk, tau=HORIZON,
            train_time=reference["time"].to_numpy(float),
            train_event=reference["event"].to_numpy(int),
        )
    )  # fmt: skip


def received_os(cohort: Any, ids: list[str], os_per_arm: np.ndarray) -> np.ndarray:
    """``os_per_arm`` (n, 2) in ``ARMS`` order -> the value under each patient's received arm."""
    arm = cohort.patients.set_index("patient_id").loc[ids, "arm"].to_numpy()
    return np.where(arm == ARMS[0], os_per_arm[:, 0], os_per_arm[:, 1])


def score_ceiling(
    cohort: Any, ids: list[str], reference: pd.DataFrame, pred: pd.DataFrame
) -> dict[str, float]:
    """Ceiling policies and OS C-index on ``ids`` (rows of ``pred``), with the oracle C-index;
    ``reference``: the patients (``time``, ``event``) whose censoring the C-index uses."""
    t = rows_of(truth_arrays(cohort, cohort.params["intercepts"]), cohort, ids)
    p = pred.loc[ids]
    row = {f"{k}": v for k, v in policy_scores(p["p_sbrt_better"].to_numpy() > 0.5, t).items()}
    value = policy_scores(p["delta"].to_numpy() > 0, t)
    row["agreement_value_policy"] = value["agreement"]
    row["value_share_value_policy"] = value["value_share"]
    gauss = policy_scores(p["gauss_p_sbrt_better"].to_numpy() > 0.5, t)
    row["agreement_gaussian_only"] = gauss["agreement"]
    est = p[[f"os_{a}_3y" for a in ARMS]].to_numpy()
    row["os_c_index"] = uno_c(cohort, ids, 1.0 - received_os(cohort, ids, est), reference)
    row["oracle_c_index"] = uno_c(cohort, ids, 1.0 - received_os(cohort, ids, t["os"]), reference)
    return row


def _structured_design(cohort: Any, train_ids: list[str]) -> pd.DataFrame:
    """Standardised observed features in the simulator's transforms (training-patient means
    impute missing clinical values, with flags; missing genomics are 0)."""
    x = observed_features(cohort, "none")
    x = x.drop(columns=["suv_max", "bmi", "pack_years"]
                       + [c for c in x if c.startswith("g_") and c[2:] not in
                          ("egfr", "kras", "tp53", "stk11")])  # fmt: skip
    means = x.loc[train_ids].mean()
    flags = [c for c in x if x[c].isna().any() and c != "genomics_observed"]
    z = pd.concat([x.fillna(means.where(~means.index.str.startswith(("g_", "module_")), 0.0)),
                   x[flags].isna().astype(float).add_prefix("na_")], axis=1)  # fmt: skip
    z = z.loc[:, z.loc[train_ids].std() > 0]
    return (z - z.loc[train_ids].mean()) / z.loc[train_ids].std()


def _with_interactions(z: pd.DataFrame, sbrt: pd.Series) -> pd.DataFrame:
    d = z.copy()
    d["arm_sbrt"] = sbrt.to_numpy(float)
    for c in z.columns:
        d[f"x_{c}"] = z[c].to_numpy() * (sbrt.to_numpy(float) - 0.5)
    return d


OUTCOMES = {"os": ("time", "event", HORIZON), "lc": ("lc_time", "lc_event", HORIZON - 1e-3)}
INTERACTION_PENALTIES = (0.01, 0.1, 0.3, 1.0, 3.0, 10.0)


def structured_cox(
    cohort: Any, splits: dict[str, list[str]], kind: str = "t", penalizer: float = 0.01
) -> dict[str, Any]:
    """Cox models of OS and LC on the transformed observed features, fitted on the training
    patients only; recommends with 0.7 P_OS(3y) + 0.3 P_LC(3y).

    ``kind="t"``: one model per arm (T-learner). ``kind="s"``: one model per outcome,
    stratified by arm, with arm x feature interactions whose ridge penalty is chosen from
    :data:`INTERACTION_PENALTIES` by the validation patients' log partial likelihood (OS +
    LC); the main effects get ``penalizer``. Returns agreement, value share and C-index on
    the test patients (and the chosen penalty).
    """
    from lifelines import CoxPHFitter

    tr, va, te = splits["train"], splits["val"], splits["test"]
    z = _structured_design(cohort, tr)
    pts = cohort.patients.set_index("patient_id")
    sbrt = (pts.loc[z.index, "arm"] == "sbrt").astype(float)

    def fit(d: pd.DataFrame, ids: list[str], outcome: str, pen: Any, strata: Any) -> Any:
        tc, ec, _ = OUTCOMES[outcome]
        df = d.loc[ids].assign(T=pts.loc[ids, tc].to_numpy(), E=pts.loc[ids, ec].to_numpy())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CoxPHFitter(penalizer=pen, strata=strata).fit(df, "T", "E")

    def survival(model: Any, d: pd.DataFrame, outcome: str) -> np.ndarray:
        t = OUTCOMES[outcome][2]
        return model.predict_survival_function(d.loc[te], times=[t]).T.iloc[:, 0].to_numpy()

    probs: dict[str, np.ndarray] = {}
    chosen = None
    if kind == "t":
        for a in ARMS:
            ids = [i for i in tr if pts.loc[i, "arm"] == a]
            for outcome in OUTCOMES:
                probs[f"{outcome}_{a}"] = survival(
                    fit(z, ids, outcome, penalizer, None), z, outcome
                )
    else:
        d = _with_interactions(z, sbrt)
        cols = [c for c in d.columns if c != "arm_sbrt"]

        def penalties(lam: float) -> np.ndarray:
            return np.array([lam if c.startswith("x_") else penalizer for c in cols])

        def val_ll(lam: float) -> float:
            total = 0.0
            for outcome, (tc, ec, _) in OUTCOMES.items():
                m = fit(d, tr, outcome, penalties(lam), ["arm_sbrt"])
                df = d.loc[va].assign(T=pts.loc[va, tc].to_numpy(), E=pts.loc[va, ec].to_numpy())
                total += float(m.score(df, scoring_method="log_likelihood"))
            return total

        chosen = max(INTERACTION_PENALTIES, key=val_ll)
        for outcome in OUTCOMES:
            m = fit(d, tr, outcome, penalties(chosen), ["arm_sbrt"])
            for a in ARMS:
                arm = pd.Series(float(a == "sbrt"), index=z.index)
                probs[f"{outcome}_{a}"] = survival(m, _with_interactions(z, arm), outcome)
    util = np.column_stack([0.7 * probs[f"os_{a}"] + 0.3 * probs[f"lc_{a}"] for a in ARMS])
    t_te = rows_of(truth_arrays(cohort, cohort.params["intercepts"]), cohort, te)
    row: dict[str, Any] = dict(policy_scores(util[:, 0] > util[:, 1], t_te))
    os_est = np.column_stack([probs[f"os_{a}"] for a in ARMS])
    row["os_c_index"] = uno_c(cohort, te, 1.0 - received_os(cohort, te, os_est), pts.loc[tr])
    if chosen is not None:
        row["interaction_penalty"] = chosen
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench-out/nsclc-ceiling"))
    ap.add_argument("--n-train", type=int, default=100_000)
    ap.add_argument("--n-test", type=int, default=50_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n", type=int, default=2000, help="the MM-Care benchmark's cohort size")
    args = ap.parse_args()

    from oncofusion.data.simulate import simulate_nsclc
    from oncofusion.models.mmcare_config import load_mmcare_config
    from oncofusion.models.pipeline import make_splits

    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    train = simulate_nsclc(args.n_train, 1001, images=False)
    held = simulate_nsclc(args.n_test, 1002, images=False)
    bench = simulate_nsclc(args.n, 0, images=False)  # the benchmark's cohort, without the CT
    held_ids = held.patients["patient_id"].tolist()
    splits = {s: make_splits(bench, load_mmcare_config("mmcare-cpu", {"train": {"seed": s}}))
              for s in args.seeds}  # fmt: skip
    results: dict[str, Any] = {"n_train": args.n_train, "n_test": args.n_test, "held_out": [],
                               "benchmark": [], "structured_cox": []}  # fmt: skip
    for label, ct in INFO_SETS.items():
        t0 = time.perf_counter()
        ceiling = Ceiling(ct).fit(train)
        row = score_ceiling(held, held_ids, train.patients, ceiling.predict(held))
        row.update(information=label, seconds=time.perf_counter() - t0)
        results["held_out"].append(row)
        print(json.dumps(row), flush=True)
        if ct == "all":
            continue
        pred = ceiling.predict(bench)
        for s, sp in splits.items():
            ref = bench.patients.set_index("patient_id").loc[sp["train"]]
            r = score_ceiling(bench, sp["test"], ref, pred)
            r.update(information=label, seed=s)
            results["benchmark"].append(r)
            print(json.dumps(r), flush=True)
    for kind in ("t", "s"):
        for s, sp in splits.items():
            r = structured_cox(bench, sp, kind) | {"seed": s, "kind": kind}
            results["structured_cox"].append(r)
            print(json.dumps(r), flush=True)
    results["seconds"] = time.perf_counter() - start
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    (args.out / "results.md").write_text(markdown(results))
    print(markdown(results))


def markdown(results: dict[str, Any]) -> str:
    """The tables of docs/benchmarks.md ("What the observed inputs allow")."""
    held = pd.DataFrame(results["held_out"])
    lines = [
        f"Held-out simulated patients (n = {results['n_test']:,}; fitted on {results['n_train']:,}):",
        "",
        (
            "| information | agreement (agreement policy) | agreement (value policy) | value share "
            "| OS C-index 3y | oracle C-index |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for _, r in held.iterrows():
        lines.append(
            f"| {r['information']} | {r['agreement']:.3f} | {r['agreement_value_policy']:.3f} | "
            f"{r['value_share_value_policy']:.3f} | {r['os_c_index']:.3f} | {r['oracle_c_index']:.3f} |"
        )
    bench = pd.DataFrame(results["benchmark"])
    if len(bench):
        lines += ["", "The MM-Care benchmark's test patients (300 per seed):", "",
                  "| information | seed | agreement | value share | OS C-index 3y | oracle C-index |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
        for label, grp in bench.groupby("information", sort=False):
            for _, r in grp.iterrows():
                lines.append(
                    f"| {label} | {r['seed']} | {r['agreement']:.3f} | "
                    f"{r['value_share_value_policy']:.3f} | {r['os_c_index']:.3f} | "
                    f"{r['oracle_c_index']:.3f} |"
                )
            m = grp.mean(numeric_only=True)
            lines.append(
                f"| {label} | mean | {m['agreement']:.3f} | {m['value_share_value_policy']:.3f} | "
                f"{m['os_c_index']:.3f} | {m['oracle_c_index']:.3f} |"
            )
    st = pd.DataFrame(results["structured_cox"])
    names = {"t": "Structured Cox T-learner", "s": "Structured Cox S-learner (penalised arm "
             "interactions, penalty chosen on the validation patients)"}  # fmt: skip
    for kind, grp in st.groupby("kind", sort=False) if len(st) else []:
        m = grp.mean(numeric_only=True)
        per = "; ".join(f"seed {int(r['seed'])}: {r['agreement']:.3f} / {r['value_share']:.3f} / "
                        f"{r['os_c_index']:.3f}" for _, r in grp.iterrows())  # fmt: skip
        lines += ["", (f"{names[kind]} on the 1,400 training patients (agreement / value share / "
                       f"C-index): mean {m['agreement']:.3f} / {m['value_share']:.3f} / "
                       f"{m['os_c_index']:.3f} ({per}).")]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
