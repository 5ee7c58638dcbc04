"""Safe persistence (skstack.io)."""


import numpy as np
import pytest
from _models import TINY
from sklearn.datasets import make_classification

from skstack import (
    AutoStackClassifier,
    AutoStackRegressor,
)
from skstack.families.portfolios import PortfolioEntry


def test_save_and_load_skops_and_joblib(tmp_path, mixed_frame):
    from skstack.io import load, untrusted_types

    X, y = mixed_frame
    portfolio = TINY + [PortfolioEntry("lightgbm", {"n_estimators": 20}, 0)]
    clf = AutoStackClassifier(presets="good_quality", portfolio=portfolio, n_folds=3,
                              prune=False, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    for name in ("model.skops", "model.joblib"):
        path = clf.save(tmp_path / name)
        restored = AutoStackClassifier.load(path)
        np.testing.assert_allclose(restored.predict_proba(X), expected)
    # Nothing beyond skops' defaults and skstack's own types is needed to load it.
    assert untrusted_types(tmp_path / "model.skops") == []
    with pytest.raises(TypeError, match="not a AutoStackRegressor"):
        AutoStackRegressor.load(tmp_path / "model.joblib")
    assert isinstance(load(tmp_path / "model.skops"), AutoStackClassifier)

def test_a_warm_started_model_with_neighbour_trees_saves_and_continues(tmp_path):
    from skstack.io import untrusted_types

    # Dense numeric rows: the KNN models index them in KD-trees, which a .skops file
    # holds (with every other model of the warm state).
    X, y = make_classification(n_samples=600, n_features=6, random_state=0)
    clf = AutoStackClassifier(presets="best_quality", portfolio=TINY, n_folds=3,
                              warm_start=True, random_state=0).fit(X, y)
    path = clf.save(tmp_path / "model.skops")
    assert untrusted_types(path) == []
    restored = AutoStackClassifier.load(path)
    np.testing.assert_allclose(restored.predict_proba(X), clf.predict_proba(X))
    restored.fit(X, y)  # continues from the loaded models
    assert (restored.warm_state_.layers[0].named_estimators_.keys()
            == clf.warm_state_.layers[0].named_estimators_.keys())


def test_skops_refuses_unknown_types(tmp_path):
    import skops.io as sio

    from skstack.io import load

    sio.dump({"f": np.sum}, tmp_path / "odd.skops")
    with pytest.raises(ValueError, match="not trusted by default"):
        load(tmp_path / "odd.skops")
    assert load(tmp_path / "odd.skops", trusted=["numpy.sum"])["f"] is np.sum


def test_a_damaged_skops_file_gets_an_error_that_names_it(tmp_path):
    from skstack.io import load, save, untrusted_types

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    path = save(AutoStackClassifier(portfolio=TINY[:1], random_state=0).fit(X, y),
                tmp_path / "model.skops")
    truncated = tmp_path / "truncated.skops"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    foreign = tmp_path / "notes.skops"
    foreign.write_text("not a model")
    for bad in (truncated, foreign):
        with pytest.raises(ValueError, match=f"{bad.name} is damaged or not a model file"):
            load(bad)
        with pytest.raises(ValueError, match="damaged"):
            untrusted_types(bad)
