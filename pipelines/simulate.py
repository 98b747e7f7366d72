"""Generate the seeded train/val/test episodes (the `simulate` DVC stage).

    python pipelines/simulate.py                                  # defaults, data/traces/
    python pipelines/simulate.py simulation.n_hosts=4 data.traces_dir=/tmp/x

Each split folder gets one episode file per seed (pregan.data.episodes format) and a
manifest with the resolved simulation/workload/faults config; the episodes run the
configured scheduler with no recovery. `summary.json` beside the splits holds fault rates
and QoS means, for `dvc metrics`. Every file is written atomically, and the manifest last,
so a split is only readable once complete.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf
from pregan.data.episodes import EpisodeRecord, episode_name, save_episode, write_manifest
from pregan.io import write_json_atomic
from pregan.simulation.interfaces import FAULT_KINDS, QOS_COLUMNS
from pregan.simulation.simulator import Simulator

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


def run_episode(cfg: DictConfig, seed: int) -> tuple[EpisodeRecord, tuple[str, ...]]:
    """One episode with the configured scheduler alone; returns it and the profile names."""
    sim = Simulator.from_config(cfg, seed)
    scheduler = hydra.utils.instantiate(cfg.scheduler)
    while not sim.done:
        sim.step(scheduler.place(sim.observe()))
    return sim.record(), sim.spec.profile_names


def summarise(records: list[EpisodeRecord]) -> dict[str, float]:
    klass = np.concatenate([r.fault_class.ravel() for r in records])
    qos = np.concatenate([r.qos for r in records]).astype(np.float64)  # (sum T, Q)
    out = {"episodes": float(len(records)), "faulty_host_share": float((klass > 0).mean())}
    for k, name in enumerate(FAULT_KINDS, start=1):
        out[f"share_{name}"] = float((klass == k).mean())
    for j, col in enumerate(QOS_COLUMNS):
        values = qos[:, j][np.isfinite(qos[:, j])]
        if values.size:  # a column with no event at all (e.g. no migration) is left out
            out[f"qos_mean_{col}"] = float(values.mean())
    return out


def simulate(cfg: DictConfig) -> dict[str, Any]:
    root = Path(cfg.data.traces_dir)
    resolved = {
        key: OmegaConf.to_container(cfg[key], resolve=True)
        for key in ("simulation", "workload", "faults", "scheduler")
    }
    summary: dict[str, Any] = {}
    for split in SPLITS:
        seeds = [int(s) for s in cfg.data[f"{split}_seeds"]]
        folder = root / split
        records, names = [], ()
        for seed in seeds:
            record, names = run_episode(cfg, seed)
            save_episode(record, folder / episode_name(seed))
            records.append(record)
            log.info("%s: episode seed %d written", split, seed)
        write_manifest(folder, seeds=seeds, config=resolved, profile_names=names)
        summary[split] = summarise(records) if records else {"episodes": 0.0}
    write_json_atomic(root / "summary.json", summary)
    return summary


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    summary = simulate(cfg)
    print(json.dumps(summary, indent=1, default=float))


if __name__ == "__main__":
    main()
