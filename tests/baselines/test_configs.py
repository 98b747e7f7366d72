"""conf/model/<baseline>.yaml instantiate to Methods; an unknown name lists the valid ones."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException
from hydra.utils import instantiate

from pregan.models.interfaces import Method
from pregan.simulation.interfaces import RecoveryPolicy

CONF = Path(__file__).resolve().parents[2] / "conf"
BASELINES = ("pcft", "dftm", "eclb", "cmodlb", "none", "oracle")


@pytest.mark.parametrize("name", BASELINES)
def test_model_config_instantiates_a_method(name):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"model={name}"]).model  # with its defaults list
    method = instantiate(cfg, _recursive_=False)
    assert isinstance(method, Method)
    assert method.name == cfg.name == name
    if name != "cmodlb":  # cmodlb's policy exists only after fit
        assert isinstance(method.policy(), RecoveryPolicy)
        assert method.policy().name == name


def test_unknown_method_lists_valid_ones(tmp_path):
    # A primary config with only the model group, searching the project's conf/.
    (tmp_path / "primary.yaml").write_text(
        f"defaults:\n  - model: none\n  - _self_\nhydra:\n  searchpath:\n    - file://{CONF}\n"
    )
    with initialize_config_dir(config_dir=str(tmp_path), version_base="1.3"):
        assert compose("primary", overrides=["model=pcft"]).model.name == "pcft"
        with pytest.raises(MissingConfigException) as err:
            compose("primary", overrides=["model=pcftt"])
    message = str(err.value)
    assert "pcftt" in message
    for name in BASELINES:
        assert f"\t{name}\n" in message + "\n"
