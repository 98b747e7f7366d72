"""Simulated episodes on disk: one validated `.npz` per episode, a `manifest.json` per split.

| array        | shape      | dtype   | meaning                                          |
|--------------|------------|---------|--------------------------------------------------|
| host_metrics | (T, H, D)  | float32 | monitored metrics, fractions of capacity         |
| placement    | (T, C)     | int16   | host of each slot during interval t, -1 none     |
| fault_truth  | (T, H, D)  | bool    | metrics an active fault drove (root causes)      |
| fault_class  | (T, H)     | int8    | 0 none, 1..5 fault kind                          |
| qos          | (T, Q)     | float32 | per-interval QoS, QOS_COLUMNS order              |
| host_profile | (H,)       | int8    | index into the manifest's profile names          |
| host_demand  | (T, H)     | float32 | base CPU demand placed on the host / its IPS     |
| seed         | ()         | int64   | the episode's simulation seed                    |
| metrics      | (D,)       | str     | names of the metric axis (simulation.metrics)    |

Loading checks every field, so a truncated or hand-edited file fails with the file and
field named instead of surfacing later as a shape error inside a model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pregan.io import write_atomic, write_json_atomic
from pregan.simulation.interfaces import FAULT_KINDS, METRICS, QOS_COLUMNS
from pregan.simulation.record import EpisodeRecord

FORMAT_VERSION = 3
MANIFEST = "manifest.json"
# QoS columns that are NaN when nothing happened (no completion, migration, start).
_NAN_OK = {"mean_response_s", "mean_migration_s", "mean_wait_intervals"}


class EpisodeFormatError(ValueError):
    """An episode file or manifest is malformed; the message names the file and field."""


_DTYPES = {
    "host_metrics": np.float32,
    "placement": np.int16,
    "fault_truth": np.bool_,
    "fault_class": np.int8,
    "qos": np.float32,
    "host_profile": np.int8,
    "host_demand": np.float32,
}


def episode_name(seed: int) -> str:
    return f"episode_{seed:06d}.npz"


def save_episode(record: EpisodeRecord, path: Path) -> None:
    """Validate and write atomically: a reader never sees a half-written episode."""
    arrays = {name: np.asarray(getattr(record, name)).astype(dt) for name, dt in _DTYPES.items()}
    arrays["seed"] = np.asarray(record.seed, dtype=np.int64)
    arrays["metrics"] = np.asarray(list(record.metrics), dtype=np.str_)
    _validate(arrays, Path(path))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    write_atomic(Path(path), write)


def _fail(path: Path, field: str, msg: str) -> None:
    raise EpisodeFormatError(f"{path}: field '{field}' {msg}")


def _validate(a: dict[str, np.ndarray], path: Path) -> None:
    for name, dt in _DTYPES.items():
        if name not in a:
            _fail(path, name, "is missing")
        if a[name].dtype != dt:
            _fail(path, name, f"has dtype {a[name].dtype}, expected {np.dtype(dt)}")
    if "seed" not in a or a["seed"].shape != ():
        _fail(path, "seed", "must be a scalar")
    names = a.get("metrics")
    if names is None or names.ndim != 1 or not names.size:
        _fail(path, "metrics", "must be a non-empty list of metric names")
    unknown = [str(n) for n in names if str(n) not in METRICS]
    if unknown:
        _fail(path, "metrics", f"has unknown metric names {unknown}; known: {list(METRICS)}")
    D = int(names.size)
    m = a["host_metrics"]
    if m.ndim != 3 or m.shape[2] != D:
        _fail(path, "host_metrics", f"has shape {m.shape}, expected (T, H, {D})")
    T, H = m.shape[:2]
    shapes = {
        "fault_truth": (T, H, D),
        "fault_class": (T, H),
        "qos": (T, len(QOS_COLUMNS)),
        "host_profile": (H,),
        "host_demand": (T, H),
    }
    for name, shape in shapes.items():
        if a[name].shape != shape:
            _fail(path, name, f"has shape {a[name].shape}, expected {shape}")
    p = a["placement"]
    if p.ndim != 2 or p.shape[0] != T:
        _fail(path, "placement", f"has shape {p.shape}, expected ({T}, C)")
    if not np.isfinite(m).all():
        _fail(path, "host_metrics", "contains NaN or infinite values")
    if m.size and (m.min() < 0 or m.max() > 1):
        _fail(path, "host_metrics", f"must lie in [0, 1], got [{m.min()}, {m.max()}]")
    if p.size and (p.min() < -1 or p.max() >= H):
        _fail(path, "placement", f"host indices must be in [-1, {H}), got [{p.min()}, {p.max()}]")
    k = a["fault_class"]
    if k.size and (k.min() < 0 or k.max() > len(FAULT_KINDS)):
        _fail(
            path, "fault_class", f"must be in [0, {len(FAULT_KINDS)}], got [{k.min()}, {k.max()}]"
        )
    dem = a["host_demand"]
    if not np.isfinite(dem).all():
        _fail(path, "host_demand", "contains NaN or infinite values")
    if dem.size and dem.min() < 0:
        _fail(path, "host_demand", f"must be >= 0, got minimum {dem.min()}")
    if (a["host_profile"] < 0).any():
        _fail(path, "host_profile", "has negative profile indices")
    for j, col in enumerate(QOS_COLUMNS):
        v = a["qos"][:, j]
        bad = np.isinf(v) if col in _NAN_OK else ~np.isfinite(v)
        if bad.any():
            _fail(path, f"qos[{col}]", "contains NaN or infinite values")
        if (v[np.isfinite(v)] < 0).any():
            _fail(path, f"qos[{col}]", "contains negative values")


def load_episode(path: Path) -> EpisodeRecord:
    """Read and validate one episode file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except (OSError, ValueError, EOFError) as err:
        raise EpisodeFormatError(f"{path}: not a readable episode file ({err})") from None
    _validate(arrays, path)
    return EpisodeRecord(
        **{n: arrays[n] for n in _DTYPES},
        seed=int(arrays["seed"]),
        metrics=tuple(str(n) for n in arrays["metrics"]),
    )


def write_manifest(
    folder: Path,
    *,
    seeds: list[int],
    config: dict[str, Any],
    profile_names: tuple[str, ...],
    metrics: tuple[str, ...],
) -> None:
    """Describe a split folder: format, columns, the resolved config and the seeds."""
    write_json_atomic(
        Path(folder) / MANIFEST,
        {
            "format_version": FORMAT_VERSION,
            "seeds": [int(s) for s in seeds],
            "files": [episode_name(int(s)) for s in seeds],
            "config": config,
            "metrics": list(metrics),
            "fault_kinds": list(FAULT_KINDS),
            "qos_columns": list(QOS_COLUMNS),
            "profile_names": list(profile_names),
        },
    )


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise EpisodeFormatError(
            f"{path}: manifest missing; generate the split with pipelines/simulate.py"
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise EpisodeFormatError(f"{path}: not valid JSON ({err})") from None
    expected = {
        "format_version": FORMAT_VERSION,
        "fault_kinds": list(FAULT_KINDS),
        "qos_columns": list(QOS_COLUMNS),
    }
    for key, want in expected.items():
        if manifest.get(key) != want:
            raise EpisodeFormatError(
                f"{path}: field '{key}' is {manifest.get(key)!r}, expected {want!r}"
            )
    names = manifest.get("metrics")
    if not isinstance(names, list) or not names or any(n not in METRICS for n in names):
        raise EpisodeFormatError(
            f"{path}: field 'metrics' is {names!r}, expected a list of names from {list(METRICS)}"
        )
    if not isinstance(manifest.get("files"), list):
        raise EpisodeFormatError(f"{path}: field 'files' must be a list of episode files")
    return manifest


def load_split(folder: Path) -> list[EpisodeRecord]:
    """All episodes of a split folder, in manifest order."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    return [load_episode(folder / name) for name in manifest["files"]]
