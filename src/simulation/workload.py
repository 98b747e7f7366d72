"""Container demand traces: the synthetic generator (default), its fit, and `build_workload`.

The synthetic generator exists so that the project runs with no data present, yet demands
what real Bitbrains VMs demand: `pipelines/fit_workload.py` fits its parameters to the real
traces (after the original's 500-3000 MIPS filter) and records them, with the real traces'
summary statistics, in `conf/workload/synthetic.yaml`; the tests check generated banks
against those statistics.

Model, the same for each of the six series (cpu_mips, ram_mb, disk/net I/O), in log space
y = log(1 + value / offset), where the small offset keeps exact zeros representable:
- a per-trace level drawn from the fitted quantile table of real per-trace medians (so
  levels land where the filter puts them, heavy tails included);
- burstiness: a stationary AR(1) around that level, coefficient `ar1`, with a per-trace
  scale drawn from the fitted quantile table of real per-trace robust scales;
- spikes: bursts of samples replaced by a log-jump over the level, drawn from the fitted
  quantile table of real jumps (bounded by the largest seen). Bursts follow a two-state
  Markov chain whose per-trace on-fraction comes from a quantile table (most real traces
  have none, a few have many) and whose chance of staying on is `spike_stay`. Values never
  exceed the largest real one (`max_value`).
cpu_max_mips is drawn from its own quantile table and raised to the trace's peak demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from pregan.simulation.workload_bank import SERIES_FIELDS, WorkloadBank, WorkloadError

KINDS: tuple[str, ...] = ("synthetic", "bitbrains")
SERIES_PARAMS: tuple[str, ...] = (
    "offset",
    "level_quantiles",
    "scale_quantiles",
    "ar1",
    "spike_rate_quantiles",
    "spike_stay",
    "spike_quantiles",
    "max_value",
)
N_QUANTILES = 41  # probabilities 0, 0.025, ..., 1 of the fitted tables: fine enough for the tails
_MAD_TO_SD = 1.4826  # a normal's standard deviation per median absolute deviation
_SPIKE_SIGMAS = 6.0  # a sample is a spike above level + max(6 robust sd, _SPIKE_FLOOR),
_SPIKE_FLOOR = 0.7  # in log space: about double the level; lower marks ordinary noise as spikes


@dataclass(frozen=True)
class SeriesParams:
    """Fitted generator parameters of one series; see the module docstring."""

    offset: float  # series units; y = log(1 + value / offset)
    level_quantiles: np.ndarray  # (Q,) per-trace median, series units, at probs linspace(0, 1, Q)
    scale_quantiles: np.ndarray  # (Q,) per-trace robust sd of the log fluctuations
    ar1: float  # lag-1 autocorrelation of the log fluctuations
    spike_rate_quantiles: np.ndarray  # (Q,) per-trace fraction of samples in a spike
    spike_stay: float  # chance that a spike sample is followed by another
    spike_quantiles: np.ndarray  # (Q,) log-jump of a spike sample over the level
    max_value: float  # largest real value; caps the jumps, which are fitted pooled over traces

    @classmethod
    def from_mapping(cls, name: str, raw: Mapping[str, Any]) -> SeriesParams:
        """Validate one series' config block; errors name workload.params.<series>.<field>."""
        where = f"workload.params.{name}"
        missing = [k for k in SERIES_PARAMS if k not in raw]
        if missing:
            raise WorkloadError(f"{where}: missing field(s) {missing}")
        params = cls(
            offset=float(raw["offset"]),
            ar1=float(raw["ar1"]),
            spike_stay=float(raw["spike_stay"]),
            max_value=float(raw["max_value"]),
            **{
                k: _quantile_table(f"{where}.{k}", raw[k])
                for k in SERIES_PARAMS
                if k.endswith("quantiles")
            },
        )
        checks = {
            "offset": params.offset > 0,
            "ar1": -1 < params.ar1 < 1,
            "spike_stay": 0 <= params.spike_stay < 1,
            "spike_rate_quantiles": 0 <= params.spike_rate_quantiles[0]
            and params.spike_rate_quantiles[-1] <= 1,
            "level_quantiles": params.level_quantiles[0] >= 0,
            "scale_quantiles": params.scale_quantiles[0] >= 0,
            "spike_quantiles": params.spike_quantiles[0] >= 0,
            "max_value": params.max_value >= params.level_quantiles[-1],
        }
        for field, ok in checks.items():
            if not ok:
                raise WorkloadError(f"{where}.{field}: value {getattr(params, field)} out of range")
        return params


def _quantile_table(where: str, values: Any) -> np.ndarray:
    """A non-decreasing finite table of at least two quantiles, float64."""
    try:
        table = np.asarray(list(values), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise WorkloadError(f"{where}: not a list of numbers ({values!r})") from exc
    if table.ndim != 1 or table.size < 2 or not np.isfinite(table).all():
        raise WorkloadError(f"{where}: need a list of >= 2 finite numbers, got {values!r}")
    if (np.diff(table) < 0).any():
        raise WorkloadError(f"{where}: quantiles must be non-decreasing, got {values!r}")
    return table


def _draw_from_table(table: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling: linear interpolation of a quantile table at uniforms u."""
    return np.interp(u, np.linspace(0.0, 1.0, table.size), table)


def generate_synthetic(
    params: Mapping[str, SeriesParams],
    cpu_max_quantiles: np.ndarray,
    n_traces: int,
    length: int,
    rng: np.random.Generator,
) -> WorkloadBank:
    """Draw an (n_traces, length) float32 bank; identical for an identical generator state."""
    if n_traces <= 0 or length <= 0:
        raise WorkloadError(f"workload: n_traces and length must be > 0, got {n_traces}, {length}")
    out = {name: _generate_series(params[name], n_traces, length, rng) for name in SERIES_FIELDS}
    cap = _draw_from_table(cpu_max_quantiles, rng.random(n_traces))  # (N,)
    cap = np.maximum(cap, out["cpu_mips"].max(axis=1)).astype(np.float32)
    return WorkloadBank(**out, cpu_max_mips=cap, source="synthetic")


def _generate_series(p: SeriesParams, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """One series of the bank, (n, length) float32 (see the module docstring)."""
    mu = _draw_from_table(np.log1p(p.level_quantiles / p.offset), rng.random(n))  # (N,)
    sd = _draw_from_table(p.scale_quantiles, rng.random(n))  # (N,)
    rate = _draw_from_table(p.spike_rate_quantiles, rng.random(n))  # (N,)
    # off -> on chance that makes `rate` the stationary on-fraction given `spike_stay`
    start = np.clip(rate * (1.0 - p.spike_stay) / np.maximum(1.0 - rate, 1e-12), 0.0, 1.0)  # (N,)
    eps = rng.standard_normal((n, length)) * sd[:, None]  # (N, L)
    u = rng.random((n, length))  # (N, L)
    jump = _draw_from_table(p.spike_quantiles, rng.random((n, length)))  # (N, L)
    innov = np.sqrt(1.0 - p.ar1**2)
    x = np.empty((n, length))  # (N, L) stationary AR(1) with sd `sd`
    on = np.empty((n, length), dtype=bool)  # (N, L) spike chain
    x[:, 0] = eps[:, 0]
    on[:, 0] = u[:, 0] < rate
    for t in range(1, length):
        x[:, t] = p.ar1 * x[:, t - 1] + innov * eps[:, t]
        on[:, t] = u[:, t] < np.where(on[:, t - 1], p.spike_stay, start)
    y = np.clip(
        mu[:, None] + np.where(on, jump, x), 0.0, np.log1p(p.max_value / p.offset)
    )  # (N, L)
    return (p.offset * np.expm1(y)).astype(np.float32)


def fit_series(values: np.ndarray, offset: float) -> SeriesParams:
    """Fit one series' generator parameters to real (N, L) traces (see the module docstring)."""
    y = np.log1p(np.asarray(values, dtype=np.float64) / offset)  # (N, L)
    mu = np.median(y, axis=1)  # (N,)
    x = y - mu[:, None]  # (N, L)
    sd = _MAD_TO_SD * np.median(np.abs(x), axis=1)  # (N,)
    spike = x > np.maximum(_SPIKE_SIGMAS * sd, _SPIKE_FLOOR)[:, None]  # (N, L)
    calm = np.where(spike, 0.0, x)  # (N, L)
    num = (calm[:, 1:] * calm[:, :-1]).sum(axis=1)  # (N,)
    den = (calm**2).sum(axis=1)  # (N,)
    ar1 = np.median(num[den > 0] / den[den > 0]) if (den > 0).any() else 0.0
    pairs = spike[:, :-1].sum()
    stay = (spike[:, 1:] & spike[:, :-1]).sum() / pairs if pairs else 0.0
    probs = np.linspace(0.0, 1.0, N_QUANTILES)
    return SeriesParams(
        offset=offset,
        level_quantiles=offset * np.expm1(np.quantile(mu, probs)),
        scale_quantiles=np.quantile(sd, probs),
        ar1=float(np.clip(ar1, -0.99, 0.99)),
        spike_rate_quantiles=np.quantile(spike.mean(axis=1), probs),
        spike_stay=float(min(stay, 0.99)),
        spike_quantiles=np.quantile(x[spike], probs) if spike.any() else np.zeros(N_QUANTILES),
        max_value=float(values.max()),
    )


def default_offset(values: np.ndarray) -> float:
    """1 % of the median positive value: small against real demand, so zeros stay near zero."""
    positive = values[values > 0]
    return float(0.01 * np.median(positive)) if positive.size else 1e-6


def trace_statistics(series: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Summary figures of (N, L) traces per series, compared between real and synthetic banks.

    mean and q05..q95 pool every sample; cv_median is the median over traces of a trace's
    std/mean, ac1_median the median over traces of a trace's lag-1 autocorrelation (traces
    with zero mean or zero variance are skipped).
    """
    stats: dict[str, dict[str, float]] = {}
    for name, raw in series.items():
        v = np.asarray(raw, dtype=np.float64)  # (N, L) or (N,)
        entry = {"mean": float(v.mean())}
        for q in (5, 25, 50, 75, 95):
            entry[f"q{q:02d}"] = float(np.quantile(v, q / 100))
        if v.ndim == 2:
            m, s = v.mean(axis=1), v.std(axis=1)  # (N,)
            entry["cv_median"] = float(np.median(s[m > 0] / m[m > 0])) if (m > 0).any() else 0.0
            d = v - m[:, None]  # (N, L)
            den = (d**2).sum(axis=1)  # (N,)
            ok = den > 0
            ac1 = (d[ok, 1:] * d[ok, :-1]).sum(axis=1) / den[ok]  # (N_ok,)
            entry["ac1_median"] = float(np.median(ac1)) if ok.any() else 0.0
        stats[name] = entry
    return stats


def _plain(cfg: Any) -> dict[str, Any]:
    """A DictConfig or mapping as a plain, resolved dict."""
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    if isinstance(cfg, Mapping):
        return dict(cfg)
    raise WorkloadError(f"workload: config must be a mapping, got {type(cfg).__name__}")


def _field(cfg: Mapping[str, Any], key: str) -> Any:
    if key not in cfg:
        raise WorkloadError(f"workload.{key}: missing (kind={cfg.get('kind')!r})")
    return cfg[key]


def build_workload(cfg: Any, seed: int) -> WorkloadBank:
    """The bank a simulation replays, from `cfg.workload`; `seed` drives only the synthetic kind.

    kind=synthetic: n_traces, length, params (per series and cpu_max_mips_quantiles).
    kind=bitbrains: root, length, cpu_min_mips, cpu_max_mips, windows (see
    `pregan.simulation.bitbrains.load_bitbrains`); deterministic, the seed is unused.
    """
    c = _plain(cfg)
    kind = c.get("kind")
    if kind == "synthetic":
        raw = _field(c, "params")
        series = {}
        for name in SERIES_FIELDS:
            if name not in raw:
                raise WorkloadError(f"workload.params.{name}: missing")
            series[name] = SeriesParams.from_mapping(name, raw[name])
        if "cpu_max_mips_quantiles" not in raw:
            raise WorkloadError("workload.params.cpu_max_mips_quantiles: missing")
        cap = _quantile_table(
            "workload.params.cpu_max_mips_quantiles", raw["cpu_max_mips_quantiles"]
        )
        rng = np.random.default_rng(seed)
        return generate_synthetic(
            series, cap, int(_field(c, "n_traces")), int(_field(c, "length")), rng
        )
    if kind == "bitbrains":
        from pregan.simulation.bitbrains import load_bitbrains

        return load_bitbrains(
            root=_field(c, "root"),
            length=int(_field(c, "length")),
            cpu_min_mips=float(c.get("cpu_min_mips", 500.0)),
            cpu_max_mips=float(c.get("cpu_max_mips", 3000.0)),
            windows=bool(c.get("windows", False)),
        )
    raise WorkloadError(f"workload.kind: unknown value {kind!r}; valid kinds are {list(KINDS)}")
