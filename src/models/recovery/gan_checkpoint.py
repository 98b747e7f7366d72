"""Reading a GAN migrator checkpoint back, with one clear error per way it can be wrong."""

from __future__ import annotations

import inspect
from pathlib import Path

import torch

from pregan.models.recovery.gan_migrator import GanMigratorModule


class GanCheckpointError(ValueError):
    """A GAN checkpoint is missing, corrupt or made for another cluster size."""


def load_gan(path: Path, n_hosts: int, n_slots: int) -> GanMigratorModule:
    """Load a GAN checkpoint made for exactly this cluster size; clear errors otherwise."""
    path = Path(path)
    if not path.is_file():
        raise GanCheckpointError(f"{path}: GAN checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        hp = ckpt["hyper_parameters"]
    except Exception as exc:  # corrupt or foreign file: name it, whatever torch raised
        raise GanCheckpointError(f"{path}: not a readable GAN checkpoint ({exc})") from exc
    for field, want in (("n_hosts", n_hosts), ("n_slots", n_slots)):
        if hp.get(field) != want:
            raise GanCheckpointError(
                f"{path}: checkpoint {field}={hp.get(field)} but the run's config has {field}={want}"
            )
    known = inspect.signature(GanMigratorModule.__init__).parameters
    if unknown := sorted(set(hp) - set(known)):
        raise GanCheckpointError(
            f"{path}: hyperparameters {unknown} are not GanMigratorModule's (a checkpoint of "
            "another version of the GAN); retrain it"
        )
    module = GanMigratorModule(**hp)
    try:
        module.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:  # same names, other shapes: an older generator
        raise GanCheckpointError(
            f"{path}: weights do not fit this GAN ({exc}); retrain it"
        ) from exc
    return module.eval()
