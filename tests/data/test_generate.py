"""Trace generation writes loadable splits; train.py reuses them only when they match."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import open_dict

from pregan.data.episodes import load_split, read_manifest
from pregan.data.generate import ensure_traces, generate_traces, traces_match


def test_generate_writes_splits_manifests_and_summary(tiny_cfg) -> None:
    with open_dict(tiny_cfg):
        tiny_cfg.simulation.n_intervals = 6
    root = Path(tiny_cfg.data.traces_dir)
    summary = generate_traces(tiny_cfg, root)
    for split in ("train", "val", "test"):
        seeds = list(tiny_cfg.data[f"{split}_seeds"])
        records = load_split(root / split)
        assert [r.seed for r in records] == seeds
        n_metrics = len(tiny_cfg.simulation.metrics)  # the episodes carry the configured metrics
        assert records[0].host_metrics.shape == (6, 4, n_metrics)
        assert records[0].metrics == tuple(tiny_cfg.simulation.metrics)
        assert read_manifest(root / split)["config"]["simulation"]["n_hosts"] == 4
    on_disk = json.loads((root / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert 0 <= on_disk["train"]["faulty_host_share"] <= 1


def test_ensure_traces_reuses_matching_and_regenerates_stale(tiny_cfg, tmp_path) -> None:
    with open_dict(tiny_cfg):
        tiny_cfg.simulation.n_intervals = 5
    shared = Path(tiny_cfg.data.traces_dir)
    generate_traces(tiny_cfg, shared)
    assert ensure_traces(tiny_cfg, tmp_path / "run")["train"] == shared / "train"

    with open_dict(tiny_cfg):
        tiny_cfg.faults.kinds.cpu_overload.rate = 0.5  # a changed config must not reuse
    assert not traces_match(tiny_cfg, shared)
    splits = ensure_traces(tiny_cfg, tmp_path / "run")
    assert splits["train"] == tmp_path / "run" / "traces" / "train"
    assert (
        read_manifest(splits["train"])["config"]["faults"]["kinds"]["cpu_overload"]["rate"] == 0.5
    )
