"""DMA-Net (dmanet-cpu) training and inference speed on a simulated CRLM cohort.

    python -m benchmarks.dmanet_speed --cohort DIR   (a cohort from `oncofusion simulate crlm`)
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    from torch.utils.data import DataLoader

    from oncofusion.data import load_cohort
    from oncofusion.data.collate import collate_patients
    from oncofusion.data.dataset import PatientDataset
    from oncofusion.data.preprocess import TabularPreprocessor
    from oncofusion.models.config import load_config
    from oncofusion.models.network import MultimodalSurvivalNet
    from oncofusion.models.pipeline import input_sizes, make_discretizer, make_splits
    from oncofusion.train.objective import DiscreteTimeObjective

    p = argparse.ArgumentParser()
    p.add_argument("--cohort", required=True)
    p.add_argument("--config", default="dmanet-cpu")
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args()
    cohort = load_cohort(a.cohort, check_images=False)
    cfg = load_config(a.config)
    splits = make_splits(cohort, cfg)
    pre = TabularPreprocessor().fit(cohort, splits["train"], vocabulary_from_cohort=True)
    disc = make_discretizer(cohort, cfg, splits["train"])
    sizes = input_sizes(cohort, pre, cfg)
    torch.manual_seed(0)
    net = MultimodalSurvivalNet(cfg.network, sizes["input_sizes"], disc.n_intervals)
    ds = PatientDataset(cohort.subset(splits["train"]), pre, image_shape=tuple(cfg.data.image_shape), cache_size=1024)
    tr = cohort.subset(splits["train"]).patients
    obj = DiscreteTimeObjective(disc, cfg.loss, tr.time.values, tr.event.values)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.train.lr)
    loader = DataLoader(ds, batch_size=cfg.train.batch_size, shuffle=True, collate_fn=collate_patients)
    n_params = sum(p.numel() for p in net.parameters())
    for epoch in range(a.epochs):  # epoch 0 warms the image cache and the kernels
        t = time.perf_counter()
        for batch in loader:
            opt.zero_grad()
            obj(net(batch), batch)["loss"].backward()
            opt.step()
        dt = time.perf_counter() - t
        print(f"epoch {epoch}: {dt:.1f} s, {len(ds) / dt:.1f} patients/s (train, {len(ds)} patients)")
    net.eval()
    t = time.perf_counter()
    with torch.no_grad():
        for batch in DataLoader(ds, batch_size=64, collate_fn=collate_patients):
            net(batch)
    dt = time.perf_counter() - t
    print(f"inference: {len(ds) / dt:.1f} patients/s; parameters: {n_params}; threads: {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
