"""Execute notebooks/compare_methods.ipynb on a tiny MLflow store and check its table."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO_ROOT / "notebooks" / "compare_methods.ipynb"

F1 = {"pregan": [0.8, 0.9, 0.85], "none": [0.1, 0.2, 0.15]}  # test/f1 per seed 0, 1, 2


def _fake_store(uri: str) -> None:
    """Finished runs per (method, seed), an older duplicate and a FAILED run to be ignored."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.create_experiment("compare")

    def log(method: str, seed: int, f1: float, status: str = "FINISHED") -> None:
        run = client.create_run(exp, tags={"method": method, "seed": str(seed)})
        for name, value in {"test/f1": f1, "test/energy_kj": 10.0 + seed}.items():
            client.log_metric(run.info.run_id, name, value)
        client.set_terminated(run.info.run_id, status)

    log("pregan", 0, 0.0)  # superseded by the rerun below
    for method, values in F1.items():
        for seed, value in enumerate(values):
            log(method, seed, value)
    log("none", 3, 99.0, status="FAILED")


def test_notebook_is_stored_without_outputs() -> None:
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
def test_notebook_reproduces_the_comparison_table(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("ipykernel", reason="ipykernel is needed to execute the notebook")
    import nbformat
    from nbclient import NotebookClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    _fake_store(uri)
    out = tmp_path / "out"
    for key, value in {
        "MLFLOW_TRACKING_URI": uri,
        "PREGAN_EXPERIMENT": "compare",
        "PREGAN_NOTEBOOK_OUT": str(out),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MPLBACKEND": "Agg",
    }.items():
        monkeypatch.setenv(key, value)  # the kernel inherits this environment
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The figure's title must sit above every subplot's title, not across the first row.
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "renderer = fig.canvas.get_renderer()\n"
            "top = max(ax.title.get_window_extent(renderer).y1 for ax in axes.flat if ax.get_title())\n"
            "assert fig._suptitle.get_window_extent(renderer).y0 >= top, 'suptitle overlaps'\n"
        )
    )
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    html = "".join(
        o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", [])
    )
    assert "pregan" in html and "test/f1 ↑" in html and "±" in html
    rows = {(r["method"], r["metric"]): r for r in csv.DictReader((out / "comparison.csv").open())}
    for method, values in F1.items():
        row = rows[(method, "test/f1")]
        assert int(row["n"]) == 3  # the FAILED run and the superseded duplicate are left out
        assert float(row["mean"]) == pytest.approx(sum(values) / 3)
        # Student t, 2 degrees of freedom: t = 4.303; sd of (a, a+0.1, a+0.05) is 0.05
        assert float(row["ci95"]) == pytest.approx(4.302653 * 0.05 / math.sqrt(3), rel=1e-4)
    assert (out / "bars.png").stat().st_size > 0
    assert not os.path.exists(REPO_ROOT / "notebooks" / "mlflow.db")
