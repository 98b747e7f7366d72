"""Bad settings fail at start-up with one clear error naming the field and value."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from pregan.simulation.config import ConfigError, faults_from_dictconfig, simulation_from_dictconfig
from pregan.simulation.hosts import build_hosts


def test_default_mix_is_eight_then_eight(cfg_factory) -> None:
    hosts = build_hosts(simulation_from_dictconfig(cfg_factory().simulation))
    names = [hosts.profile_names[i] for i in hosts.profile]
    assert names == ["rpi4b-4gb"] * 8 + ["rpi4b-8gb"] * 8
    assert hosts.ram_mb[0] == 4295 and hosts.ram_mb[-1] == 8192
    # disk bandwidth carries the original's x5 read and x10 write multipliers
    assert hosts.disk_read_mb_s[0] == 45.0 and hosts.disk_write_mb_s[0] == 20.0
    assert hosts.net_up[0] == pytest.approx(940.0 / 8)  # 1 GbE in MB/s


@pytest.mark.parametrize("n", [50, 200, 1000])
def test_any_host_count_splits_without_losing_hosts(n: int, cfg_factory) -> None:
    hosts = build_hosts(simulation_from_dictconfig(cfg_factory(n_hosts=n).simulation))
    assert hosts.n_hosts == n
    assert abs(int((hosts.profile == 0).sum()) - n // 2) <= 1


def test_counts_and_fractions_mix(cfg_factory) -> None:
    cfg = cfg_factory(n_hosts=10)
    cfg.simulation.host_mix = [
        {"profile": "rpi4b-8gb", "count": 3},
        {"profile": "rpi4b-4gb", "fraction": 1.0},
    ]
    hosts = build_hosts(simulation_from_dictconfig(cfg.simulation))
    assert list(hosts.profile[:3]) == [1, 1, 1] and (hosts.profile[3:] == 0).all()


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda c: OmegaConf.update(c, "simulation.n_hosts", 0),
            "simulation.n_hosts must be > 0, got 0",
        ),
        (
            lambda c: OmegaConf.update(
                c, "simulation.host_mix", [{"profile": "rpi5", "count": 16}]
            ),
            "unknown profile 'rpi5'",
        ),
        (
            lambda c: OmegaConf.update(c, "simulation.n_hostz", 3, force_add=True),
            "simulation.n_hostz",
        ),
        (lambda c: OmegaConf.update(c, "simulation.n_hosts", "many"), "simulation.n_hosts"),
        (
            lambda c: OmegaConf.update(c, "simulation.arrival_scale", "lots"),
            "arrival_scale must be 'auto' or a number",
        ),
        (lambda c: OmegaConf.update(c, "simulation.load", -0.5), "simulation.load must be > 0"),
        (
            lambda c: OmegaConf.update(c, "simulation.metrics", ["cpu", "gpu"]),
            "simulation.metrics: unknown metric name(s) ['gpu']",
        ),
        (
            lambda c: OmegaConf.update(c, "simulation.metrics", ["ram", "cpu"]),
            "simulation.metrics must list distinct metrics starting with 'cpu'",
        ),
        (
            lambda c: OmegaConf.update(
                c, "simulation.profiles.rpi4b-4gb.net_up_mbps", 5000, force_add=True
            ),
            "simulation.profiles.rpi4b-4gb.net_up_mbps: unit-less key from the old format; "
            "use net_up_mbit_per_s (Mb/s)",
        ),
        (
            lambda c: OmegaConf.update(c, "simulation.router_bandwidth_mbps", 1, force_add=True),
            "simulation.router_bandwidth_mbps: unit-less key from the old format",
        ),
    ],
)
def test_bad_simulation_config(mutate, needle: str, cfg_factory) -> None:
    cfg = cfg_factory()
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        simulation_from_dictconfig(cfg.simulation)
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("faults", "needle"),
    [
        (
            {
                "kinds": {
                    "gamma_ray": {
                        "rate": 0.1,
                        "duration": {"low": 1, "high": 2},
                        "intensity": {"low": 0, "high": 1},
                    }
                }
            },
            "unknown fault kind 'gamma_ray'",
        ),
        (
            {"scripted": [{"host": 0, "kind": "meltdown", "onset": 0, "duration": 2}]},
            "faults.scripted[0].kind: unknown fault kind 'meltdown'",
        ),
        (
            {"scripted": [{"host": 0, "kind": "node_crash", "onset": 0, "duration": -3}]},
            "faults.scripted[0].duration must be > 0, got -3",
        ),
        (
            {"scripted": [{"host": 99, "kind": "node_crash", "onset": 0, "duration": 3}]},
            "faults.scripted[0].host must be in [0, 16), got 99",
        ),
        (
            {
                "kinds": {
                    "cpu_overload": {
                        "rate": 0.1,
                        "duration": {"low": -1, "high": 2},
                        "intensity": {"low": 0, "high": 1},
                    }
                }
            },
            "faults.kinds.cpu_overload.duration.low must be >= 1",
        ),
        ({"labels": "vibes"}, "faults.labels must be 'injected' or 'percentile'"),
    ],
)
def test_bad_faults_config(faults: dict, needle: str, cfg_factory) -> None:
    cfg = cfg_factory()
    merged = OmegaConf.merge(cfg.faults, faults)
    with pytest.raises(ConfigError) as err:
        faults_from_dictconfig(merged, n_hosts=16)
    assert needle in str(err.value)


def test_simulator_rejects_bad_placement(sim_factory) -> None:
    sim = sim_factory(0, n_hosts=4, n_intervals=3)
    with pytest.raises(ValueError, match=r"host indices must be in \[-1, 4\)"):
        sim.step([9, 0, 0, 0])
    with pytest.raises(ValueError, match="shape"):
        sim.step([0, 0])


def test_the_originals_figures_stay_one_override_away(cfg_factory) -> None:
    """conf/simulation/original.yaml: its unit-less 5000 network as MB/s (40,000 Mb/s), the
    disk multipliers applied, its three metrics and its overloaded arrival draws."""
    from pathlib import Path

    from pregan.simulation.hosts import build_hosts

    conf = Path(__file__).resolve().parents[2] / "conf" / "simulation" / "original.yaml"
    sim = simulation_from_dictconfig(OmegaConf.load(conf))
    hosts = build_hosts(sim)
    assert hosts.net_up[0] == pytest.approx(5000.0)  # MB/s, as the original's code used it
    assert hosts.disk_read_mb_s[0] == pytest.approx(13.42 * 5)
    assert hosts.disk_write_mb_s[0] == pytest.approx(1.011 * 10)
    assert sim.metrics == ["cpu", "ram", "disk"] and sim.load is None
