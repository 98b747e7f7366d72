"""What runs without the test bed: its probe's messages and its config checks."""

from __future__ import annotations

import pytest

from pregan.simulation.config import ConfigError
from pregan.testbed import capabilities
from pregan.testbed import config as tb_config


def test_the_probe_names_each_missing_piece_and_the_set_up_command(tmp_path, monkeypatch):
    monkeypatch.setattr(capabilities, "TESTBED_DIR", tmp_path)  # an empty .testbed/
    capabilities.probe.cache_clear()
    try:
        caps = capabilities.probe()
    finally:
        capabilities.probe.cache_clear()
    assert not caps.ok
    assert any("containers.conf" in m for m in caps.missing)
    assert any("CRIU" in m for m in caps.missing)
    assert "scripts/setup_testbed.sh" in caps.reason


def test_backend_config_refuses_unknown_keys_and_bad_values():
    assert tb_config.testbed_from_dictconfig({"name": "testbed"}).mips_per_core > 0
    with pytest.raises(ConfigError, match="mips_per_cor"):
        tb_config.testbed_from_dictconfig({"mips_per_cor": 1.0})
    with pytest.raises(ConfigError, match="backend.ram_scale"):
        tb_config.testbed_from_dictconfig({"ram_scale": 0.0})
    with pytest.raises(ConfigError, match="loss_probability"):
        tb_config.testbed_from_dictconfig({"loss_probability": 1.5})
