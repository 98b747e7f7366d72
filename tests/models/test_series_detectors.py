"""Series detectors: find an injected fault and its dimension, label-free thresholds, bad input."""

from __future__ import annotations

from pathlib import Path

import hydra
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from pregan.models.detectors.deep_detectors import (
    RandomScoreDetector,
    TranADDetector,
    USADDetector,
    padded_windows,
)
from pregan.models.detectors.pregan_series_detector import PreganSeriesDetector
from pregan.models.detectors.series_detectors import (
    THRESHOLD_METHODS,
    IsolationForestDetector,
    PcaResidualDetector,
    PercentileRuleDetector,
    RobustZScoreDetector,
    SeriesInputError,
    Thresholder,
    context_deviation,
    ewma,
    pot_threshold,
    trailing_mean,
)
from pregan.models.detectors.training import epoch_order
from pregan.models.interfaces import SeriesDetector

CONF = Path(__file__).resolve().parents[2] / "conf"


def detector_config(name: str) -> OmegaConf:
    """conf/detector/<name>.yaml with the benchmark's shared thresholding and seed 0 resolved."""
    root = OmegaConf.create(
        {
            "seed": 0,
            "thresholding": OmegaConf.load(CONF / "benchmark_detection.yaml").thresholding,
            "detector": OmegaConf.load(CONF / "detector" / f"{name}.yaml"),
        }
    )
    OmegaConf.resolve(root)
    return root.detector


def _series(seed: int = 0, t: int = 600, d: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    phase = np.linspace(0, 12 * np.pi, t)[:, None]
    return (0.5 + 0.1 * np.sin(phase + np.arange(d)) + 0.01 * rng.standard_normal((t, d))).astype(
        np.float32
    )


def _faulty_test() -> np.ndarray:
    test = _series(seed=1, t=300)
    test[150:170, 2] += 0.6  # a fault on dim 2
    return test


@pytest.mark.parametrize(
    "detector",
    [
        RobustZScoreDetector(),
        IsolationForestDetector(n_estimators=50, seed=0),
        PcaResidualDetector(),
        PercentileRuleDetector(),
        PreganSeriesDetector(window=5, latent=8, heads=2, epochs=2, batch_size=64, seed=0),
        TranADDetector(window=5, latent=16, epochs=3, batch_size=64, seed=0),
        USADDetector(window=5, latent=8, epochs=3, batch_size=64, seed=0),
    ],
    ids=lambda d: d.name,
)
def test_detector_flags_fault_and_ranks_its_dimension(detector: SeriesDetector) -> None:
    assert isinstance(detector, SeriesDetector)
    detector.fit(_series())
    scores, flags, dim = detector.score(_faulty_test())
    assert scores.shape == (300,) and flags.dtype == bool and dim.shape == (300, 4)
    assert flags[155:170].mean() > 0.5
    assert scores[155:170].mean() > scores[:140].mean()
    assert (np.argmax(dim[155:170], axis=1) == 2).mean() > 0.8


def test_learned_thresholds_rarely_flag_normal_data() -> None:
    for det in (
        RobustZScoreDetector(),
        IsolationForestDetector(n_estimators=50),
        PcaResidualDetector(),
    ):
        det.fit(_series())
        _, flags, _ = det.score(_series(seed=2, t=300))
        assert flags.mean() < 0.05, det.name


def test_pregan_detector_is_deterministic_under_seed() -> None:
    outs = []
    for _ in range(2):
        det = PreganSeriesDetector(window=5, latent=8, heads=2, epochs=1, batch_size=64, seed=3)
        det.fit(_series())
        outs.append(det.score(_faulty_test())[0])
    np.testing.assert_array_equal(outs[0], outs[1])


def test_pregan_detector_accepts_any_encoder_factory() -> None:
    class Flat(torch.nn.Module):
        def __init__(self, f: int, w: int, latent: int, *_: int) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(w * f, latent)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, w, n, f = x.shape
            return self.lin(x.permute(0, 2, 1, 3).reshape(b, n, w * f))  # (B, N, latent)

    det = PreganSeriesDetector(window=4, latent=6, epochs=1, encoder_factory=Flat)
    det.fit(_series())
    assert det.score(_faulty_test())[2].shape == (300, 4)


def test_bad_input_errors() -> None:
    det = RobustZScoreDetector()
    with pytest.raises(RuntimeError, match="fit before score"):
        det.score(_series())
    with pytest.raises(SeriesInputError, match="expected shape"):
        det.fit(np.zeros(10))
    bad = _series()
    bad[7, 1] = np.nan
    with pytest.raises(SeriesInputError, match="row 7"):
        det.fit(bad)
    det.fit(_series())
    with pytest.raises(SeriesInputError, match="3 dims, but the detector was fitted on 4"):
        det.score(_series(d=3))


def test_pot_threshold_extrapolates_exponential_tail() -> None:
    rng = np.random.default_rng(0)
    s = rng.exponential(1.0, 100_000)
    # exact quantile for risk 1e-4 is ln(1e4) = 9.21
    assert pot_threshold(s, risk=1e-4, level=0.98) == pytest.approx(np.log(1e4), rel=0.05)


def test_trailing_mean() -> None:
    x = np.array([[1.0], [3.0], [5.0], [7.0]])
    np.testing.assert_allclose(trailing_mean(x, 2)[:, 0], [1.0, 2.0, 4.0, 6.0])


def test_pregan_relative_forecaster_follows_a_moved_level() -> None:
    """A test split whose whole level moved: level-free windows keep the forecast error low."""
    kwargs = dict(window=5, latent=8, heads=2, epochs=3, batch_size=64, seed=0)
    moved = _series(seed=1, t=300) + 0.3  # every dimension 0.3 above its training level
    errs = {}
    for relative in (True, False):
        det = PreganSeriesDetector(relative=relative, **kwargs)
        det.fit(_series())
        assert len(det.train_losses) == 3
        assert det._history is not None
        errs[relative] = det._errors(moved, det._history)[50:].mean()
    assert errs[True] < 0.5 * errs[False]


def test_context_deviation_is_causal_and_forgets_a_persistent_shift() -> None:
    x = np.zeros((100, 2), dtype=np.float32)
    x[50:, 0] = 1.0  # dim 0 moves to a new level and stays there
    history = np.zeros((10, 2), dtype=np.float32)
    dev = context_deviation(x, history, window=5, scale=np.array([0.5, 0.5]))
    assert dev.shape == (100, 2)
    assert (dev[:50] == 0).all()  # nothing before the shift: the future is never seen
    assert dev[50, 0] == pytest.approx(2.0)  # |1 - 0| / 0.5 at the onset
    assert (dev[53:, 0] == 0).all()  # after 3 of 5 rows the median is the new level
    assert (dev[:, 1] == 0).all()
    with pytest.raises(SeriesInputError, match="context window"):
        context_deviation(x, history, window=0, scale=np.ones(2))


def test_thresholder_methods_and_errors() -> None:
    rng = np.random.default_rng(0)
    calib, stream = rng.standard_normal(3000), rng.standard_normal(3000)
    stream[2000:2050] += 8.0
    for method in THRESHOLD_METHODS:
        th = Thresholder(method, risk=1e-2, level=0.98, depth=50)
        th.calibrate(calib)
        flags = th.flag(stream)
        assert flags[2000:2050].all(), method
        assert flags[:2000].mean() < 0.03, method
    with pytest.raises(SeriesInputError, match="threshold method"):
        Thresholder("median")
    with pytest.raises(RuntimeError, match="calibrate"):
        Thresholder().flag(stream)
    with pytest.raises(SeriesInputError, match="risk=0.05, level=0.98"):
        Thresholder("spot", risk=0.05, level=0.98)


def test_dspot_depth_fits_a_short_calibration() -> None:
    """A short train split (100 held-out scores) under depth 300 still flags its fault."""
    rng = np.random.default_rng(1)
    stream = rng.standard_normal(1000)
    stream[500:520] += 10.0
    th = Thresholder("dspot", risk=1e-2, level=0.98, depth=300)
    th.calibrate(rng.standard_normal(100))
    assert th.effective_depth == 25
    flags = th.flag(stream)
    assert flags[500:520].all() and flags[:500].mean() < 0.05


@pytest.mark.parametrize("method", THRESHOLD_METHODS)
def test_thresholds_start_from_a_few_dozen_scores(method: str) -> None:
    """~100 intervals per host (the original's traces): the tail starts low enough to fit."""
    rng = np.random.default_rng(3)
    stream = rng.standard_normal(60)
    stream[40:44] += 12.0
    th = Thresholder(method, risk=1e-2, level=0.98, depth=300)
    th.calibrate(rng.standard_normal(20))
    assert th.effective_level < 0.98
    flags = th.flag(stream)
    assert flags[40:44].all() and flags[:40].mean() < 0.2
    with pytest.raises(SeriesInputError, match="9 held-out scores are too few"):
        th.calibrate(np.zeros(9))


def test_pregan_detector_runs_on_a_short_train_split() -> None:
    """Channels of a few hundred rows (MSL, SMAP) fit and score with the shipped defaults."""
    cfg = detector_config("pregan")
    cfg.epochs = 1
    det = hydra.utils.instantiate(cfg)
    rng = np.random.default_rng(2)
    det.fit(rng.random((500, 6)).astype(np.float32))
    test = rng.random((400, 6)).astype(np.float32)
    test[200:230, 3] += 3.0
    scores, flags, dims = det.score(test)
    assert flags[200:230].any() and dims.shape == (400, 6)


def test_percentile_rule_or_shared_threshold() -> None:
    rule = PercentileRuleDetector()
    shared = PercentileRuleDetector(thresholding={"method": "quantile"})
    for det in (rule, shared):
        det.fit(_series())
    s_rule, f_rule, _ = rule.score(_faulty_test())
    s_shared, f_shared, _ = shared.score(_faulty_test())
    assert (f_rule == (s_rule > 0)).all()  # the original's rule
    assert shared.thresholder is not None and shared.thresholder.threshold is not None
    assert (f_shared == (s_shared > shared.thresholder.threshold)).all()
    assert f_shared[150:170].all() and f_shared[:140].mean() < 0.05


def test_pregan_slow_context_remembers_a_persistent_shift() -> None:
    """The slow median keeps a long shift visible after the 20-row context has adapted to it."""
    kwargs = dict(window=5, latent=8, heads=2, epochs=1, batch_size=64, context=20, seed=0)
    shifted = _series(seed=1, t=300)
    shifted[200:, 2] += 0.3  # a persistent shift on dim 2, ~4 training spreads
    late = {}
    for slow in (0, 400):
        det = PreganSeriesDetector(slow_context=slow, **kwargs)
        det.fit(_series())
        assert det._history is not None and det._history.shape[0] == max(20, slow)
        late[slow] = det.score(shifted)[2][250:, 2].mean()  # dim 2, after the 20-row context
    assert late[400] > late[0] + 1.0  # ~ weight 0.5 x 4 spreads more
    with pytest.raises(ValueError, match="slow_context"):
        PreganSeriesDetector(slow_context=-1)


def test_pregan_flat_dims_learn_their_spread_online() -> None:
    """A dim constant in training that varies for good after it stops dominating the score;
    a spike on it still stands out. Without `flat_window` it scores ~noise / z_floor for ever."""
    train = _series(t=800)
    train[:, 3] = 0.2  # flat in training
    test = _series(seed=1, t=900)
    rng = np.random.default_rng(5)
    test[:, 3] = 0.2 + 0.1 * rng.standard_normal(900)  # varies from the first test row on
    test[700, 3] += 2.0  # and spikes once
    kwargs = dict(window=5, latent=8, heads=2, epochs=1, batch_size=64, context=20, seed=0)
    late = {}
    for flat_window in (0, 200):
        det = PreganSeriesDetector(flat_window=flat_window, **kwargs)
        det.fit(train)
        dims = det.score(test)[2]
        late[flat_window] = dims[300:690, 3].mean()
        if flat_window:
            assert dims[700:705, 3].max() > 5 * late[flat_window]  # the spike still scores
    assert late[200] < 0.2 * late[0]
    with pytest.raises(ValueError, match="flat_window"):
        PreganSeriesDetector(flat_window=-1)


def test_pregan_recon_term_does_not_adapt_to_a_persistent_shift() -> None:
    """After the fast context has absorbed a long shift, the PCA reconstruction term still
    scores it on the shifted dim (it never adapts); weight 0 leaves the score as it was."""
    kwargs = dict(window=5, latent=8, heads=2, epochs=1, batch_size=64, context=20, seed=0)
    shifted = _series(seed=1, t=300)
    shifted[200:, 2] += 0.3  # a persistent shift on dim 2, ~4 training spreads
    late, before = {}, {}
    for weight in (0.0, 1.0):
        det = PreganSeriesDetector(recon_weight=weight, **kwargs)
        det.fit(_series())
        scores, _, dims = det.score(shifted)
        late[weight], before[weight] = dims[250:, 2].mean(), scores[20:190].mean()
        assert (det._recon is None) == (weight == 0.0)
    assert late[1.0] > late[0.0] + 1.0
    assert before[1.0] < before[0.0] + 2.0  # normal rows: the term is ~1 tail-mean unit
    top5 = PreganSeriesDetector(aggregate="top5", **kwargs)
    assert np.allclose(top5._aggregate(np.arange(12.0).reshape(2, 6)), [3.0, 9.0])
    with pytest.raises(ValueError, match="weights"):
        PreganSeriesDetector(recon_weight=-1.0)


def test_pregan_dim_quantile_scales_down_a_dim_noisy_on_normal_rows() -> None:
    """A dim with bursts all over the held-out tail gets the largest divisor; none is below 1."""
    train = _series(t=800)
    train[640::10, 3] += 0.3  # bursts on dim 3 in the last 20 % (the held-out tail)
    kwargs = dict(window=5, latent=8, heads=2, epochs=1, batch_size=64, context=20, seed=0)
    det = PreganSeriesDetector(dim_quantile=0.99, **kwargs)
    det.fit(train)
    assert det._dim_norm is not None and det._dim_norm.shape == (4,)
    assert (det._dim_norm >= 1.0).all() and det._dim_norm[3] > 1.5 * det._dim_norm[:3].max()
    plain = PreganSeriesDetector(**kwargs)
    plain.fit(train)
    assert plain._dim_norm is None
    with pytest.raises(ValueError, match="dim_quantile"):
        PreganSeriesDetector(dim_quantile=1.0)


def test_ewma_is_causal_and_decays() -> None:
    x = np.array([[4.0, 0.0], [0.0, 2.0], [0.0, 0.0]], dtype=np.float32)
    assert np.allclose(ewma(x, 0.5), [[4.0, 0.0], [2.0, 1.0], [1.0, 0.5]])
    assert np.allclose(ewma(x, 1.0), x)
    with pytest.raises(SeriesInputError, match="alpha"):
        ewma(x, 0.0)


def test_pregan_error_norm_smoothing_and_max_aggregate() -> None:
    """zscore: a dim whose tail error is large but steady is not above 0 on its usual rows;
    EWMA keeps a decaying trace of a spike where the trailing mean drops it; max picks the
    largest dim; unknown options name themselves."""
    kwargs = dict(window=5, latent=8, heads=2, epochs=1, batch_size=64, context=20, seed=0)
    det = PreganSeriesDetector(error_norm="zscore", **kwargs)
    det.fit(_series())
    assert det._err_mean is not None and det._err_std is not None
    err = np.stack([det._err_mean, det._err_mean + 3 * det._err_std])  # (2, D)
    assert np.allclose(det._error_norm(err, "zscore"), [[0.0] * 4, [3.0] * 4], atol=1e-4)
    assert np.allclose(det._error_norm(det._err_mean[None], "mean"), 1.0, atol=1e-5)
    spike = np.zeros((10, 1), dtype=np.float32)
    spike[0] = 1.0
    det.smooth, det.smoothing = 3, "ewma"
    assert det._smooth(spike)[5, 0] > 0.0
    det.smoothing = "mean"
    assert det._smooth(spike)[5, 0] == 0.0
    det.aggregate = "max"
    assert np.allclose(det._aggregate(np.arange(12.0).reshape(2, 6)), [5.0, 11.0])
    with pytest.raises(ValueError, match="smoothing"):
        PreganSeriesDetector(smoothing="median")
    with pytest.raises(ValueError, match="error_norm"):
        PreganSeriesDetector(error_norm="max")


def test_pregan_diagnosis_ranks_by_a_chosen_term_without_changing_detection() -> None:
    det = PreganSeriesDetector(window=5, latent=8, heads=2, epochs=2, batch_size=64, context=20)
    det.fit(_series())
    scores, flags, dim = det.score(_faulty_test())
    for diagnosis in ("error", "context", "error_zscore"):
        det.diagnosis = diagnosis
        s2, f2, ranked = det.score(_faulty_test())
        assert np.array_equal(s2, scores) and np.array_equal(f2, flags)
        assert ranked.shape == dim.shape and not np.allclose(ranked, dim)
        assert ranked[150:170].mean(axis=0).argmax() == 2  # the faulty dim leads
    with pytest.raises(ValueError, match="diagnosis"):
        PreganSeriesDetector(diagnosis="both")


def test_pca_residual_sees_a_broken_correlation_within_range() -> None:
    """Two dims that move together; in test one holds still while the other moves on, every
    value inside its training range: a per-dimension z sees little, the PCA residual sees it."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 40 * np.pi, 3000)
    base = np.sin(t)[:, None]
    train = np.hstack([base, base, 0.01 * rng.standard_normal((3000, 1))])
    train[:, :2] += 0.01 * rng.standard_normal((3000, 2))
    test = train[:400].copy()
    test[200:260, 1] = test[199, 1]  # dim 1 stops following dim 0
    pca, robust = PcaResidualDetector(), RobustZScoreDetector()
    for det in (pca, robust):
        det.fit(train.astype(np.float32))
    p_scores, p_flags, p_dim = pca.score(test.astype(np.float32))
    r_scores, _, _ = robust.score(test.astype(np.float32))
    assert p_flags[210:260].all()
    assert set(np.argmax(p_dim[210:260], axis=1).tolist()) <= {0, 1}  # the pair, not the noise
    rise = lambda s: s[210:260].mean() / s[:190].mean()  # noqa: E731
    assert rise(p_scores) > 3 * rise(r_scores)
    with pytest.raises(SeriesInputError, match="variance"):
        PcaResidualDetector(variance=1.0)


@pytest.mark.parametrize(
    "make", [RobustZScoreDetector, IsolationForestDetector, PcaResidualDetector]
)
def test_score_before_fit_is_refused(make) -> None:
    with pytest.raises(RuntimeError, match="call fit before score"):
        make().score(_series())


@pytest.mark.parametrize(
    "name", ["random", "tranad", "usad", "pregan", "pca", "iforest", "robust_z"]
)
def test_every_detector_config_instantiates_with_the_shared_threshold(name: str) -> None:
    det = hydra.utils.instantiate(detector_config(name))
    assert det.name == name
    shared = OmegaConf.load(CONF / "benchmark_detection.yaml").thresholding
    th = det.thresholder
    settings = ("method", "risk", "level", "depth", "absorb", "absorb_share")
    assert {k: getattr(th, k) for k in settings} == {k: shared[k] for k in settings}


def test_percentile_config_keeps_the_original_rule() -> None:
    det = hydra.utils.instantiate(detector_config("percentile"))
    assert det.name == "percentile" and det.thresholder is None


def test_thresholder_from_spec_copies_settings_never_state() -> None:
    spec = {"method": "dspot", "risk": 1e-2, "level": 0.98, "depth": 300, "absorb": 1500}
    first = Thresholder.from_spec(spec)
    first.calibrate(np.random.default_rng(0).random(200))
    copy = Thresholder.from_spec(first)
    assert (copy.method, copy.depth, copy.absorb) == ("dspot", 300, 1500)
    assert copy.calib is None and copy.threshold is None and first.threshold is not None
    assert Thresholder.from_spec(None) == Thresholder()
    with pytest.raises(SeriesInputError, match=r"unknown keys \['treshold'\]"):
        Thresholder.from_spec({"treshold": "spot"})
    with pytest.raises(SeriesInputError, match="expected a mapping"):
        Thresholder.from_spec("dspot")
    with pytest.raises(SeriesInputError, match="risk=0.05, level=0.98"):
        RobustZScoreDetector(thresholding={"risk": 0.05})


def test_random_scores_are_seeded_and_carry_no_signal() -> None:
    a, b = RandomScoreDetector(seed=1), RandomScoreDetector(seed=1)
    for det in (a, b):
        det.fit(_series())
    sa, fa, da = a.score(_faulty_test())
    sb, _, _ = b.score(_faulty_test())
    np.testing.assert_array_equal(sa, sb)
    assert abs(sa[150:170].mean() - sa[:140].mean()) < 0.2  # the fault does not show
    assert da.shape == (300, 4) and fa.dtype == bool


@pytest.mark.parametrize("cls", [TranADDetector, USADDetector])
def test_deep_detectors_are_deterministic_and_need_fit(cls: type) -> None:
    with pytest.raises(RuntimeError, match="fit before score"):
        cls(window=4, epochs=1).score(_series())
    outs = []
    for _ in range(2):
        det = cls(window=4, latent=8, epochs=1, batch_size=64, seed=5)
        det.fit(_series())
        outs.append(det.score(_faulty_test())[0])
        assert len(det.train_losses) == 1 and np.isfinite(det.train_losses[0])
    np.testing.assert_array_equal(outs[0], outs[1])
    with pytest.raises(ValueError, match="must be >= 1"):
        cls(window=0)


def test_padded_windows_end_at_each_row() -> None:
    x = torch.arange(10, dtype=torch.float32).view(5, 2)  # rows (0,1), (2,3), ...
    w = padded_windows(x, 3)  # (5, 3, 2)
    assert w.shape == (5, 3, 2)
    np.testing.assert_array_equal(w[0].numpy(), [[0, 1], [0, 1], [0, 1]])  # edge-padded
    np.testing.assert_array_equal(w[4].numpy(), x[2:5].numpy())


def test_epoch_order_caps_the_windows_seen() -> None:
    gen = torch.Generator().manual_seed(0)
    full = epoch_order(100, 0, gen)
    assert sorted(full.tolist()) == list(range(100))
    capped = epoch_order(100, 30, torch.Generator().manual_seed(0))
    assert capped.shape == (30,) and len(set(capped.tolist())) == 30
    with pytest.raises(ValueError, match="windows_per_epoch"):
        epoch_order(10, -1, gen)


def test_pregan_recon_head_scores_the_window_and_is_off_by_default() -> None:
    """The reconstruction head is trained beside the forecast only when weighted; its term is
    ~1 tail-mean unit on normal rows and leads on a faulty dim."""
    kwargs = dict(window=5, latent=8, heads=2, epochs=2, batch_size=64, context=20, seed=0)
    plain = PreganSeriesDetector(**kwargs)
    plain.fit(_series())
    assert plain._model is not None and plain._model.recon is None and plain._rec_mean is None
    det = PreganSeriesDetector(recon_head_weight=1.0, **kwargs)
    det.fit(_series())
    assert det._model is not None and det._model.recon is not None
    assert det._rec_mean is not None and det._rec_mean.shape == (4,)
    assert det._history is not None
    term = det._recon_head_term(_faulty_test(), det._history)  # (T, D)
    assert term.shape == (300, 4) and np.isfinite(term).all()
    assert 0.2 < np.median(term[20:140]) < 5.0
    assert term[150:170].mean(axis=0).argmax() == 2
    scores, flags, _ = det.score(_faulty_test())
    assert flags[150:175].any() and scores[150:175].max() > scores[20:140].max()
    with pytest.raises(ValueError, match="recon_head_weight"):
        PreganSeriesDetector(recon_head_weight=-0.5)


def test_pregan_pca_view_fuses_scores_in_tail_units() -> None:
    """v = 1 is the PCA reference's score in its tail units; v = 0 leaves PreGAN's alone."""
    kwargs = dict(window=5, latent=8, heads=2, epochs=1, batch_size=64, context=20, seed=0)
    only_pca = PreganSeriesDetector(pca_view_weight=1.0, **kwargs)
    only_pca.fit(_series())
    pca = PcaResidualDetector(seed=0)
    pca.fit(_series())
    raw = pca.score(_faulty_test())[0]
    assert only_pca._view_norm is not None
    med, spread = only_pca._view_norm[1]
    fused, flags, dims = only_pca.score(_faulty_test())
    assert np.allclose(fused, (raw - med) / spread, atol=1e-5)
    assert dims.shape == (300, 4) and flags[150:175].any()
    half = PreganSeriesDetector(pca_view_weight=0.5, **kwargs)
    half.fit(_series())
    plain = PreganSeriesDetector(**kwargs)
    plain.fit(_series())
    assert plain._view is None
    s_half, _, d_half = half.score(_faulty_test())
    s_plain, _, d_plain = plain.score(_faulty_test())
    assert np.array_equal(d_half, d_plain) and not np.allclose(s_half, s_plain)
    with pytest.raises(ValueError, match="pca_view_weight"):
        PreganSeriesDetector(pca_view_weight=1.5)


def test_pregan_diagnosis_with_the_training_distribution() -> None:
    """train_weight adds each dim's training z to the ranking (detection unchanged);
    rank_train averages the two rankings' positions, which lie in [0, D - 1]."""
    kwargs = dict(window=5, latent=8, heads=2, epochs=1, batch_size=64, context=20, seed=0)
    det = PreganSeriesDetector(**kwargs)
    det.fit(_series())
    scores, flags, dim = det.score(_faulty_test())
    det.train_weight = 1.0
    s2, f2, blended = det.score(_faulty_test())
    assert np.array_equal(s2, scores) and np.array_equal(f2, flags)
    assert (blended >= dim).all() and not np.allclose(blended, dim)
    assert blended[150:170].mean(axis=0).argmax() == 2
    det.train_weight, det.diagnosis = 0.0, "rank_train"
    ranks = det.score(_faulty_test())[2]
    assert ranks.min() >= 0 and ranks.max() <= 3 and ranks[150:170].mean(axis=0).argmax() == 2
    with pytest.raises(ValueError, match="train_weight"):
        PreganSeriesDetector(train_weight=-1.0)


def test_pregan_robust_input_scale_trains_in_robust_units() -> None:
    """`robust`: each dim's unit is its train-head IQR / 1.349 floored at z_floor; errors come
    back in the data's units (a forecaster that predicts 0 errs by |x| either way)."""
    kwargs = dict(window=5, latent=8, heads=2, epochs=1, batch_size=64, context=20, seed=0)
    train = _series(t=600)
    train[:, 1] = 0.5  # flat in training: its unit is the floor
    det = PreganSeriesDetector(input_scale="robust", **kwargs)
    det.fit(train)
    head = train[:480]
    q1, q3 = np.quantile(head, [0.25, 0.75], axis=0)
    assert det._in_scale is not None
    assert np.allclose(det._in_scale, np.maximum((q3 - q1) / 1.349, 0.01), rtol=1e-5)
    assert det._in_scale[1] == pytest.approx(0.01)
    err = np.abs(np.random.default_rng(0).random((3, 4), dtype=np.float32))
    assert np.allclose(det._unscaled(det._scaled(err)), err, rtol=1e-6)
    scores, flags, dims = det.score(_faulty_test())
    assert np.isfinite(scores).all() and flags[150:175].any()
    plain = PreganSeriesDetector(**kwargs)
    plain.fit(train)
    assert plain._in_scale is None
    with pytest.raises(ValueError, match="input_scale"):
        PreganSeriesDetector(input_scale="minmax")
