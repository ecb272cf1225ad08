"""DMA-Net training and inference speed (and peak memory) on a simulated CRLM cohort.

    python -m benchmarks.dmanet_speed --cohort DIR                       (CPU, dmanet-cpu, fp32)
    python -m benchmarks.dmanet_speed --cohort DIR --device cuda --precision bf16 --config dmanet-gpu

``DIR`` is a cohort from ``oncofusion simulate crlm``. Epoch 0 warms the image cache and the
kernels; the epochs after it are timed. ``--precision`` runs the forward pass under
``torch.autocast`` (bf16, or fp16 with a gradient scaler), as Lightning's ``bf16-mixed`` /
``16-mixed`` do. Peak memory is the CUDA allocator's peak on a GPU and the process's peak
resident set size on the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import time

import torch

_DTYPES = {"32": None, "bf16": torch.bfloat16, "16": torch.float16}


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _profiler(device: torch.device) -> torch.profiler.profile:
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    prof = torch.profiler.profile(activities=activities)
    prof.start()
    return prof


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    from lightning.pytorch.utilities import move_data_to_device
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
    p.add_argument("--epochs", type=int, default=2, help="epochs in all; the first is not timed")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--precision", choices=sorted(_DTYPES), default="32")
    p.add_argument("--batch-size", type=int, default=None, help="default: the config's train.batch_size")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--profile", action="store_true", help="print the operators that took the most time in the last epoch")
    a = p.parse_args()
    device = torch.device(a.device)
    dtype = _DTYPES[a.precision]
    cohort = load_cohort(a.cohort, check_images=False)
    cfg = load_config(a.config)
    batch_size = a.batch_size or cfg.train.batch_size
    splits = make_splits(cohort, cfg)
    pre = TabularPreprocessor().fit(cohort, splits["train"], vocabulary_from_cohort=True)
    disc = make_discretizer(cohort, cfg, splits["train"])
    sizes = input_sizes(cohort, pre, cfg)
    torch.manual_seed(0)
    net = MultimodalSurvivalNet(cfg.network, sizes["input_sizes"], disc.n_intervals).to(device)
    ds = PatientDataset(cohort.subset(splits["train"]), pre, image_shape=tuple(cfg.data.image_shape), cache_size=4096)
    tr = cohort.subset(splits["train"]).patients
    obj = DiscreteTimeObjective(disc, cfg.loss, tr.time.values, tr.event.values)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.train.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype is not None else contextlib.nullcontext
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, collate_fn=collate_patients,
                        num_workers=a.workers, persistent_workers=a.workers > 0)
    n_params = sum(p.numel() for p in net.parameters())
    print(f"config {a.config}, image {tuple(cfg.data.image_shape)}, batch {batch_size}, device {device} "
          f"({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), precision {a.precision}, "
          f"threads {torch.get_num_threads()}, parameters {n_params:,}")
    timed = []
    for epoch in range(a.epochs):
        net.train()
        profiler = _profiler(device) if a.profile and epoch == a.epochs - 1 else contextlib.nullcontext()
        _sync(device)
        t = time.perf_counter()
        for batch in loader:
            batch = move_data_to_device(batch, device)
            opt.zero_grad(set_to_none=True)
            with autocast():
                out = net(batch)
            loss = obj(out, batch)["loss"]  # the objective computes in float32
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if isinstance(profiler, torch.profiler.profile):
                profiler.step()
        _sync(device)
        dt = time.perf_counter() - t
        if isinstance(profiler, torch.profiler.profile):
            profiler.stop()
            key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
            print(profiler.key_averages().table(sort_by=key, row_limit=20))
            print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
        if epoch > 0 or a.epochs == 1:
            timed.append(dt)
        print(f"epoch {epoch}: {dt:.2f} s, {len(ds) / dt:.1f} patients/s (train, {len(ds)} patients)")
    net.eval()
    infer = DataLoader(ds, batch_size=64, collate_fn=collate_patients, num_workers=a.workers,
                       persistent_workers=a.workers > 0)
    for _ in range(2):  # the first pass fills the workers' image caches; the second is timed
        _sync(device)
        t = time.perf_counter()
        with torch.no_grad(), autocast():
            for batch in infer:
                net(move_data_to_device(batch, device))
        _sync(device)
        dt = time.perf_counter() - t
    per_epoch = sum(timed) / len(timed)
    print(f"train: {per_epoch:.2f} s/epoch, {len(ds) / per_epoch:.1f} patients/s; inference: "
          f"{len(ds) / dt:.1f} patients/s; peak memory {_peak_memory_mb(device):,.0f} MiB "
          f"({'CUDA allocator' if device.type == 'cuda' else 'process RSS'})")


if __name__ == "__main__":
    main()
