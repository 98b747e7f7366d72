"""`mlflow server` on a SQLite store, for real: start it, query runs over REST, stop it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        base + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _wait_healthy(base: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mlflow server exited early:\n{proc.stdout.read()}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError(f"mlflow server not healthy after {timeout_s} s")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the whole process group (gunicorn/uvicorn workers too), then make sure."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.mark.slow
def test_server_serves_logged_runs_over_rest(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("compare")
    run = client.create_run(experiment_id, tags={"method": "pregan", "seed": "3"})
    client.log_metric(run.info.run_id, "test/f1", 0.75)
    client.set_terminated(run.info.run_id)

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    mlflow_cli = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri]
    proc = subprocess.Popen(
        [*mlflow_cli, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env={**os.environ, **SERVER_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so _stop reaches every worker
    )
    try:
        _wait_healthy(base, proc, timeout_s=90)
        experiments = _post(base, "/api/2.0/mlflow/experiments/search", {"max_results": 10})
        names = {e["name"]: e["experiment_id"] for e in experiments["experiments"]}
        assert "compare" in names
        found = _post(
            base,
            "/api/2.0/mlflow/runs/search",
            {"experiment_ids": [names["compare"]], "filter": "tags.method = 'pregan'"},
        )
        (served,) = found["runs"]
        tags = {t["key"]: t["value"] for t in served["data"]["tags"]}
        assert served["info"]["run_id"] == run.info.run_id
        assert (tags["method"], tags["seed"]) == ("pregan", "3")
        metrics = {m["key"]: m["value"] for m in served["data"]["metrics"]}
        assert metrics["test/f1"] == pytest.approx(0.75)
    finally:
        _stop(proc)
    assert proc.returncode is not None
    with pytest.raises(ProcessLookupError):  # no process of the group is left behind
        os.killpg(proc.pid, 0)
