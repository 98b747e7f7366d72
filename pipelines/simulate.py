"""Generate the seeded train/val/test episodes (the `simulate` DVC stage).

    python pipelines/simulate.py                                  # defaults, data/traces/
    python pipelines/simulate.py simulation.n_hosts=4 data.traces_dir=/tmp/x

Each split folder gets one episode file per seed (pregan.data.episodes format) and a
manifest with the resolved simulation/workload/faults config; the episodes run the
configured scheduler with no recovery. `summary.json` beside the splits, and a copy in
`data.summary_file` (reports/simulate.json), hold fault shares and QoS means for
`dvc metrics show` (DVC forbids a metrics file inside an output folder).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from pregan.data.generate import generate_traces
from pregan.experiment import validate_config
from pregan.io import write_json_atomic
from pregan.simulation.config import ConfigError

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    try:
        validate_config(cfg)  # a broken config fails here, in the first stage
    except ConfigError as err:
        log.error("configuration error: %s", err)
        raise SystemExit(2) from None
    summary = generate_traces(cfg, Path(cfg.data.traces_dir))
    write_json_atomic(Path(cfg.data.summary_file), summary)
    print(json.dumps(summary, indent=1, default=float))


if __name__ == "__main__":
    main()
