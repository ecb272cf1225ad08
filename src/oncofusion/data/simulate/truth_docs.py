"""The ``truth/README.md`` texts written with each simulated cohort."""

from __future__ import annotations

__all__ = ["CRLM_TRUTH_README", "NSCLC_TRUTH_README"]

CRLM_TRUTH_README = """\
# Ground truth of the simulated CRLM cohort

This folder is not part of the cohort format: `oncofusion.data.load_cohort` does not read
it. It holds what the simulator knows and a model can only estimate. Times are in months
from surgery; the outcome is liver metastasis within 12 months. The model and its
equations are described in `docs/datasets.md` ("Simulated cohorts") and in
`oncofusion.data.simulate.crlm`.

## latent.csv (one row per patient)

| column | meaning |
| --- | --- |
| `z_clinical` | standardised clinical risk score z (from the complete clinical values) |
| `w` | the part of the aggressiveness not explained by z, N(0, 1) |
| `aggressiveness` | D = rho z + sqrt(1 - rho^2) w |
| `u1`, `u2` | perfusion factors (kinetics, morphology): u_j = D + sigma_u e_j |
| `imaging_acquired` | 1 if the CEUS examination exists (`images=False` writes no videos but keeps this) |
| `eta` | log hazard ratio eta = beta0 + beta_c z + beta_D D |
| `event_time` | true metastasis time T (also when censored; may lie beyond 12) |
| `censoring_time` | loss-to-follow-up time C (administrative censoring is at 12) |
| `marker_onset_time` | T - delta: the serum markers start to rise here |
| `peak_enhancement` ... `margin_irregularity` | the perfusion parameters rendered into the video |

## hazard.csv

`h01` ... `h12`: the true conditional probability of metastasis in month k given none
before, h_k = 1 - exp(-(Lambda0(k) - Lambda0(k-1)) exp(eta)), for a patient whose latent
factors are all known (the best any model could do with perfect information).

## oracle_risk.csv

`<subset>_<tt>`: the oracle cumulative risk P(T <= tt months | information of the subset)
at baseline, tt = 01..12, subset one of

* `clinical`: the complete clinical values (through z);
* `imaging`: the perfusion factors u1, u2 (the population risk when no CEUS was acquired);
* `markers`: the observed preoperative EZH2/CD10 values (exact posterior, noise included);
* `all`: the three together, i.e. the best possible risk given baseline data.

Unobserved latent quantities are integrated out exactly or by quadrature on a grid.

## dynamic_risk.csv

`m00` ... `m12`: P(T <= 12 | T > m, clinical, imaging and every marker value measured at or
before month m), for patients still under follow-up at m (empty otherwise). `m00` equals
`all_12` of `oracle_risk.csv`; `m12` is 0.

## params.json

Every parameter of the simulation, the solved intercept `beta0` and the reference
constants of the clinical score.

Oracle metrics on any split: `oncofusion.data.simulate.oracle_metrics(cohort_dir,
patient_ids=None)` or `oncofusion simulate oracle-metrics DIR`.
"""

NSCLC_TRUTH_README = """\
# Ground truth of the simulated early-stage NSCLC cohort

This folder is not part of the cohort format: `oncofusion.data.load_cohort` does not read
it. Times are in months from treatment start. The model and its equations are described in
`docs/datasets.md` ("Simulated cohorts") and in `oncofusion.data.simulate.nsclc`.

## potential_outcomes.csv (one row per patient)

| column | meaning |
| --- | --- |
| `propensity_sbrt` | the true probability that the patient was treated with SBRT |
| `os_<arm>_<m>` | true P(alive at m months) under arm sbrt or surgery, m = 12, 36, 60 |
| `lc_<arm>_<m>` | true P(no local failure by m months) under the arm (net of death), m = 12, 36 |
| `score_<arm>` | os_weight * os_<arm>_36 + lc_weight * lc_<arm>_36 |
| `optimal_arm` | the arm with the higher score (MM-Care's recommendation rule, section 4.7) |

## latent.csv

The latent factors (nodule aggressiveness and solidity, gene module activities), the
nodule's rendered parameters, the linear predictors of OS and LC under both arms, and the
potential event times under both arms (drawn with common random numbers).

## params.json

Every parameter of the simulation, including the recommendation weights.
"""
