"""`dvc repro` from a fresh clone, end to end, on a tiny study (issue 6's check)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Written as conf/local/default.yaml in the clone: `optional local: default` in train.yaml
# picks it up after every other group, so every stage runs the tiny study.
TINY_LOCAL = """\
# @package _global_
simulation: {n_hosts: 4, n_intervals: 12}
data: {train_seeds: [0, 1], val_seeds: [100], test_seeds: [200]}
trainer: {max_epochs: 1, enable_progress_bar: false}
hydra:
  sweeper:
    params:
      seed: 0,1
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done


@pytest.mark.slow
def test_dvc_repro_from_a_fresh_clone(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the project")
    clone = tmp_path / "clone"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    # The clone resolves its own paths: a PROJECT_ROOT set earlier in this process (importing a
    # pipeline script sets it to this checkout) would send the clone's outputs here.
    env.pop("PROJECT_ROOT", None)
    _run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], tmp_path, env)
    (clone / "conf" / "local").mkdir(parents=True)
    (clone / "conf" / "local" / "default.yaml").write_text(TINY_LOCAL)

    _run([sys.executable, "-m", "dvc", "repro"], clone, env)

    report = (clone / "reports" / "comparison.md").read_text()
    for method in ("pregan", "evacuate", "pcft", "dftm", "eclb", "cmodlb", "none", "oracle"):
        assert f"| {method} " in report, method
        assert (clone / "runs" / method / "seed1" / "metrics.json").is_file()
        row = json.loads((clone / "reports" / "metrics" / f"{method}.json").read_text())
        assert row["failed"] == 0 and row["seeds"] == 2, method
    shown = _run([sys.executable, "-m", "dvc", "metrics", "show"], clone, env).stdout
    assert "sla_pct" in shown and max(len(line) for line in shown.splitlines()) < 200
    # Nothing changed: a second repro reruns no stage.
    again = _run([sys.executable, "-m", "dvc", "repro"], clone, env)
    assert "Running stage" not in again.stdout
