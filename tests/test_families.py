"""Model families: preprocessing, early stopping on the fold holdout, threads, portfolios."""

import dataclasses
import os
import pickle
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge

from skstack import BaggedOOFEstimator, StackLayer
from skstack.families import (
    DEFAULT,
    FamilyModel,
    PortfolioEntry,
    build_estimators,
    family_of,
)

pytest.importorskip("lightgbm")
pytest.importorskip("xgboost")
pytest.importorskip("catboost")

SMALL = {
    "lightgbm": {"n_estimators": 30},
    "xgboost": {"n_estimators": 30},
    "catboost": {"iterations": 30},
    "random_forest": {"n_estimators": 20},
    "extra_trees": {"n_estimators": 20},
    "knn": {"n_neighbors": 5},
    "linear": {},
}
try:
    import skorch  # noqa: F401
    import torch  # noqa: F401

    SMALL["mlp"] = {"max_epochs": 30, "learning_rate": 1e-2, "hidden_sizes": (32,)}
except ImportError:  # the nn extra is not installed
    pass


# Families that train in rounds or epochs: early stopping and deadlines apply to them.
BOOSTING_FAMILIES = [
    ("lightgbm", "n_estimators"), ("xgboost", "n_estimators"), ("catboost", "iterations"),
]
ROUNDED_FAMILIES = [
    *BOOSTING_FAMILIES,
    pytest.param("mlp", "max_epochs", marks=pytest.mark.skipif(
        "mlp" not in SMALL, reason="the nn extra is not installed")),
]


def mixed_frame(n=240, seed=0):
    """Numbers with NaN, object, pandas string, category and bool columns."""
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame({
        "num": rng.normal(size=n),
        "num_nan": np.where(rng.rand(n) < 0.2, np.nan, rng.normal(size=n)),
        "city": rng.choice(["paris", "lyon", "nice", None], size=n).astype(object),
        "text": pd.array(rng.choice(["a", "b", "c"], size=n), dtype="string"),
        "cat": pd.Categorical(rng.choice(["x", "y"], size=n)),
        "flag": rng.rand(n) < 0.5,
    })
    signal = frame["num"] + (frame["city"] == "paris") + (frame["cat"] == "x") * 0.5
    return frame, signal.to_numpy()


def targets(signal, task):
    if task == "binary":
        return np.where(signal > np.median(signal), "yes", "no")
    if task == "multiclass":
        return np.digitize(signal, np.quantile(signal, [0.33, 0.66]))
    return signal * 10.0


def small_estimators(task):
    portfolio = [PortfolioEntry(name, params, -i) for i, (name, params) in enumerate(SMALL.items())]
    return build_estimators(portfolio, task="regression" if task == "regression"
                            else "classification")


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_family_in_a_bag_with_categoricals_and_nan(task):
    frame, signal = mixed_frame()
    y = targets(signal, task)
    unseen = frame.head(20).copy()
    unseen["city"] = "berlin"  # a category never seen at fit
    unseen["text"] = pd.array(["zzz"] * 20, dtype="string")
    unseen["num"] = np.nan  # NaN only at predict time
    for name, model in small_estimators(task):
        bag = BaggedOOFEstimator(model, n_folds=3, random_state=0).fit(frame, y)
        assert np.isfinite(bag.oof_pred_).all(), name
        pred = bag.predict(unseen)
        assert len(pred) == 20, name
        if task != "regression":
            assert set(pred) <= set(bag.classes_), name
        better_than_chance = 0.4 if task == "multiclass" else 0.6
        if task != "regression":
            assert bag.oof_score_ > better_than_chance, name


def test_every_family_in_a_stack_layer():
    frame, signal = mixed_frame()
    y = targets(signal, "multiclass")
    layer = StackLayer(small_estimators("multiclass"), n_folds=3, random_state=0)
    out = layer.fit_transform(frame, y)
    assert out.shape == (len(y), 3 * len(SMALL))
    assert np.isfinite(layer.transform(frame)).all()


@pytest.mark.parametrize("family,rounds_param", ROUNDED_FAMILIES)
def test_early_stopping_uses_the_fold_holdout_and_stops(family, rounds_param):
    frame, signal = mixed_frame(n=300)
    y = targets(signal, "binary")
    (name, model), = build_estimators(
        [PortfolioEntry(family, {rounds_param: 2000, "learning_rate": 0.3})],
        task="classification")
    model.set_params(patience=10)
    bag = BaggedOOFEstimator(model, n_folds=3, refit_full=True, random_state=0).fit(frame, y)
    rounds = [m.best_rounds_ for m in bag.estimators_]
    assert all(r is not None and r < 500 for r in rounds), rounds
    refit = bag.full_estimator_
    assert refit.best_rounds_ is None  # trained on all rows for the folds' mean rounds
    assert refit.estimator_.get_params()[rounds_param] == max(1, round(np.mean(rounds)))


@pytest.mark.parametrize("family", ["linear", "lightgbm", "random_forest"])
def test_a_bag_fits_the_family_preprocessing_once(family):
    frame, signal = mixed_frame()
    y = targets(signal, "multiclass")
    (_, model), = build_estimators([PortfolioEntry(family, SMALL.get(family, {}))],
                                   task="classification")
    bag = BaggedOOFEstimator(model, n_folds=3, refit_full=True, random_state=0).fit(frame, y)
    assert bag.preprocessor_ is not None
    assert all(m.preprocessor_ is None for m in bag.estimators_ + [bag.full_estimator_])
    encoded = bag.preprocessor_.transform(frame)
    np.testing.assert_allclose(bag.predict_proba(frame),
                               bag.full_estimator_.predict_proba(encoded))
    folds = BaggedOOFEstimator(model, n_folds=3, native_oof=False, random_state=0)
    folds.fit(frame, y)
    np.testing.assert_allclose(
        folds.predict_proba(frame),
        np.mean([m.predict_proba(folds.preprocessor_.transform(frame))
                 for m in folds.estimators_], axis=0))
    # A model that does not share its preprocessing is bagged as it is.
    plain = BaggedOOFEstimator(LogisticRegression(), n_folds=3).fit(frame[["num"]], y)
    assert plain.preprocessor_ is None


def test_fold_models_share_one_prepared_input(monkeypatch):
    frame, signal = mixed_frame()
    y = targets(signal, "multiclass")
    (_, model), = build_estimators([PortfolioEntry("lightgbm", SMALL["lightgbm"])],
                                   task="classification")
    bag = BaggedOOFEstimator(model, n_folds=4, random_state=0).fit(frame, y)
    expected = np.mean([m.predict_proba(bag.preprocessor_.transform(frame))
                        for m in bag.estimators_], axis=0)
    calls = []
    original = FamilyModel._model_input
    monkeypatch.setattr(FamilyModel, "_model_input",
                        lambda self, X: calls.append(1) or original(self, X))
    np.testing.assert_allclose(bag.predict_proba(frame), expected)
    assert len(calls) == 1  # checked and converted once for the four fold models
    prepared = bag.estimators_[0].prepare_input(bag.preprocessor_.transform(frame))
    (_, other), = build_estimators([PortfolioEntry("xgboost", SMALL["xgboost"])],
                                   task="classification")
    other = BaggedOOFEstimator(other, n_folds=2, random_state=0).fit(frame, y)
    with pytest.raises(ValueError, match="prepared for a model of another family"):
        other.estimators_[0].predict_proba(prepared)
    with pytest.raises(ValueError, match="without preprocessing of its own"):
        FamilyModel(LogisticRegression()).fit(frame, y).prepare_input(frame)


def test_a_layer_applies_equal_preprocessing_once():
    frame, signal = mixed_frame()
    y = targets(signal, "binary")
    entries = [PortfolioEntry("lightgbm", SMALL["lightgbm"]),
               PortfolioEntry("xgboost", SMALL["xgboost"]),
               PortfolioEntry("linear", {}), PortfolioEntry("knn", {})]
    layer = StackLayer(build_estimators(entries, task="classification"), n_folds=3,
                       random_state=0).fit(frame, y)
    bags = layer.named_estimators_
    assert bags["lightgbm"].preprocessor_ is bags["xgboost"].preprocessor_
    assert bags["linear"].preprocessor_ is bags["knn"].preprocessor_
    assert bags["lightgbm"].preprocessor_ is not bags["linear"].preprocessor_
    expected = np.hstack([bag.predict_proba(frame)[:, 1:] for bag in layer.estimators_])
    np.testing.assert_allclose(layer.transform(frame), expected)
    restored = pickle.loads(pickle.dumps(layer))
    assert (restored.named_estimators_["lightgbm"].preprocessor_
            is restored.named_estimators_["xgboost"].preprocessor_)


def test_plain_fit_early_stops_on_its_own_holdout():
    frame, signal = mixed_frame(n=300)
    (_, model), = build_estimators([PortfolioEntry("lightgbm", {"n_estimators": 5000,
                                                                "learning_rate": 0.3})],
                                   task="regression")
    model.set_params(patience=10).fit(frame, signal)
    assert model.best_rounds_ < 500


def test_all_nan_column_inside_a_fold():
    frame, signal = mixed_frame(n=90)
    frame["num_nan"] = np.r_[np.full(30, np.nan), np.ones(60)]
    y = targets(signal, "regression")
    from sklearn.model_selection import KFold

    for name, model in small_estimators("regression"):
        bag = BaggedOOFEstimator(model, cv=KFold(3)).fit(frame, y)  # fold 1 trains w/o it
        assert np.isfinite(bag.predict(frame)).all(), name


def test_numpy_input_works():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(120, 4)), rng.randint(2, size=120)
    for name, model in small_estimators("binary"):
        assert model.fit(X, y).predict_proba(X).shape == (120, 2), name
        assert not hasattr(model, "feature_names_in_")


def test_threads_are_capped_through_the_family_parameter(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame, signal = mixed_frame(n=120)
    (_, model), = build_estimators([PortfolioEntry("catboost", {"iterations": 20})],
                                   task="regression")
    bag = BaggedOOFEstimator(model, n_folds=2, n_jobs=2, random_state=0).fit(frame, signal)
    from joblib import cpu_count

    expected = max(1, cpu_count() // 2)
    assert {m.estimator_.get_params()["thread_count"] for m in bag.estimators_} == {expected}
    assert os.listdir(tmp_path) == []  # CatBoost wrote no files


def test_family_lookup_and_generic_family():
    from lightgbm import LGBMRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor

    assert family_of(LGBMRegressor()).name == "lightgbm"
    assert family_of(RandomForestRegressor()).name == "random_forest"
    assert family_of(Ridge()).name == "linear"
    assert family_of(HistGradientBoostingClassifier()).name == "generic"


def test_custom_estimator_as_a_family_and_exclusion():
    from sklearn.ensemble import HistGradientBoostingClassifier

    portfolio = [PortfolioEntry(HistGradientBoostingClassifier(), {"max_iter": 20}, 5),
                 PortfolioEntry("linear", {}, 10), PortfolioEntry("knn", {}, 1)]
    names = [n for n, _ in build_estimators(portfolio, task="classification",
                                            excluded_families=["knn"])]
    assert names == ["linear", "histgradientboostingclassifier"]
    frame, signal = mixed_frame()
    (_, model), = build_estimators(portfolio[:1], task="classification")
    model.fit(frame, targets(signal, "binary"))
    with pytest.raises(ValueError, match="Unknown family"):
        build_estimators([PortfolioEntry("nope")], task="regression")


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_default_portfolio_entries_construct_and_fit(task):
    frame, signal = mixed_frame(n=80)
    y = targets(signal, "binary" if task == "classification" else "regression")
    models = build_estimators(DEFAULT, task=task)
    assert len(models) == len(DEFAULT) and len({n for n, _ in models}) == len(models)
    for name, model in models:
        model.set_params(patience=5)
        bag = BaggedOOFEstimator(model, n_folds=2, random_state=0).fit(frame, y)
        assert np.isfinite(bag.oof_pred_).all(), name


def test_labels_are_encoded_for_the_model():
    from xgboost import XGBClassifier

    frame, signal = mixed_frame()
    y = targets(signal, "binary")  # strings, which XGBoost alone rejects
    model = FamilyModel(XGBClassifier(n_estimators=10)).fit(frame, y)
    assert set(model.predict(frame)) <= {"yes", "no"}
    np.testing.assert_array_equal(model.classes_, ["no", "yes"])


def test_linear_family_is_scaled_and_one_hot_encoded():
    frame, signal = mixed_frame()
    model = FamilyModel(LogisticRegression()).fit(frame, targets(signal, "binary"))
    transformed = model.preprocessor_.transform(frame)
    assert transformed.shape[1] > frame.shape[1]
    assert np.isfinite(transformed).all()


def test_forest_out_of_bag_predictions_are_the_oof():
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(150, 4)), rng.randint(3, size=150)
    model = FamilyModel(RandomForestClassifier(n_estimators=60, random_state=1))
    bag = BaggedOOFEstimator(model, n_folds=5).fit(X, y)
    assert len(bag.estimators_) == 1
    direct = RandomForestClassifier(n_estimators=60, random_state=1, oob_score=True).fit(X, y)
    covered = bag.oof_mask_
    np.testing.assert_allclose(bag.oof_pred_[covered], direct.oob_decision_function_[covered])
    assert covered.mean() > 0.95
    y_reg = X[:, 0] + rng.normal(0, 0.1, 150)
    bag = BaggedOOFEstimator(FamilyModel(ExtraTreesRegressor(n_estimators=60, random_state=1)),
                             refit_full=True).fit(X, y_reg)
    direct = ExtraTreesRegressor(n_estimators=60, random_state=1, bootstrap=True,
                                 oob_score=True).fit(X, y_reg)
    np.testing.assert_allclose(bag.oof_pred_[bag.oof_mask_],
                               direct.oob_prediction_[bag.oof_mask_])
    assert bag.full_estimator_ is bag.estimators_[0]


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_leave_one_out_predictions_are_the_oof(weights):
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 3)), rng.randint(2, size=40)
    bag = BaggedOOFEstimator(FamilyModel(KNeighborsClassifier(5, weights=weights),
                                         preprocessing="none")).fit(X, y)
    assert len(bag.estimators_) == 1
    y_reg = X[:, 0] * 3
    bag_reg = BaggedOOFEstimator(FamilyModel(KNeighborsRegressor(5, weights=weights),
                                             preprocessing="none")).fit(X, y_reg)
    for i in range(len(y)):
        rest = np.arange(len(y)) != i
        clf = KNeighborsClassifier(5, weights=weights).fit(X[rest], y[rest])
        np.testing.assert_allclose(bag.oof_pred_[i], clf.predict_proba(X[i:i + 1])[0])
        reg = KNeighborsRegressor(5, weights=weights).fit(X[rest], y_reg[rest])
        np.testing.assert_allclose(bag_reg.oof_pred_[i], reg.predict(X[i:i + 1])[0])


def test_native_oof_can_be_switched_off_and_respects_groups():
    from sklearn.ensemble import RandomForestRegressor

    frame, signal = mixed_frame(n=100)
    model = FamilyModel(RandomForestRegressor(n_estimators=10))
    assert len(BaggedOOFEstimator(model, n_folds=4, native_oof=False)
               .fit(frame, signal).estimators_) == 4
    groups = np.arange(100) % 10
    assert len(BaggedOOFEstimator(model, n_folds=4).fit(frame, signal, groups=groups)
               .estimators_) == 4
    layer = StackLayer([("rf", model), ("linear", FamilyModel(Ridge()))], n_folds=4,
                       random_state=0).fit(frame, signal)
    assert [len(bag.estimators_) for bag in layer.estimators_] == [1, 4]


@pytest.mark.skipif("mlp" not in SMALL, reason="the nn extra is not installed")
def test_mlp_is_seeded_and_deterministic():
    from skstack.families import MLPClassifier

    frame, signal = mixed_frame(n=120)
    y = targets(signal, "binary")
    runs = [BaggedOOFEstimator(FamilyModel(MLPClassifier(max_epochs=5)), n_folds=3,
                               random_state=4, n_jobs=n_jobs).fit(frame, y).oof_pred_
            for n_jobs in (1, 2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    model = FamilyModel(MLPClassifier(max_epochs=5, device="auto")).fit(frame, y)
    assert model.estimator_.device_ in ("cpu", "cuda")


@pytest.mark.skipif("mlp" not in SMALL, reason="the nn extra is not installed")
def test_mlp_trains_without_importing_torch_dynamo():
    # In a fresh process: another test may have imported torch._dynamo in this one.
    import subprocess
    import sys

    script = """
import sys
import numpy as np
import torch
from skstack.families import MLPClassifier
from skstack.families._mlp import _dynamo_wrapped, _eager_adamw
X = np.random.default_rng(0).normal(size=(200, 4)); y = (X[:, 0] > 0).astype(int)
for validation in (None, 0.2):
    MLPClassifier(max_epochs=3, validation_fraction=validation).fit(X, y)
assert "torch._dynamo" not in sys.modules, "torch._dynamo was imported"
assert not any(hasattr(fn, "__dynamo_disable") for fn in _dynamo_wrapped(_eager_adamw()))
import torch._dynamo  # imported by the user: the next fit leaves torch as it is
MLPClassifier(max_epochs=3).fit(X, y)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.skipif("mlp" not in SMALL, reason="the nn extra is not installed")
def test_mlp_predictions_equal_those_of_torch_adamw(monkeypatch):
    import torch

    from skstack.families import MLPRegressor, _mlp

    X = np.random.default_rng(1).normal(size=(150, 4))
    y = X[:, 0] - 2 * X[:, 1]
    eager = MLPRegressor(max_epochs=4, random_state=0).fit(X, y).predict(X)
    monkeypatch.setattr(_mlp, "_eager_adamw", lambda: torch.optim.AdamW)
    plain = MLPRegressor(max_epochs=4, random_state=0).fit(X, y).predict(X)
    np.testing.assert_array_equal(eager, plain)


@pytest.mark.skipif("mlp" not in SMALL, reason="the nn extra is not installed")
def test_mlp_max_time_stops_inside_an_epoch():
    import time

    from skstack.families import MLPRegressor

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(4000, 5)), rng.normal(size=4000)
    # One-row batches: an epoch takes seconds, far more than the time allowed.
    net = MLPRegressor(batch_size=1, max_epochs=3, random_state=0)
    start = time.monotonic()
    net.fit(X, y)
    epoch = (time.monotonic() - start) / 3
    for validation in (None, 0.1):  # the cut epoch has no validation loss
        start = time.monotonic()
        net.set_params(max_time=epoch / 10, validation_fraction=validation).fit(X, y)
        assert time.monotonic() - start < epoch / 2
        assert net.n_epochs_ == net.best_epoch_ == 1
        assert np.isfinite(net.predict(X[:5])).all()


def test_missing_backend_is_left_out_with_a_warning(monkeypatch):
    from skstack.families import portfolios

    family = portfolios._FAMILIES["catboost"]
    monkeypatch.setitem(portfolios._FAMILIES, "catboost",
                        type(family)(**{**family.__dict__, "requires": ("no_such_module",)}))
    with pytest.warns(UserWarning, match="catboost"):
        names = [name for name, _ in build_estimators(DEFAULT, task="regression")]
    assert "catboost" not in names and "lightgbm" in names


def test_large_portfolio_entries_construct_and_fit():
    from skstack.families import LARGE

    assert len(LARGE) >= 40
    frame, signal = mixed_frame(n=60)
    for task in ("classification", "regression"):
        models = build_estimators(LARGE, task=task)
        assert len({name for name, _ in models}) == len(models) == len(LARGE)
    for name, model in build_estimators(LARGE, task="classification"):
        model.set_params(patience=3)
        if "mlp" in name:
            model.set_params(estimator__max_epochs=3)
        bag = BaggedOOFEstimator(model, n_folds=2, random_state=0)
        bag.fit(frame, targets(signal, "binary"))
        assert np.isfinite(bag.oof_pred_).all(), name


def test_boosting_families_are_silent_and_write_no_files(capfd, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame, signal = mixed_frame(n=120)
    y = targets(signal, "multiclass")
    entries = [PortfolioEntry(name, SMALL[name]) for name in ("lightgbm", "xgboost", "catboost")]
    for _, model in build_estimators(entries, task="classification"):
        BaggedOOFEstimator(model, n_folds=2, random_state=0).fit(frame, y)
    out, err = capfd.readouterr()
    assert out == "" and "[LightGBM]" not in err and "catboost" not in err.lower()
    assert list(tmp_path.iterdir()) == []  # no catboost_info/ or other training logs


@pytest.mark.parametrize("family,rounds_param", ROUNDED_FAMILIES)
def test_max_time_stops_training_and_keeps_a_usable_model(family, rounds_param):
    import time

    frame, signal = mixed_frame(n=300)
    y = targets(signal, "multiclass")
    (_, model), = build_estimators(
        [PortfolioEntry(family, {rounds_param: 1_000_000, "learning_rate": 0.01})],
        task="classification")
    model.set_params(max_time=0.5, early_stopping=False)
    start = time.monotonic()
    model.fit(frame, y)
    assert time.monotonic() - start < 5.0
    proba = model.predict_proba(frame)
    assert proba.shape == (300, 3) and np.isfinite(proba).all()
    # With a validation set too: both early stopping and the deadline are in force.
    model.set_params(early_stopping=True, patience=1_000_000)
    start = time.monotonic()
    model.fit(frame, y)
    assert time.monotonic() - start < 5.0
    assert model.best_rounds_ >= 1
    # The deadline hook (a clock value, a local class) is not kept: the model pickles.
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_proba(frame), model.predict_proba(frame))


@pytest.mark.parametrize("family,rounds_param", BOOSTING_FAMILIES)
def test_max_time_raises_the_learning_rate_only_when_rounds_cannot_fit(family, rounds_param):
    frame, signal = mixed_frame(n=3000)
    y = targets(signal, "binary")
    (_, model), = build_estimators(
        [PortfolioEntry(family, {rounds_param: 1_000_000, "learning_rate": 0.01})],
        task="classification")
    # CatBoost's start-up alone nears 0.2 s on a busy machine, and a probe the deadline
    # cuts keeps its rate; its 2,000 rounds take seconds, far past 0.5 s.
    max_time = 0.5 if family == "catboost" else 0.2
    model.set_params(early_stopping=True, max_time=max_time)
    model.fit(frame, y)
    # 2,000 rounds (20 x 0.01) never fit in that time: the fit trains at a coarser rate, at
    # most 0.2.
    assert model.rate_scale_ > 1.0
    rate = model.estimator_.get_params()["learning_rate"]
    assert rate == pytest.approx(0.01 * model.rate_scale_) and rate <= 0.2
    assert model.estimator.get_params()["learning_rate"] == 0.01  # the parameter is kept
    assert model.time_shortfall_ >= 1.0
    # A millisecond affords one round: even at rate 0.2, 20 x rate needs 100 of them.
    model.set_params(max_time=0.001).fit(frame, y)
    assert model.time_shortfall_ == pytest.approx(20 / 0.2, rel=0.01)
    # With rounds that fit, or without a time limit, the configured rate stays.
    model.set_params(max_time=60, **{f"estimator__{rounds_param}": 20}).fit(frame, y)
    assert model.rate_scale_ == 1.0 and model.time_shortfall_ == 1.0
    model.set_params(max_time=None).fit(frame, y)
    assert model.rate_scale_ == 1.0 and model.time_shortfall_ is None
    assert model.estimator_.get_params()["learning_rate"] == 0.01
    # A refit trains without early stopping: never raised.
    model.set_params(max_time=0.01, early_stopping=False,
                     **{f"estimator__{rounds_param}": 1_000_000}).fit(frame, y)
    assert model.rate_scale_ == 1.0


def test_a_rate_probe_cut_by_the_deadline_is_the_fitted_model(monkeypatch):
    frame, signal = mixed_frame(n=300)
    y = targets(signal, "multiclass")
    (_, model), = build_estimators([PortfolioEntry("lightgbm", {"n_estimators": 10_000})],
                                   task="classification")
    fits = []
    fit_until = FamilyModel._fit_until

    def counting(self, estimator, *args):
        fits.append(estimator.get_params()["n_estimators"])
        return fit_until(self, estimator, *args)

    monkeypatch.setattr(FamilyModel, "_fit_until", counting)
    model.set_params(early_stopping=True, max_time=0.0).fit(frame, y)
    # The 10-round probe stopped at the deadline after one round and left no time: it is
    # the model; nothing trains a second time past the deadline.
    assert fits == [10]
    assert model.best_rounds_ == 1 and model.estimator_.booster_.current_iteration() == 1
    assert model.time_shortfall_ == pytest.approx(20 / 0.2)
    assert model.predict_proba(frame).shape == (300, 3)
    # With time for both, the probe measures and the model trains.
    fits.clear()
    model.set_params(max_time=30.0, estimator__n_estimators=20).fit(frame, y)
    assert fits == [10, 20]


def test_preloading_imports_in_the_background(tmp_path, monkeypatch):
    import sys
    import time

    from skstack.families import Family, _base

    (tmp_path / "skstack_slow_module.py").write_text("import time\ntime.sleep(0.5)\n")
    (tmp_path / "skstack_broken_module.py").write_text("raise ImportError('broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_base, "_LOADING", {})
    for module in ("skstack_slow_module", "skstack_broken_module"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    slow, broken = (Family(name=name, modules=(module,), classifier="", regressor="",
                           preprocessing="none", requires=(module,))
                    for name, module in [("slow", "skstack_slow_module"),
                                         ("broken", "skstack_broken_module")])
    assert not slow.loading()  # never asked for: not loading
    _base.preload_families([slow, slow])
    assert slow.loading()
    _base.preload_families([slow])  # already loading: no second import
    assert list(_base._LOADING) == ["skstack_slow_module"]
    give_up = time.monotonic() + 30
    while slow.loading() and time.monotonic() < give_up:
        time.sleep(0.02)
    assert not slow.loading() and "skstack_slow_module" in sys.modules
    # A failed import ends the loading too: the model's own fit reports the error.
    _base.preload_families([broken])
    _base._LOADING["skstack_broken_module"].wait(30)
    assert not broken.loading() and "skstack_broken_module" not in sys.modules


def test_refit_after_raised_rates_keeps_the_folds_rounds_times_rate():
    from lightgbm import LGBMClassifier

    model = FamilyModel(LGBMClassifier(learning_rate=0.05, n_estimators=10_000))
    folds = []
    for rounds, scale in [(100, 2.0), (300, 1.0), (60, 4.0)]:
        fold = clone(model)
        fold.best_rounds_, fold.rate_scale_ = rounds, scale
        folds.append(fold)
    params = model.full_fit_params(folds)
    # The median rate, 0.1, for the folds' mean rounds x rate: (10 + 15 + 12) / 3 / 0.1.
    assert params["estimator__learning_rate"] == pytest.approx(0.1)
    assert params["estimator__n_estimators"] == 123
    for fold in folds:
        fold.rate_scale_ = 1.0
    assert "estimator__learning_rate" not in model.full_fit_params(folds)


def test_forest_max_time_grows_the_same_forest_or_stops_early(binary_data):
    from sklearn.ensemble import RandomForestClassifier

    X, y = binary_data
    forest = RandomForestClassifier(n_estimators=40, random_state=0)
    plain = FamilyModel(forest).fit(X, y)
    timed = FamilyModel(forest, max_time=60).fit(X, y)
    # Warm-started growth draws the same trees as one fit.
    np.testing.assert_allclose(timed.predict_proba(X), plain.predict_proba(X))
    cut = FamilyModel(forest, max_time=0).fit(X, y)
    assert len(cut.estimator_.estimators_) == 2  # the first thirtieth only (rounded up)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a time-cut forest's OOB rows: no warning either
        oof = FamilyModel(forest, max_time=0).fit_oof(X, y)
    assert oof.shape == (len(y), 2)


@pytest.mark.parametrize("family", ["lightgbm", "xgboost"])
def test_boosting_gets_the_codes_its_own_pandas_handling_would_make(family):
    from lightgbm import LGBMClassifier
    from xgboost import XGBClassifier

    frame, signal = mixed_frame()
    y = targets(signal, "binary")
    estimator = {
        "lightgbm": LGBMClassifier(n_estimators=30, random_state=0, verbose=-1, n_jobs=1),
        "xgboost": XGBClassifier(n_estimators=30, random_state=0, n_jobs=1,
                                 enable_categorical=True, tree_method="hist"),
    }[family]
    model = FamilyModel(clone(estimator), early_stopping=False).fit(frame, y)
    encoded = model.preprocessor_.transform(frame)  # category columns, fixed categories
    direct = clone(estimator).fit(encoded, (y == "yes").astype(int))
    np.testing.assert_allclose(model.predict_proba(frame), direct.predict_proba(encoded),
                               rtol=1e-6)


class RecordsBackend(LogisticRegression):
    """Records the joblib backend in force while it predicts."""

    def predict(self, X):
        from joblib.parallel import get_active_backend

        self.backend_ = type(get_active_backend()[0]).__name__
        return super().predict(X)


def test_small_batches_predict_without_the_thread_pool():
    X, y = np.random.RandomState(0).normal(size=(3000, 4)), np.arange(3000) % 2
    model = FamilyModel(RecordsBackend(), preprocessing="none").fit(X, y)
    model.predict(X[:5])
    assert model.estimator_.backend_ == "SequentialBackend"
    model.predict(X)
    assert model.estimator_.backend_ != "SequentialBackend"


@pytest.mark.parametrize("task", ["multiclass", "regression"])
@pytest.mark.parametrize("family", ["random_forest", "extra_trees"])
def test_forests_predict_small_batches_from_their_trees_exactly(task, family):
    import skstack.families._base as base

    frame, signal = mixed_frame()
    y = targets(signal, task)
    (_, model), = build_estimators([PortfolioEntry(family, {"n_estimators": 25})],
                                   task="regression" if task == "regression" else "classification")
    model.fit(frame, y)
    method = "predict" if task == "regression" else "predict_proba"
    fast = getattr(model, method)(frame.head(50))  # 50 rows: the trees' arrays
    encoded = model.preprocessor_.transform(frame.head(50))
    np.testing.assert_array_equal(fast, getattr(model.estimator_, method)(encoded))
    original = base._SEQUENTIAL_ROWS
    try:
        base._SEQUENTIAL_ROWS = 0  # the estimator's own method
        np.testing.assert_array_equal(getattr(model, method)(frame.head(50)), fast)
    finally:
        base._SEQUENTIAL_ROWS = original


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("family", ["lightgbm", "catboost"])
def test_boosting_small_batches_skip_the_wrappers_exactly(task, family, monkeypatch):
    import skstack.families._base as base

    frame, signal = mixed_frame()
    y = targets(signal, task)
    (_, model), = build_estimators([PortfolioEntry(family, SMALL[family])],
                                   task="regression" if task == "regression" else "classification")
    model.fit(frame, y)
    method = "predict" if task == "regression" else "predict_proba"
    fast = getattr(model, method)(frame.head(50))  # LightGBM's booster; a CatBoost Pool
    monkeypatch.setattr(base, "_SEQUENTIAL_ROWS", 0)  # the wrapper, on what it converts
    plain = dataclasses.replace(model.family_, to_predict_input=None)
    monkeypatch.setattr(FamilyModel, "family_", property(lambda self: plain))
    np.testing.assert_array_equal(getattr(model, method)(frame.head(50)), fast)


def test_bags_of_one_family_in_a_layer_share_one_prepared_input(monkeypatch):
    frame, signal = mixed_frame()
    y = targets(signal, "binary")
    entries = [PortfolioEntry("lightgbm", SMALL["lightgbm"]),
               PortfolioEntry("lightgbm", {"n_estimators": 10, "num_leaves": 7}),
               PortfolioEntry("xgboost", SMALL["xgboost"])]
    layer = StackLayer(build_estimators(entries, task="classification"), n_folds=3,
                       random_state=0).fit(frame, y)
    expected = np.hstack([bag.predict_proba(frame)[:, 1:] for bag in layer.estimators_])
    calls = []
    original = FamilyModel.prepare_input
    monkeypatch.setattr(FamilyModel, "prepare_input",
                        lambda self, X: calls.append(self.family_.name) or original(self, X))
    np.testing.assert_allclose(layer.transform(frame), expected)
    assert sorted(calls) == ["lightgbm", "xgboost"]  # once per family, not per bag


def test_linear_max_time_resumes_the_solver_or_stops_early():
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]
    logistic = LogisticRegression(max_iter=1000)  # 20-odd lbfgs iterations here
    plain = FamilyModel(logistic).fit(X, y)
    assert plain.estimator_.n_iter_.max() > 20
    timed = FamilyModel(logistic, max_time=60).fit(X, y)
    # Resumed from the first steps' coefficients, lbfgs reaches the same optimum (to tol).
    np.testing.assert_allclose(timed.predict_proba(X), plain.predict_proba(X), atol=0.05)
    assert timed.estimator_.get_params()["max_iter"] == 1000
    assert not timed.estimator_.warm_start
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopped on purpose: no warning
        cut = FamilyModel(logistic, max_time=0).fit(X, y)
    assert cut.estimator_.n_iter_.max() == 20  # the first step only
    # max_iter still bounds the solver, and running out of it still warns.
    with pytest.warns(ConvergenceWarning):
        FamilyModel(LogisticRegression(max_iter=25), max_time=60).fit(X, y)
    ridge = FamilyModel(Ridge(), max_time=0).fit(X, y.astype(float))  # closed form: one piece
    np.testing.assert_allclose(ridge.predict(X), FamilyModel(Ridge()).fit(X, y.astype(float))
                               .predict(X))


def _awkward_frame(n, seed):
    """Categoricals with rare, missing and (at predict) unseen values; numbers with NaN."""
    rng = np.random.RandomState(seed)
    many = rng.randint(0, 90, n).astype(str)  # over max_categories: infrequent ones merge
    colour = rng.choice(["red", "green", "blue", "mauve"], n, p=[0.5, 0.3, 0.19, 0.01])
    colour = np.where(rng.rand(n) < 0.1, None, colour)
    numbers = rng.randn(n)
    numbers[rng.rand(n) < 0.2] = np.nan
    return pd.DataFrame({
        "many": many, "x": numbers, "colour": pd.array(colour, dtype="string"),
        "flag": rng.rand(n) < 0.5, "empty": np.full(n, np.nan), "k": rng.randint(0, 5, n),
        "shade": pd.Categorical(rng.choice(["dark", "light"], n)),
    })


def test_onehot_written_out_matches_the_column_transformer():
    from skstack.families._preprocessing import _FramePreprocessor, _strings_as_objects

    train, test = _awkward_frame(300, 0), _awkward_frame(200, 1)
    test.loc[0, "colour"] = "never seen"
    test.loc[1, "many"] = "999"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the all-missing column
        pre = _FramePreprocessor("onehot").fit(train)
        # "many" has 90 levels: its 63 most frequent stay, the others become one level.
        assert list(pre.frequent_) == ["many"] and len(pre.frequent_["many"]) == 63
        expected = pre.transformer_.transform(_strings_as_objects(pre._keep_frequent(test)))
    assert pre._onehot_plan() is not None  # the fast path applies
    for rows in (test, test.iloc[:1], test.iloc[[5]]):
        np.testing.assert_allclose(pre.transform(rows), expected[rows.index], atol=1e-12)
    # Pickled, the plan is rebuilt from the transformer; other column orders go through
    # the transformer itself, which selects by name.
    restored = pickle.loads(pickle.dumps(pre))
    assert "_plan_cache" not in restored.__dict__
    np.testing.assert_allclose(restored.transform(test), expected, atol=1e-12)
    np.testing.assert_allclose(pre.transform(test[test.columns[::-1]]), expected, atol=1e-12)
    # Refitted on other data, it reads the new transformer, not the first fit's plan.
    other = test.assign(colour="only")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refitted = pre.fit_transform(other)
    np.testing.assert_allclose(pre.transform(other), refitted, atol=1e-12)


def test_rows_in_every_bootstrap_sample_have_no_out_of_bag_prediction():
    import warnings

    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(200, 4)), rng.randint(3, size=200)
    for forest, target in [(RandomForestClassifier(n_estimators=3, random_state=0), y),
                           (RandomForestRegressor(n_estimators=3, random_state=0), X[:, 0])]:
        model = FamilyModel(forest)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # neither scikit-learn's OOB warning nor ours
            oof = model.fit_oof(X, target)
        in_every = np.ones(200, dtype=bool)
        for sample in model.estimator_.estimators_samples_:
            in_bag = np.zeros(200, dtype=bool)
            in_bag[sample] = True
            in_every &= in_bag
        assert 0 < in_every.sum() < 200  # three bootstrap samples share some rows
        np.testing.assert_array_equal(np.isnan(oof.reshape(200, -1)).any(axis=1), in_every)
        if oof.ndim == 2:  # the covered rows' probabilities sum to one
            np.testing.assert_allclose(oof[~in_every].sum(axis=1), 1.0)


def test_knn_under_max_time_keeps_a_subset_and_predicts_the_rest_as_new_rows(monkeypatch):
    from sklearn.neighbors import KNeighborsClassifier

    from skstack.families import _registry

    rng = np.random.RandomState(0)
    X = rng.normal(size=(3000, 4))
    y = (X[:, 0] > 0).astype(int)
    y[:3] = 2  # a rare class must survive the subsample
    # The probe says that 100 s of search affords 2,400 of the 3,000 rows.
    monkeypatch.setattr(_registry, "_KNN_MIN_ROWS", 500)
    monkeypatch.setattr(_registry, "_search_seconds", lambda *args: 80 / (3000 * 2400))
    model = FamilyModel(KNeighborsClassifier(5), preprocessing="none", max_time=100.0)
    oof = model.fit_oof(X, y)
    kept = model.fit_rows_
    assert 2390 <= len(kept) <= 2400 and set(y[kept]) == {0, 1, 2}
    assert model.estimator_.n_samples_fit_ == len(kept)
    others = np.setdiff1d(np.arange(3000), kept)
    np.testing.assert_allclose(oof[others], model.estimator_.predict_proba(X[others]))
    row = kept[10]
    rest = KNeighborsClassifier(5).fit(X[kept[kept != row]], y[kept[kept != row]])
    np.testing.assert_allclose(oof[row], rest.predict_proba(X[row:row + 1])[0])


def _clock(step):
    """A time.monotonic that advances ``step`` seconds at every call."""
    now = [1000.0]

    def monotonic():
        now[0] += step
        return now[0]

    return monotonic


def test_knn_search_projected_past_its_deadline_gives_up(monkeypatch):
    from sklearn.neighbors import KNeighborsRegressor

    from skstack._utils import BudgetExceeded
    from skstack.families import _registry

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(9000, 3)), rng.normal(size=9000)
    monkeypatch.setattr(_registry, "_KNN_BATCH", 1000)
    model = FamilyModel(KNeighborsRegressor(5), preprocessing="none", max_time=1.0)
    monkeypatch.setattr(time, "monotonic", _clock(0.2))  # every batch costs 0.2 s or more
    with pytest.raises(BudgetExceeded, match="neighbour search of 9000 rows"):
        model.fit_oof(X, y)


def test_knn_without_max_time_keeps_every_row():
    from sklearn.neighbors import KNeighborsRegressor

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(2500, 3)), rng.normal(size=2500)
    model = FamilyModel(KNeighborsRegressor(5), preprocessing="none").fit(X, y)
    assert model.fit_rows_ is None and model.estimator_.n_samples_fit_ == 2500


def test_max_rows_trains_on_a_sample_that_keeps_every_class_and_its_weights():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 3))
    y = (X[:, 0] > 0).astype(int)
    y[:2] = 2  # a rare class must survive the sample
    weights = rng.uniform(0.5, 2.0, size=500)
    model = FamilyModel(LogisticRegression(), preprocessing="none", max_rows=120)
    model.fit(X, y, sample_weight=weights)
    kept = model.fit_rows_
    assert len(kept) == 120 and set(y[kept]) == {0, 1, 2}
    alone = LogisticRegression().fit(X[kept], y[kept], sample_weight=weights[kept])
    np.testing.assert_allclose(model.estimator_.coef_, alone.coef_)
    everything = FamilyModel(LogisticRegression(), preprocessing="none").fit(X, y)
    assert everything.fit_rows_ is None
    assert model.training_rows(y[:120]) is None  # no more rows than max_rows: all of them


@pytest.mark.parametrize("family", ["knn", "random_forest"])
def test_max_rows_native_oof_predicts_the_rows_left_out_as_new_rows(family):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + rng.normal(scale=0.5, size=400) > 0).astype(int)
    estimator = (KNeighborsClassifier(5) if family == "knn"
                 else RandomForestClassifier(n_estimators=30, random_state=0))
    model = FamilyModel(estimator, preprocessing="none", max_rows=150)
    oof = model.fit_oof(X, y)
    kept = model.fit_rows_
    assert oof.shape == (400, 2) and len(kept) == 150
    others = np.setdiff1d(np.arange(400), kept)
    np.testing.assert_allclose(oof[others], model.estimator_.predict_proba(X[others]))
    # The kept rows are out-of-fold, not predictions by a model that trained on them.
    assert not np.allclose(oof[kept], model.estimator_.predict_proba(X[kept]),
                           equal_nan=True)


def test_the_portfolio_caps_the_rows_of_its_linear_and_knn_models():
    caps = {name: model.max_rows for name, model in build_estimators(task="classification")}
    assert caps["linear"] == caps["knn_uniform"] == 100_000
    assert caps["lightgbm"] is None and caps["random_forest"] is None


def test_a_large_forest_short_of_time_draws_smaller_bootstrap_samples(monkeypatch):
    from sklearn.ensemble import RandomForestRegressor

    from skstack.families import _registry

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(30_000, 3)), rng.normal(size=30_000)
    # One tree of m rows: 1 s per 10,000 rows; the time left affords 40 trees of 20,000.
    monkeypatch.setattr(_registry, "_forest_probe", lambda *args: lambda m: m / 10_000)
    forest = RandomForestRegressor(n_estimators=100, n_jobs=1)
    max_samples, per_tree = _registry._forest_sample(forest, X, y, {}, time.monotonic() + 81,
                                                     oob=True)
    assert max_samples == 20_000 and per_tree == pytest.approx(2.0)
    roomy = _registry._forest_sample(forest, X, y, {}, time.monotonic() + 1000, oob=True)
    assert roomy == (None, pytest.approx(3.0))


def test_a_fit_that_cannot_stop_runs_in_a_worker_ended_at_its_deadline():
    from _models import Slow

    from skstack._utils import BudgetExceeded
    from skstack.families._hard_stop import fit_with_hard_stop

    X, y = np.zeros((20, 2)), np.arange(20) % 2
    fitted = fit_with_hard_stop(Slow(delay=0.0), X, y, {}, time.monotonic() + 30)
    np.testing.assert_array_equal(fitted.classes_, [0, 1])  # fitted there, returned here
    start = time.monotonic()
    with pytest.raises(BudgetExceeded, match="ended at its deadline"):
        fit_with_hard_stop(Slow(delay=600), X, y, {}, time.monotonic() + 1.0)
    assert time.monotonic() - start < 5
    # A model that cannot travel to another process is fitted here.
    local = Slow(delay=0.0)
    local.hook = lambda: None  # lambdas do not pickle
    assert fit_with_hard_stop(local, X, y, {}, time.monotonic() + 30) is local
    # Inside FamilyModel: a generic family under max_time takes the worker.
    model = FamilyModel(Slow(delay=600), max_time=0.5)
    with pytest.raises(BudgetExceeded):
        model.fit(X, y)


def test_a_library_that_keeps_its_memory_fits_large_tables_in_a_process_of_its_own(
        monkeypatch):
    import psutil
    from _models import WhereFitted
    from catboost import CatBoostClassifier

    from skstack.families import _base, _registry
    from skstack.families._hard_stop import fit_in_own_process

    X, y = np.zeros((20, 2)), np.arange(20) % 2
    fitted = fit_in_own_process(WhereFitted(), X, y, {})
    assert fitted.pid_ != os.getpid()
    assert not psutil.pid_exists(fitted.pid_)  # the process ended, its memory with it
    with pytest.raises(ValueError, match="strategy"):
        fit_in_own_process(WhereFitted(strategy="?"), X, y, {})  # its errors are raised here

    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "c": rng.choice(list("xyz"), 300)})
    y = (X["a"] + (X["c"] == "x") > 0.5).astype(int)
    here = FamilyModel(CatBoostClassifier(iterations=20, random_seed=0), max_time=60).fit(X, y)
    calls = []
    monkeypatch.setattr(_registry, "_CATBOOST_ISOLATED_CELLS", 100)
    monkeypatch.setattr(_base, "fit_in_own_process",
                        lambda *args, **kwargs: calls.append(1) or fit_in_own_process(
                            *args, **kwargs))
    there = FamilyModel(CatBoostClassifier(iterations=20, random_seed=0), max_time=60).fit(X, y)
    assert calls == [1]
    np.testing.assert_allclose(there.predict_proba(X), here.predict_proba(X))


def test_many_level_columns_share_a_bounded_one_hot_width():
    from skstack.families._preprocessing import _FramePreprocessor

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({f"s{j}": rng.randint(0, 10_000, 3000).astype(str)
                          for j in range(50)})
    frame["x"] = rng.normal(size=3000)
    pre = _FramePreprocessor("onehot")
    out = pre.fit_transform(frame)
    # 512 columns shared by 50 categorical columns: 10 each (9 levels and the rest).
    assert pre.max_categories_ == 10 and out.shape == (3000, 50 * 10 + 1)
    unseen = frame.iloc[:5].assign(s0="never seen")
    np.testing.assert_array_equal(pre.transform(unseen)[:, :10].sum(axis=1), 1.0)


@pytest.mark.skipif("mlp" not in SMALL, reason="the nn extra is not installed")
def test_ctrl_c_inside_an_mlp_epoch_stops_the_fit(monkeypatch):
    from skorch.callbacks import Callback

    from skstack.families import MLPClassifier, _mlp

    class CtrlC(Callback):  # a real Ctrl-C in the middle of the first epoch
        def on_batch_end(self, net, training=False, **kwargs):
            raise KeyboardInterrupt

    monkeypatch.setattr(_mlp, "_deadline_callback", lambda deadline: CtrlC())
    X, y = np.random.RandomState(0).normal(size=(200, 4)), np.arange(200) % 2
    # skorch swallows a KeyboardInterrupt; the MLP raises it again.
    with pytest.raises(KeyboardInterrupt):
        MLPClassifier(max_epochs=5, max_time=30).fit(X, y)
    monkeypatch.undo()
    # Its deadline stops it the same way, and that is not a Ctrl-C.
    model = MLPClassifier(max_epochs=200, max_time=0.0).fit(X, y)
    assert model.n_epochs_ <= 1
    # Early stopping ends training the same way, and that is not a Ctrl-C either.
    model = MLPClassifier(max_epochs=200, patience=1, validation_fraction=0.2).fit(X, y)
    assert model.n_epochs_ < 200
