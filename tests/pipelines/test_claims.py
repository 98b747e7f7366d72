"""The claims stage pairs methods by seed and sets the paper's claims beside the best baseline."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "pipelines" / "claims.py"


@pytest.fixture(scope="module")
def claims():
    spec = importlib.util.spec_from_file_location("claims", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(root: Path, method: str, seed: int, **metrics: float) -> None:
    folder = root / method / f"seed{seed}"
    folder.mkdir(parents=True)
    body = {"method": method, "seed": seed, "status": "FINISHED", "error": None}
    body["metrics"] = {f"test/{k}": v for k, v in metrics.items()}
    (folder / "metrics.json").write_text(json.dumps(body))


def test_paired_differences_and_claims(tmp_path: Path, claims) -> None:
    runs = tmp_path / "runs"
    # pregan is 1 point better than evacuate in every seed; pcft is the only baseline.
    for seed, base in enumerate([10.0, 12.0, 14.0]):
        write_run(runs, "pregan", seed, sla_violation_rate=base - 1, f1=0.9)
        write_run(runs, "evacuate", seed, sla_violation_rate=base, f1=0.9)
        write_run(runs, "pcft", seed, sla_violation_rate=2 * base, f1=0.3)
    out = tmp_path / "reports"
    assert claims.main(["--runs", str(runs), "--out", str(out)]) == 0
    loaded = claims.load_run_dirs(runs)
    res = claims.paired(loaded, "pregan", "evacuate", "test/sla_violation_rate")
    assert res["mean"] == pytest.approx(-1.0) and res["half_width"] == pytest.approx(0.0)
    assert res["a_better"] == 3 and res["n"] == 3
    assert "**-1.00 ± 0.00 (3/3)**" in (out / "paired.md").read_text()
    table = (out / "paper_claims.md").read_text()
    assert (
        "| 5.1 % more accurate fault detection | F1 (point-wise) | pcft | +200.0 ± 0.0 | yes |"
        in table
    )
    assert "no baseline reports it" in table  # HitRate@100: no run reports it
