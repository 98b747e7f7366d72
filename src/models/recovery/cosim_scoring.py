"""Scoring candidate placements by co-simulation: the label source of PreGAN's GAN and GOBI.

score = w_e * energy + w_r * response + w_s * SLA violations, lower is better. Each term is
made dimensionless by a fixed physical scale, so scores are comparable across forks, episodes
and runs (a per-batch normalisation would make a score depend on the other candidates):
- energy / (H * power_ref_w * interval_s * horizon): the fraction of the energy the whole
  cluster would draw at full power over the horizon;
- mean response time / response_ref_s;
- SLA violations / (C * horizon): violations per slot and interval.
A mean response time of NaN (no container finished within the horizon) is replaced by the
worst finite response time of the batch, since a candidate that finishes nothing is at least
as slow as the others; when no candidate finishes anything the term is 0 for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class CosimConfigError(ValueError):
    """The co-simulation scoring config is unusable; names the field and value."""


class _CosimResult(Protocol):
    energy_j: np.ndarray
    mean_response_s: np.ndarray
    sla_violations: np.ndarray
    migrations: np.ndarray


class Cosimulator(Protocol):
    """What scoring needs from `pregan.simulation.Simulator`: its spec and batched cosimulate."""

    spec: Any

    def cosimulate(self, candidates: np.ndarray, horizon: int) -> _CosimResult: ...


@dataclass(frozen=True)
class CosimScoring:
    """Weights and horizon of the co-simulated score; validated on construction.

    No field has a default: the config (`conf/migrator/gan.yaml` `cosim`, GOBI's in
    `conf/scheduler/gobi.yaml`) is the one place the objective is set.
    """

    horizon: int
    w_energy: float
    w_response: float
    w_sla: float
    power_ref_w: float  # energy scale, W (the top of the Raspberry-Pi power curves: 5.05)
    response_ref_s: float  # response-time scale, s
    source: str = "conf/migrator/gan.yaml"

    def __post_init__(self) -> None:
        if not isinstance(self.horizon, int | np.integer) or self.horizon <= 0:
            raise CosimConfigError(
                f"{self.source}: cosim.horizon must be a positive integer, got {self.horizon!r}"
            )
        weights = {"w_energy": self.w_energy, "w_response": self.w_response, "w_sla": self.w_sla}
        for name, w in weights.items():
            if not np.isfinite(w) or w < 0:
                raise CosimConfigError(
                    f"{self.source}: cosim.{name} must be finite and >= 0, got {w!r}"
                )
        if all(w == 0 for w in weights.values()):
            raise CosimConfigError(
                f"{self.source}: cosim weights are all zero ({weights}); the score would rank nothing"
            )
        for name in ("power_ref_w", "response_ref_s"):
            if not getattr(self, name) > 0:
                raise CosimConfigError(
                    f"{self.source}: cosim.{name} must be > 0, got {getattr(self, name)!r}"
                )

    @classmethod
    def from_config(cls, cfg: Any, source: str = "conf/migrator/gan.yaml") -> CosimScoring:
        """Build from a mapping with horizon, weights {energy, response, sla}, power_ref_w and
        response_ref_s; a missing field is an error naming it."""
        weights = cfg.get("weights") if cfg is not None else None
        missing = [k for k in ("horizon", "power_ref_w", "response_ref_s") if k not in (cfg or {})]
        missing += [
            f"weights.{k}" for k in ("energy", "response", "sla") if k not in (weights or {})
        ]
        if missing:
            raise CosimConfigError(f"{source}: cosim is missing {', '.join(missing)}")
        return cls(
            horizon=cfg["horizon"],
            w_energy=float(weights["energy"]),
            w_response=float(weights["response"]),
            w_sla=float(weights["sla"]),
            power_ref_w=float(cfg["power_ref_w"]),
            response_ref_s=float(cfg["response_ref_s"]),
            source=source,
        )

    def combine(
        self, result: _CosimResult, n_hosts: int, n_slots: int, interval_s: float
    ) -> np.ndarray:
        """(B,) score of a CosimResult, lower is better (see the module docstring)."""
        energy = np.asarray(result.energy_j, dtype=np.float64)  # (B,)
        energy_term = energy / (n_hosts * self.power_ref_w * interval_s * self.horizon)
        resp = np.asarray(result.mean_response_s, dtype=np.float64)  # (B,)
        finite = np.isfinite(resp)
        resp = np.where(finite, resp, resp[finite].max() if finite.any() else 0.0)
        sla = np.asarray(result.sla_violations, dtype=np.float64) / (n_slots * self.horizon)
        return (
            self.w_energy * energy_term
            + self.w_response * resp / self.response_ref_s
            + self.w_sla * sla
        )

    def score(self, sim: Cosimulator, candidates: np.ndarray) -> np.ndarray:
        """Co-simulate B candidate placements (B, C) from `sim`'s state in one batched call.

        Returns (B,) float64 scores, lower is better. `sim` is not advanced.
        """
        candidates = np.asarray(candidates, dtype=np.int64)
        if candidates.ndim != 2 or candidates.shape[1] != sim.spec.n_slots:
            raise ValueError(
                f"cosim score: candidates must be (B, {sim.spec.n_slots}), got {candidates.shape}"
            )
        result = sim.cosimulate(candidates, self.horizon)
        spec = sim.spec
        return self.combine(result, spec.n_hosts, spec.n_slots, spec.interval_s)
