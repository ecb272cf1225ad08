"""Genomics of the simulated NSCLC cohort: driver mutations, PD-L1 and 40 genes on a graph.

Columns: ``egfr``, ``kras``, ``tp53``, ``stk11`` (1 = mutated), ``pd_l1`` (tumour proportion
score, %), and 40 expression values (about unit variance, like z-scores) in six pathway modules (proliferation, immune, EMT,
hypoxia, NRF2, DNA repair). The interaction graph (``gene_graph.csv``) links genes of a
module densely, modules sparsely, and each mutation to the pathway it acts on.

Expression is driven by one activity per module, :math:`M_{ip}`, shared along the graph:

.. math::

    x_{ij} = (\\lambda_j M_{i,p(j)} + \\varepsilon_{ij}) / \\sqrt{1 + \\lambda_j^2},
    \\qquad \\lambda_j \\in [0.5, 0.8]

so one gene is a weak readout of its module (correlation about 0.5) while the mean over its
graph neighbourhood is a strong one: the risk effects act through the module activities,
i.e. they are smooth over the graph, which is the signal a graph convolution can use.
The network (genes, loadings, edges) is fixed, the same for every seed.

Module activities (standard normal noise :math:`\\nu`; :math:`g` the tumour aggressiveness):
proliferation :math:`0.6 g + 0.6\\,\\mathrm{TP53} + \\nu`; immune
:math:`-0.6\\,\\mathrm{STK11} - 0.4\\,\\mathrm{EGFR} + \\nu`; EMT :math:`0.4 g + \\nu`; hypoxia
:math:`0.4\\,\\text{solidity} + \\nu`; NRF2 :math:`0.9\\,\\mathrm{STK11} + 0.4\\,\\mathrm{KRAS} + \\nu`;
DNA repair :math:`\\nu` (no effect on outcome: a distractor).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = ["DRIVERS", "EXPRESSION_GENES", "MODULES", "gene_graph", "simulate_genomics"]

MODULES: dict[str, tuple[str, ...]] = {
    "proliferation": ("mki67", "top2a", "ccnb1", "cdk1", "aurka", "bub1", "plk1", "foxm1"),
    "immune": ("cd8a", "gzmb", "prf1", "ifng", "cxcl9", "cxcl10", "stat1", "ido1"),
    "emt": ("vim", "cdh2", "zeb1", "snai2", "twist1", "fn1", "col1a1"),
    "hypoxia": ("hif1a", "vegfa", "ca9", "slc2a1", "ldha", "pgk1"),
    "nrf2": ("nfe2l2", "nqo1", "gclm", "txnrd1", "akr1c1", "g6pd"),
    "dna_repair": ("ercc1", "brca1", "rrm1", "tyms", "xrcc1"),
}
DRIVERS: tuple[str, ...] = ("egfr", "kras", "tp53", "stk11", "pd_l1")
EXPRESSION_GENES: tuple[str, ...] = tuple(g for genes in MODULES.values() for g in genes)
_NETWORK_SEED = 8_002
_DRIVER_LINKS = {
    "tp53": ("proliferation", 3),
    "kras": ("nrf2", 2),
    "stk11": ("immune", 2),
    "egfr": ("immune", 2),
    "pd_l1": ("immune", 4),
}


@functools.lru_cache(maxsize=1)
def _network() -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(_NETWORK_SEED)
    loadings = rng.uniform(0.5, 0.8, len(EXPRESSION_GENES))
    edges: list[tuple[str, str]] = []
    for genes in MODULES.values():
        order = list(genes)
        edges += list(itertools.pairwise(order))  # a chain keeps the module connected
        for i in range(len(order)):
            for j in range(i + 2, len(order)):
                if rng.random() < 0.45:
                    edges.append((order[i], order[j]))
    names = list(MODULES)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            for ga in MODULES[names[a]]:
                for gb in MODULES[names[b]]:
                    if rng.random() < 0.012:
                        edges.append((ga, gb))
    for driver, (module, k) in _DRIVER_LINKS.items():
        for gene in rng.choice(MODULES[module], size=k, replace=False):
            edges.append((driver, str(gene)))
    edges += [("kras", "stk11"), ("stk11", "nfe2l2"), ("egfr", "kras")]
    return loadings, pd.DataFrame(edges, columns=["gene_a", "gene_b"])


def gene_graph() -> pd.DataFrame:
    """The fixed gene interaction graph: ``gene_a``, ``gene_b`` (undirected, one row per edge)."""
    return _network()[1].copy()


def simulate_genomics(
    rng: np.random.Generator,
    *,
    aggressiveness: np.ndarray,
    solidity: np.ndarray,
    never_smoker: np.ndarray,
    current_smoker: np.ndarray,
    female: np.ndarray,
    histology: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw mutations, PD-L1, module activities and expression for every patient.

    Returns
    -------
    genomics : pandas.DataFrame
        :data:`DRIVERS` then :data:`EXPRESSION_GENES` columns (no ``patient_id``).
    modules : pandas.DataFrame
        The module activities :math:`M_{ip}` (latent truth).
    """
    n = aggressiveness.shape[0]
    u = lambda: rng.random(n)
    adeno, squam = histology == "adenocarcinoma", histology == "squamous"
    egfr = u() < expit(-2.9 + 2.2 * never_smoker + 0.8 * female + 0.9 * adeno - 1.5 * squam)
    kras = ~egfr & (u() < expit(-1.5 + 0.6 * ~never_smoker + 0.6 * adeno - 1.5 * squam))
    tp53 = u() < expit(-0.45 + 0.8 * squam + 0.4 * current_smoker + 0.3 * aggressiveness)
    stk11 = ~egfr & (u() < 0.07 + 0.16 * kras)
    g = lambda: rng.standard_normal(n)
    mod = {
        "proliferation": 0.6 * aggressiveness + 0.6 * tp53 + g(),
        "immune": -0.6 * stk11 - 0.4 * egfr + g(),
        "emt": 0.4 * aggressiveness + g(),
        "hypoxia": 0.4 * solidity + g(),
        "nrf2": 0.9 * stk11 + 0.4 * kras + g(),
        "dna_repair": g(),
    }
    modules = pd.DataFrame(mod)
    immune = modules["immune"].to_numpy()
    negative = u() < expit(-0.6 - 0.8 * immune + 0.5 * egfr)
    tps = 100.0 * expit(-0.8 + 1.0 * immune + 0.5 * current_smoker - 0.5 * egfr + 1.2 * g())
    tps = np.where(negative, 0.0, np.round(np.maximum(tps, 1.0), 1))
    loadings, _ = _network()
    expr = {}
    j = 0
    for module, genes in MODULES.items():
        for gene in genes:
            x = loadings[j] * modules[module].to_numpy() + g()
            expr[gene] = np.round(x / np.sqrt(1.0 + loadings[j] ** 2), 3)
            j += 1
    genomics = pd.DataFrame(
        {"egfr": egfr.astype(np.int64), "kras": kras.astype(np.int64), "tp53": tp53.astype(np.int64),
         "stk11": stk11.astype(np.int64), "pd_l1": tps, **expr}
    )  # fmt: skip
    return genomics, modules
