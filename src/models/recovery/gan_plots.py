"""The GAN's training heat-map: the proposal S, the generator's change S' - S and the
decoded placement, side by side, for one decision point per epoch."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def save_heatmap(sample: dict[str, np.ndarray], path: Path) -> Path:
    """Plot S, S' - S and the decoded placement (each (C, H)); write the PNG atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), constrained_layout=True)
    for ax, key, title in zip(
        axes,
        ("S", "S_prime", "placed"),
        ("S (proposal)", "S' - S (generator's moves)", "enacted (decoded)"),
        strict=True,
    ):
        im = ax.imshow(sample[key], aspect="auto", cmap="viridis")
        ax.set(title=title, xlabel="host", ylabel="container slot")
        fig.colorbar(im, ax=ax)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
    os.close(fd)
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
    return path
