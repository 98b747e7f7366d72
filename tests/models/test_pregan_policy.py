"""PreGANPolicy on a tiny real simulator: decisions are valid, online learning runs, and a
GAN built for another cluster size is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from pregan.models.recovery.classifier_flagging import UtilisationFlagger
from pregan.models.recovery.cosim_scoring import CosimConfigError
from pregan.models.recovery.gan_checkpoint import GanCheckpointError, load_gan
from pregan.models.recovery.gan_migrator import GanMigratorModule
from pregan.models.recovery.pregan import PreGANMethod, PreGANPolicy


@pytest.fixture(scope="module")
def cfg(tiny_faulty_cfg):
    return tiny_faulty_cfg()


def _gan(cfg, n_hosts: int = 4, n_metrics: int = 9) -> GanMigratorModule:
    """A small GAN whose fault embedding is UtilisationFlagger's one-hot over the metrics."""
    torch.manual_seed(0)
    cosim = {**OmegaConf.to_container(cfg.model.migrator.cosim), "horizon": 1}
    return GanMigratorModule(
        n_hosts,
        n_hosts,
        n_metrics,
        n_metrics=n_metrics,
        hidden=16,
        n_samples=2,
        budget=8,
        cosim=cosim,
    )


def test_policy_runs_online_on_tiny_simulator(cfg) -> None:
    from pregan.simulation.least_full import LeastFullScheduler
    from pregan.simulation.simulator import Simulator

    sim = Simulator.from_config(cfg, 0)
    gan = _gan(cfg)
    before = [p.detach().clone() for p in gan.parameters()]
    policy = PreGANPolicy(UtilisationFlagger(0.5), gan, window=1, online=True)
    policy.reset(sim.spec)
    policy.attach_cosimulator(sim.cosimulator)
    scheduler = LeastFullScheduler()
    while not sim.done:
        obs = sim.observe()
        decision = policy.decide(obs, scheduler.place(obs))
        assert decision.placement.shape == (4,)
        assert decision.host_flags.shape == (4,) and decision.host_scores.shape == (4,)
        assert ((decision.placement >= -1) & (decision.placement < 4)).all()
        sim.step(decision.placement)
    assert any(not torch.equal(a, b) for a, b in zip(before, gan.parameters(), strict=True))


def test_policy_refuses_gan_of_other_cluster_size(cfg) -> None:
    from pregan.simulation.simulator import Simulator

    policy = PreGANPolicy(UtilisationFlagger(), _gan(cfg, 16), window=1)
    with pytest.raises(GanCheckpointError, match="n_hosts=16"):
        policy.reset(Simulator.from_config(cfg, 0).spec)


def test_gan_checkpoint_host_mismatch(cfg, tmp_path) -> None:
    gan = _gan(cfg)
    path = tmp_path / "gan.ckpt"
    torch.save({"hyper_parameters": dict(gan.hparams), "state_dict": gan.state_dict()}, path)
    assert load_gan(path, 4, 4).hparams.n_hosts == 4
    with pytest.raises(GanCheckpointError, match="n_hosts=4 but the run's config has n_hosts=16"):
        load_gan(path, 16, 16)


def test_gan_checkpoint_of_another_version_is_refused(cfg, tmp_path) -> None:
    gan = _gan(cfg)
    path = tmp_path / "old.ckpt"
    hp = {**dict(gan.hparams), "temperature": 1.0}  # a hyperparameter this version dropped
    torch.save({"hyper_parameters": hp, "state_dict": gan.state_dict()}, path)
    with pytest.raises(GanCheckpointError, match=r"\['temperature'\].*another version"):
        load_gan(path, 4, 4)


def test_method_rejects_bad_cosim_config(cfg) -> None:
    migrator = cfg.model.migrator.copy()
    migrator.cosim.horizon = 0
    with pytest.raises(CosimConfigError, match="horizon"):
        PreGANMethod(classifier=cfg.model.classifier, migrator=migrator)


def test_model_config_composes(cfg) -> None:
    assert cfg.model.name == "pregan"
    assert cfg.model.classifier._target_.endswith("FaultClassifierModule")
    assert cfg.model.migrator.cosim.horizon > 0
    assert cfg.model.migrator.planner.budget > 0
    assert np.isclose(cfg.model.migrator.lr_online, 5e-5)  # the original's online rate
