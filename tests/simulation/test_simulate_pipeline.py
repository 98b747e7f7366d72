"""The `simulate` stage writes loadable splits, manifests and a summary."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from omegaconf import open_dict
from pregan.data.episodes import load_split, read_manifest

SCRIPT = Path(__file__).resolve().parents[2] / "pipelines" / "simulate.py"


def test_simulate_stage_writes_splits(tiny_cfg) -> None:
    spec = importlib.util.spec_from_file_location("simulate_stage", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with open_dict(tiny_cfg):
        tiny_cfg.simulation.n_intervals = 6
    summary = module.simulate(tiny_cfg)
    root = Path(tiny_cfg.data.traces_dir)
    for split in ("train", "val", "test"):
        seeds = list(tiny_cfg.data[f"{split}_seeds"])
        records = load_split(root / split)
        assert [r.seed for r in records] == seeds
        assert records[0].host_metrics.shape == (6, 4, 4)
        manifest = read_manifest(root / split)
        assert manifest["config"]["simulation"]["n_hosts"] == 4
    on_disk = json.loads((root / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert 0 <= on_disk["train"]["faulty_host_share"] <= 1
