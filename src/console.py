"""What a run shows its user: one copy of each log line, progress that survives redirection,
and a closing summary of the headline metrics and where the outputs went.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger(__name__)

# Lightning's advertisements (litlogger, litmodels): not information about the run.
_ADVERTS = ("💡 Tip:",)


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_ADVERTS)


def quiet_lightning() -> None:
    """One copy of each Lightning log line, without its adverts and a torch deprecation notice.

    `lightning` installs its own stderr handler on import (and `lightning.pytorch` /
    `lightning.fabric` one more when the root logger had none yet), while Hydra's handlers on
    the root logger print the same records to stdout and the run's log file: every line
    appeared twice. Here Lightning's loggers hand their records to the root logger only.
    Idempotent.
    """
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropAdverts) for f in logger.filters):
            logger.addFilter(_DropAdverts())
    # Lightning 2.6's pytree helper calls torch's deprecated LeafSpec; nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


class Progress:
    """Progress of `total` steps: a live bar on a terminal, log lines everywhere else.

    Redirected to a file or a pipe, a live bar prints nothing until it ends (a 200-host run
    printed nothing for 8 minutes); there, one log line every `every_s` seconds says how far
    the work is and how long it should still take, and it reaches the run's log file too.
    """

    def __init__(
        self, total: int, label: str, every_s: float = 30.0, stream: TextIO | None = None
    ) -> None:
        self.total, self.label, self.every_s = max(int(total), 1), label, every_s
        self.done = 0
        self._start = self._last = time.perf_counter()
        stream = sys.stderr if stream is None else stream
        self._bar: Any = None
        if stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=label, file=stream, unit="step", leave=False)
        else:
            log.info("%s: %d steps", label, self.total)

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.perf_counter()
        if now - self._last >= self.every_s:
            self._last = now
            elapsed = now - self._start
            left = elapsed / self.done * (self.total - self.done)
            log.info(
                "%s: %d/%d (%.0f %%), %.0f s elapsed, about %.0f s left",
                self.label,
                self.done,
                self.total,
                100.0 * self.done / self.total,
                elapsed,
                left,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        log.info("%s: done in %.1f s", self.label, time.perf_counter() - self._start)


class CountingPolicy:
    """A recovery policy that advances a Progress at every decision (one per interval).

    Everything else (name, reset, attach_simulator, attach_ground_truth...) is the wrapped
    policy's: the evaluation runner looks those up by name.
    """

    def __init__(self, policy: Any, progress: Progress) -> None:
        self._policy, self._progress = policy, progress

    def decide(self, *args: Any, **kwargs: Any) -> Any:
        decision = self._policy.decide(*args, **kwargs)
        self._progress.advance()
        return decision

    def __getattr__(self, name: str) -> Any:
        return getattr(self._policy, name)


# The headline figures of a run, in the order of the README's study table.
HEADLINE = (
    ("test/sla_violation_rate", "SLA violations", "%", 1.0),
    ("test/mean_response_s", "mean response", "s", 1.0),
    ("test/energy_kj", "energy", "kJ", 1.0),
    ("test/migrations", "migrations", "", 1.0),
    ("test/migrations_per_fault", "migrations per fault", "", 1.0),
    ("test/decision_ms", "decision time", "ms", 1.0),
    ("test/f1", "detection F1", "", 1.0),
    ("test/class_accuracy", "class accuracy", "", 1.0),
    ("val/f1", "validation F1 (classifier)", "", 1.0),
)


def summary(
    title: str, metrics: Mapping[str, float], where: Mapping[str, str | Path | None]
) -> str:
    """A short plain-text table of the headline metrics present and of the output paths."""
    rows = [
        (label, f"{metrics[key] * scale:.4g}" + (f" {unit}" if unit else ""))
        for key, label, unit, scale in HEADLINE
        if key in metrics
    ]
    rows += [(name, str(path)) for name, path in where.items() if path is not None]
    width = max((len(label) for label, _ in rows), default=0)
    lines = [title, *(f"  {label:<{width}}  {value}" for label, value in rows)]
    return "\n".join(lines)


def rich_progress_bar(enabled: bool = True) -> Any:
    """Lightning's Rich progress bar, narrowed so the metrics fit (conf/callbacks/default.yaml).

    The classifier's six metrics take about 110 characters, and an 80-column terminal cut
    them mid-name: here they go one per line, beside a 10-column bar without the speed column
    and MLflow's run-id "v_num". `enabled=False` (trainer.enable_progress_bar=false) gives a
    callback that does nothing, since Lightning refuses a progress bar it was told not to show.
    """
    import lightning as L
    from lightning.pytorch.callbacks import RichProgressBar
    from lightning.pytorch.callbacks.progress.rich_progress import RichProgressBarTheme

    if not enabled:
        return L.Callback()

    class NarrowRichProgressBar(RichProgressBar):
        def configure_columns(self, trainer: Any) -> list:
            from rich.progress import BarColumn

            columns = super().configure_columns(trainer)
            for column in columns:
                if isinstance(column, BarColumn):
                    column.bar_width = 10
            return [c for c in columns if type(c).__name__ != "ProcessingSpeedColumn"]

        def get_metrics(self, trainer: Any, pl_module: Any) -> dict:
            metrics = super().get_metrics(trainer, pl_module)
            metrics.pop("v_num", None)
            return metrics

    return NarrowRichProgressBar(theme=RichProgressBarTheme(metrics_text_delimiter="\n"))
