"""A store that cannot be written fails at once, naming the URI and how to change it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pregan.tracking import MlflowRun, TrackingError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def test_unwritable_store_names_the_uri(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the store's folder should be")
    uri = f"sqlite:///{blocker}/mlflow.db"
    with pytest.raises(TrackingError, match=re.escape(uri)) as err:
        MlflowRun(uri, "e", "r", {"method": "none"})
    assert "logger.mlflow.tracking_uri" in str(err.value)
