"""FaultClassifierModule: learning on a synthetic cluster, inference contract, errors, resume."""

from __future__ import annotations

import hashlib
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint

from pregan.data.windows import WindowDataModule
from pregan.models.recovery.fault_classifier import (
    ClassifierCheckpointError,
    ClassifierInputError,
    FaultClassifierModule,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
N_HOSTS = 6


def synthetic_episode(
    rng: np.random.Generator, n_hosts: int = N_HOSTS, n_intervals: int = 60
) -> dict:
    """Hosts with random-walk utilisation and injected faults with the five kinds' signatures:
    a hog pins one resource near capacity, a leak ramps RAM, a crash zeroes every metric."""
    t, h, d = n_intervals, n_hosts, 4
    noise = rng.normal(0, 0.03, size=(t, h, d))
    metrics = np.clip(
        rng.uniform(0.1, 0.5, size=(1, h, d)) + 0.3 * np.cumsum(noise, 0) + noise, 0, 1
    )
    fclass = np.zeros((t, h), dtype=np.int8)
    truth = np.zeros((t, h, d), dtype=bool)
    for host in range(h):
        start = int(rng.integers(2, 10))
        while start < t:
            kind, end = int(rng.integers(1, 6)), min(t, start + int(rng.integers(3, 9)))
            if kind == 5:
                metrics[start:end, host] = 0.0
                truth[start:end, host] = True
            else:
                dim = kind - 1
                if kind == 2:
                    ramp = np.linspace(0.15, 0.6, end - start)
                    metrics[start:end, host, dim] = np.clip(
                        metrics[start:end, host, dim] + ramp, 0, 1
                    )
                else:
                    metrics[start:end, host, dim] = rng.uniform(0.85, 1.0, size=end - start)
                truth[start:end, host, dim] = True
            fclass[start:end, host] = kind
            start = end + int(rng.integers(3, 15))
    return {"host_metrics": metrics.astype(np.float32), "fault_class": fclass, "fault_truth": truth}


def make_datamodule(seed: int = 0, n_train: int = 6, batch_size: int = 32) -> WindowDataModule:
    rng = np.random.default_rng(seed)
    train = [synthetic_episode(rng) for _ in range(n_train)]
    val = [synthetic_episode(rng) for _ in range(2)]
    test = [synthetic_episode(rng) for _ in range(3)]
    dm = WindowDataModule(train, val, test, window=3, batch_size=batch_size, seed=seed)
    dm.setup()
    return dm


def quiet_trainer(**kwargs) -> L.Trainer:
    args = dict(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
    )
    return L.Trainer(**(args | kwargs))


@pytest.fixture(scope="module")
def trained() -> tuple[FaultClassifierModule, WindowDataModule]:
    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    dm = make_datamodule()
    model = FaultClassifierModule(dm.n_hosts, dm.n_features)
    quiet_trainer(max_epochs=12).fit(model, datamodule=dm)
    return model, dm


def test_learns_to_detect_classify_and_diagnose_unseen_episodes(trained):
    model, dm = trained
    test = dm.splits["test"]
    out = model.predict_windows(test.windows)
    truth = test.faulty.astype(bool)
    tp = (out.host_flags & truth).sum()
    f1 = 2 * tp / (out.host_flags.sum() + truth.sum())
    assert f1 > 0.8
    class_acc = (out.fault_class[truth] == test.fault_class[truth]).mean()
    assert class_acc > 0.6  # chance is 0.2
    single = test.root_cause.sum(-1) == 1  # diagnosis skips crashes (all four dims)
    top = out.dim_scores.argmax(-1)
    hit = np.take_along_axis(test.root_cause, top[..., None], -1)[..., 0][single]
    assert hit.mean() > 0.8  # the faulty resource ranks first


def test_threshold_is_the_validation_f1_maximiser(trained):
    model, dm = trained
    val = dm.splits["val"]
    prob = model.predict_windows(val.windows).host_prob.ravel()
    truth = val.faulty.ravel().astype(bool)

    def f1(thr: float) -> float:
        flags = prob >= thr
        return 2 * (flags & truth).sum() / (flags.sum() + truth.sum())

    chosen = float(model.threshold)
    assert all(f1(chosen) >= f1(t) - 1e-9 for t in np.linspace(0.01, 0.99, 99))


def test_predict_window_contract(trained):
    model, dm = trained
    windows = dm.splits["test"].windows[:5]
    one = model.predict_window(windows[2])
    assert one.host_prob.shape == (N_HOSTS,) and one.host_flags.dtype == bool
    assert one.embedding.shape == (N_HOSTS, 2) and one.dim_scores.shape == (N_HOSTS, 4)
    assert set(np.unique(one.fault_class)) <= set(range(1, 6))  # nearest prototype, every host
    batch = model.predict_windows(windows)
    np.testing.assert_allclose(batch.host_prob[2], one.host_prob, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((3, N_HOSTS + 1, 4), "as in the checkpoint"),
        ((3, N_HOSTS, 5), "as in the checkpoint"),
        ((4, N_HOSTS, 4), "as in the checkpoint"),
    ],
)
def test_mismatched_window_is_rejected(trained, shape, match):
    model, _ = trained
    with pytest.raises(ClassifierInputError, match=match):
        model.predict_window(np.zeros(shape, dtype=np.float32))


def test_nan_window_is_rejected(trained):
    model, _ = trained
    window = np.zeros((3, N_HOSTS, 4), dtype=np.float32)
    window[1, 2, 3] = np.nan
    with pytest.raises(ClassifierInputError, match=r"NaN .* \(0, 1, 2, 3\)"):
        model.predict_window(window)


def test_checkpoint_round_trip_keeps_stats_threshold_and_prototypes(trained, tmp_path):
    model, dm = trained
    path = tmp_path / "model.ckpt"
    trainer = quiet_trainer(max_epochs=1)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path)
    loaded = FaultClassifierModule.from_checkpoint(path)
    assert float(loaded.threshold) == float(model.threshold)
    assert torch.equal(loaded.feature_mean, model.feature_mean)
    assert torch.equal(loaded.prototypes.vectors, model.prototypes.vectors)
    windows = dm.splits["test"].windows[:4]
    np.testing.assert_array_equal(
        loaded.predict_windows(windows).host_prob, model.predict_windows(windows).host_prob
    )


def _tree_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.mark.parametrize("content", [None, b"not a checkpoint", b"PK\x03\x04truncated"])
def test_missing_or_corrupt_checkpoint_is_a_clear_error_and_writes_nothing(tmp_path, content):
    path = tmp_path / "model.ckpt"
    if content is not None:
        path.write_bytes(content)
    before = _tree_digest(tmp_path)
    with pytest.raises(ClassifierCheckpointError, match="model.ckpt"):
        FaultClassifierModule.from_checkpoint(path)
    assert _tree_digest(tmp_path) == before


def test_foreign_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {"n_hosts": 2}}, path)
    with pytest.raises(ClassifierCheckpointError, match="does not hold a FaultClassifierModule"):
        FaultClassifierModule.from_checkpoint(path)


def test_unfitted_model_refuses_to_predict():
    model = FaultClassifierModule(n_hosts=2, n_features=4)
    with pytest.raises(ClassifierInputError, match="normalisation"):
        model.predict_window(np.zeros((3, 2, 4), dtype=np.float32))


def test_datamodule_shape_must_match_model():
    dm = make_datamodule(n_train=1)
    with pytest.raises(ClassifierInputError, match=r"\(H, D\)"):
        quiet_trainer(fast_dev_run=True).fit(FaultClassifierModule(N_HOSTS + 2, 4), datamodule=dm)


@pytest.mark.parametrize("name", ["fpe", "linear"])
def test_config_fast_dev_run(name, tmp_path):
    dm = make_datamodule(n_train=1)
    with initialize_config_dir(str(REPO_ROOT / "conf" / "classifier"), version_base="1.3"):
        cfg = compose(name, overrides=["input_features=[value,delta,cluster]"])
    assert cfg.trainer.max_epochs >= 1 and cfg.trainer.batch_size >= 1  # read by PreGANMethod
    module_cfg = {k: v for k, v in cfg.items() if k not in ("trainer", "pretrained")}
    model = instantiate(module_cfg, n_hosts=dm.n_hosts, n_features=dm.n_features)
    trainer = quiet_trainer(fast_dev_run=True)
    trainer.fit(model, datamodule=dm)
    assert np.isfinite(float(trainer.callback_metrics["train/loss"]))
    assert "val/f1" in trainer.callback_metrics and "val/class_acc" in trainer.callback_metrics
    assert bool(model.stats_fitted)
    # Hydra hands lists as ListConfig; the checkpoint must still load weights-only.
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    loaded = FaultClassifierModule.from_checkpoint(tmp_path / "model.ckpt")
    assert loaded.input_features == ("value", "delta", "cluster")


def _fit_state(seed: int) -> dict[str, torch.Tensor]:
    L.seed_everything(seed, verbose=False)
    dm = make_datamodule(n_train=1)
    model = FaultClassifierModule(dm.n_hosts, dm.n_features)
    quiet_trainer(max_epochs=1, limit_val_batches=1).fit(model, datamodule=dm)
    return model.state_dict()


def test_training_is_deterministic_under_seed():
    a, b, c = _fit_state(3), _fit_state(3), _fit_state(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_from_last_checkpoint(tmp_path):
    L.seed_everything(0, verbose=False)
    dm = make_datamodule(n_train=1)

    def run(epochs: int, ckpt: Path | None) -> tuple[L.Trainer, FaultClassifierModule]:
        model = FaultClassifierModule(dm.n_hosts, dm.n_features)
        callback = ModelCheckpoint(dirpath=tmp_path, save_last=True, monitor="val/f1", mode="max")
        trainer = quiet_trainer(max_epochs=epochs, enable_checkpointing=True, callbacks=[callback])
        trainer.fit(model, datamodule=dm, ckpt_path=ckpt)
        return trainer, model

    first, model1 = run(2, None)
    last = tmp_path / "last.ckpt"
    assert last.is_file()
    second, model2 = run(3, last)
    assert second.current_epoch == 3
    assert second.global_step == first.global_step * 3 // 2
    assert int(model2.prototypes.steps) == second.global_step  # prototype state resumed too
    assert torch.equal(model2.feature_std, model1.feature_std)


def test_input_features_are_values_deltas_and_cluster_deviations():
    model = FaultClassifierModule(
        n_hosts=3, n_features=2, input_features=["value", "delta", "cluster"]
    )
    xn = torch.arange(2 * 3 * 3 * 2, dtype=torch.float32).reshape(2, 3, 3, 2) ** 1.5  # (B, W, H, D)
    feats = model._encoder_input(xn, None, None)  # (B, W, H, 3*D)
    assert feats.shape == (2, 3, 3, 6)
    torch.testing.assert_close(feats[..., :2], xn)
    assert torch.all(feats[:, 0, :, 2:4] == 0)  # no change before the first interval
    torch.testing.assert_close(feats[:, 1:, :, 2:4], xn[:, 1:] - xn[:, :-1])
    torch.testing.assert_close(feats[..., 4:].mean(dim=2), torch.zeros(2, 3, 2), atol=1e-4, rtol=0)
    assert model.encoder.n_features == 6


@pytest.mark.parametrize("features", [[], ["value", "value"], ["value", "slope"]])
def test_unknown_or_repeated_input_features_are_rejected(features):
    with pytest.raises(ValueError, match="input_features"):
        FaultClassifierModule(n_hosts=2, n_features=4, input_features=features)


def test_predict_window_keeps_the_training_mode_and_matches_forward(trained):
    model, dm = trained
    window = dm.splits["test"].windows[3]  # (W, H, D)
    model.train()
    one = model.predict_window(window)
    assert model.training  # restored for the trainer
    model.eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(window[None])).logits  # (1, H, 2)
    np.testing.assert_allclose(one.host_prob, torch.softmax(logits, -1)[0, :, 1].numpy(), atol=1e-6)
    np.testing.assert_array_equal(one.host_flags, one.host_prob >= float(model.threshold))
    assert not model.training


def _with_placement(ep: dict, rng: np.random.Generator, n_slots: int = 2 * N_HOSTS) -> dict:
    """A random placement and placed CPU demand; a hog here is on a host with few containers,
    as in the simulator."""
    t = ep["host_metrics"].shape[0]
    placement = rng.integers(-1, N_HOSTS, size=(t, n_slots)).astype(np.int16)  # (T, C)
    demand = rng.uniform(0, 1, size=(t, N_HOSTS)).astype(np.float32)  # (T, H)
    return ep | {"placement": placement, "host_demand": demand}


@pytest.fixture(scope="module")
def placed() -> tuple[FaultClassifierModule, WindowDataModule]:
    """A briefly trained classifier that reads the containers and demand channels."""
    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    rng = np.random.default_rng(5)
    eps = [_with_placement(synthetic_episode(rng), rng) for _ in range(3)]
    dm = WindowDataModule(eps[:2], eps[2:], eps[2:], window=3, batch_size=32)
    dm.setup()
    model = FaultClassifierModule(
        dm.n_hosts, dm.n_features, input_features=["value", "containers", "demand"]
    )
    quiet_trainer(max_epochs=1).fit(model, datamodule=dm)
    return model, dm


def test_containers_and_demand_channels_are_encoder_inputs_only(placed):
    model, dm = placed
    assert model.encoder.n_features == 4 + 2
    assert (
        model.diagnosis_head(torch.zeros(1, N_HOSTS, 10), torch.zeros(1, 3, N_HOSTS, 4)).shape[-1]
        == 4
    )  # diagnosis stays over the D resources
    test = dm.splits["test"]
    out = model.predict_windows(test.windows[:4], test.containers[:4], test.demand[:4])
    assert out.dim_scores.shape == (4, N_HOSTS, 4)
    other = model.predict_windows(test.windows[:4], test.containers[:4] + 1.0, test.demand[:4])
    assert not np.allclose(out.host_prob, other.host_prob)  # the channel is read
    other = model.predict_windows(test.windows[:4], test.containers[:4], test.demand[:4] + 1.0)
    assert not np.allclose(out.host_prob, other.host_prob)  # the demand channel is read
    one = model.predict_window(test.windows[2], test.containers[2], test.demand[2])
    np.testing.assert_allclose(one.host_prob, out.host_prob[2], atol=1e-6)


def test_containers_are_required_where_read_and_checked(placed):
    model, dm = placed
    window = dm.splits["test"].windows[0]
    with pytest.raises(ClassifierInputError, match="reads the placement"):
        model.predict_window(window)
    with pytest.raises(ClassifierInputError, match=r"containers: expected shape \(1, 3, 6\)"):
        model.predict_window(window, np.zeros((3, N_HOSTS + 1), np.float32))
    with pytest.raises(ClassifierInputError, match="containers: NaN"):
        model.predict_window(window, np.full((3, N_HOSTS), np.nan, np.float32))
    containers = dm.splits["test"].containers[0]
    with pytest.raises(ClassifierInputError, match="reads the placed CPU demand"):
        model.predict_window(window, containers)
    with pytest.raises(ClassifierInputError, match=r"demand: expected shape \(1, 3, 6\)"):
        model.predict_window(window, containers, np.zeros((2, N_HOSTS), np.float32))
    with pytest.raises(ClassifierInputError, match="demand: NaN"):
        model.predict_window(window, containers, np.full((3, N_HOSTS), np.nan, np.float32))


def test_containers_model_refuses_episodes_without_placement():
    dm = make_datamodule(n_train=1)
    model = FaultClassifierModule(N_HOSTS, 4, input_features=["value", "containers"])
    with pytest.raises(ClassifierInputError, match="no placement"):
        quiet_trainer(fast_dev_run=True).fit(model, datamodule=dm)
    model = FaultClassifierModule(N_HOSTS, 4, input_features=["value", "demand"])
    with pytest.raises(ClassifierInputError, match="no host_demand"):
        quiet_trainer(fast_dev_run=True).fit(model, datamodule=dm)


def test_policy_flagger_sees_the_training_windows_interval_for_interval(placed):
    """ClassifierFlagger, fed one Observation per interval (metrics, placement and demand
    histories), builds exactly the datamodule's window and channels (the same check on the
    real simulator: tests/data/test_windows.py::test_train_serve_parity_on_the_real_simulator)."""
    from types import SimpleNamespace

    from pregan.data.windows import episode_windows
    from pregan.models.recovery.classifier_flagging import ClassifierFlagger

    model, _ = placed
    rng = np.random.default_rng(9)
    ep = _with_placement(synthetic_episode(rng, n_intervals=12), rng)
    w = episode_windows(ep, 3, "ep")
    spec = SimpleNamespace(n_hosts=N_HOSTS)

    def obs(t: int) -> SimpleNamespace:
        last = ep["placement"][t - 1] if t else np.full(2 * N_HOSTS, -1)
        return SimpleNamespace(
            t=t,
            spec=spec,
            host_metrics=ep["host_metrics"][:t],
            placement=last,
            placement_history=ep["placement"][:t],
            host_demand=ep["host_demand"][:t],
        )

    flagger = ClassifierFlagger(model)
    flags = []
    for t in range(13):
        f, _ = flagger(obs(t))
        if t:
            window, containers, demand = flagger.inputs(obs(t))  # the same interval again
            np.testing.assert_array_equal(window, w.windows[t - 1])
            np.testing.assert_array_equal(containers, w.containers[t - 1])
            np.testing.assert_array_equal(demand, w.demand[t - 1])
            flags.append(f)
    # flag_many reads its own list (one episode), whatever the flagger saw before.
    batch, _ = flagger.flag_many([obs(t) for t in range(1, 13)])
    np.testing.assert_array_equal(batch, np.stack(flags))
    direct = model.predict_windows(w.windows, w.containers, w.demand).host_flags  # (T, H)
    np.testing.assert_array_equal(batch, direct)


def test_method_fit_uses_the_classifier_trainer_block(tmp_path):
    """fit_classifier trains for classifier.trainer.max_epochs (not the run's
    trainer.max_epochs) with its batch size, on simulated episodes with their placement."""
    from pregan.data.episodes import episode_name, save_episode, write_manifest
    from pregan.models.interfaces import FitContext
    from pregan.models.recovery.classifier_flagging import fit_classifier
    from pregan.simulation.least_full import LeastFullScheduler
    from pregan.simulation.simulator import Simulator

    with initialize_config_dir(str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"paths.output_dir={tmp_path / 'out'}",
                "simulation.n_hosts=4",
                "simulation.n_intervals=10",
                "simulation.load=null",  # the original's dense arrivals on 4 hosts
                "trainer.max_epochs=1",
                "trainer.enable_progress_bar=false",
                "+trainer.enable_model_summary=false",
                "model.classifier.trainer.max_epochs=3",
                "model.classifier.trainer.batch_size=4",
                "callbacks.early_stopping.patience=10",
                # checkpoint every epoch, so last.ckpt is the final epoch whether or not
                # val/f1 improved on it (save_last copies only saved checkpoints)
                "callbacks.model_checkpoint.monitor=null",
            ],
        )
    for split, seeds in (("train", [0, 1]), ("val", [100])):
        for seed in seeds:
            sim = Simulator.from_config(cfg, seed)
            while not sim.done:
                sim.step(LeastFullScheduler().place(sim.observe()))
            save_episode(sim.record(), tmp_path / split / episode_name(seed))
        write_manifest(
            tmp_path / split,
            seeds=seeds,
            config={},
            profile_names=("p",),
            metrics=tuple(cfg.simulation.metrics),
        )
    ctx = FitContext(
        train_dir=tmp_path / "train",
        val_dir=tmp_path / "val",
        output_dir=tmp_path / "out",
        seed=0,
        trainer_cfg=cfg.trainer,
        loggers=[],
        simulation_cfg=cfg,
        callbacks_cfg=cfg.callbacks,
    )
    classifier, _, best = fit_classifier(cfg.model.classifier, ctx)
    assert best is not None and best.is_file()
    last = torch.load(tmp_path / "out/checkpoints/classifier/last.ckpt", weights_only=True)
    assert last["epoch"] == 2  # epochs 0..2 ran: the classifier's 3, not the run's 1
    assert last["global_step"] == 3 * 5  # 20 windows in batches of 4
    assert classifier.uses_containers  # the default reads the placement
    assert classifier.uses_demand  # and the placed CPU demand


def test_window_predictor_gives_predict_windows_verdicts_and_checks(placed):
    """The policies' ONNX Runtime path: the PyTorch verdicts to float32 rounding, the same
    input checks, and a snapshot of the weights it was exported from."""
    model, dm = placed
    test = dm.splits["test"]
    predict = model.window_predictor()
    ref = model.predict_windows(test.windows[:8], test.containers[:8], test.demand[:8])
    for i in range(8):
        one = predict(test.windows[i], test.containers[i], test.demand[i])
        np.testing.assert_allclose(one.host_prob, ref.host_prob[i], atol=1e-6)
        np.testing.assert_allclose(one.embedding, ref.embedding[i], atol=1e-6)
        np.testing.assert_allclose(one.dim_scores, ref.dim_scores[i], atol=1e-6)
        np.testing.assert_array_equal(one.fault_class, ref.fault_class[i])
        np.testing.assert_array_equal(one.host_flags, one.host_prob >= float(model.threshold))
    with pytest.raises(ClassifierInputError, match="reads the placement"):
        predict(test.windows[0])
    with pytest.raises(ClassifierInputError, match=r"expected \(W, H, D\)"):
        predict(test.windows[:2], test.containers[0], test.demand[0])
    before = predict(test.windows[0], test.containers[0], test.demand[0]).host_prob
    with torch.no_grad():
        model.anomaly_head.mlp[-1].bias.add_(5.0)
    try:
        after = predict(test.windows[0], test.containers[0], test.demand[0]).host_prob
        np.testing.assert_array_equal(after, before)  # exported weights, not the live ones
    finally:
        with torch.no_grad():
            model.anomaly_head.mlp[-1].bias.sub_(5.0)


def test_window_predictor_of_a_value_only_classifier():
    """A classifier that reads no channel exports and judges with the channels left out."""
    torch.manual_seed(0)
    model = FaultClassifierModule(N_HOSTS, 4).eval()
    model.set_data_stats(np.full(4, 0.3), np.full(4, 0.2), 0.1)
    window = np.random.default_rng(0).uniform(0, 1, (3, N_HOSTS, 4)).astype(np.float32)
    one = model.window_predictor()(window)
    ref = model.predict_window(window)
    np.testing.assert_allclose(one.host_prob, ref.host_prob, atol=1e-6)
    np.testing.assert_array_equal(one.fault_class, ref.fault_class)
