"""Ground-truth simulators: cohorts with known hazards, oracle risks and potential outcomes.

* :func:`simulate_crlm`: colorectal cancer liver metastasis after DMA-Net (clinical,
  three-phase CEUS video, serial EZH2/CD10, 12-month outcome), with oracle risks per modality
  subset and over time; :func:`oracle_metrics` scores those oracles on any split.
* :func:`simulate_nsclc`: early-stage NSCLC after MM-Care (CT nodule volume and mask,
  clinical, genomics with a gene graph, SBRT vs surgery with OS and local control under
  both arms).

Both write the cohort directory format (``docs/datasets.md``) plus a ``truth/`` folder.
"""

from __future__ import annotations

from oncofusion.utils.lazy import lazy_exports

_LAZY = {
    "SimulatedCohort": "writer",
    "write_cohort": "writer",
    "CRLMParams": "crlm",
    "simulate_crlm": "crlm",
    "oracle_metrics": "oracle_eval",
    "NSCLCParams": "nsclc",
    "simulate_nsclc": "nsclc",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
