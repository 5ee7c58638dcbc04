"""The record of an AutoStack fit (skstack.auto._report, _progress).

Leaderboard, logs, plot, importances.
"""

import sys

import pytest
from _models import TINY
from sklearn.datasets import make_regression

from skstack import (
    AutoStackClassifier,
    AutoStackRegressor,
)


def test_leaderboard_with_test_data(mixed_frame):
    X, y = mixed_frame
    clf = AutoStackClassifier(presets="good_quality", portfolio=TINY, n_folds=3,
                              scoring="roc_auc", random_state=0).fit(X[:200], y[:200])
    board = clf.leaderboard(X[200:], y[200:])
    assert list(board.columns) == ["model", "family", "level", "oof_score", "fit_time",
                                   "repeats", "weight", "peak_memory_mb", "status",
                                   "test_score", "predict_time_per_row"]
    # Each fitted model's peak memory above the fit's start, and the whole fit's.
    fitted = board[board["status"] == "ok"]
    assert (fitted["peak_memory_mb"] >= 0).all()
    assert clf.fit_summary()["peak_memory_mb"] == clf.peak_memory_mb_
    assert clf.peak_memory_mb_ >= fitted["peak_memory_mb"].max() - 1
    ensemble = board.set_index("model").loc["ensemble"]
    used = board[board["weight"] > 0]
    assert used["test_score"].notna().all() and (used["predict_time_per_row"] > 0).all()
    from sklearn.metrics import roc_auc_score

    assert ensemble["test_score"] == pytest.approx(
        roc_auc_score(y[200:] == "yes", clf.predict_proba(X[200:])[:, 1]))

def test_verbose_levels(mixed_frame, capsys):
    X, y = mixed_frame
    AutoStackClassifier(portfolio=TINY, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
    AutoStackClassifier(portfolio=TINY, random_state=0, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "level 1: 3 models" in out and "linear: OOF" in out

def test_plot_leaderboard(mixed_frame):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    X, y = mixed_frame
    clf = AutoStackClassifier(portfolio=TINY, random_state=0).fit(X, y)
    ax = clf.plot_leaderboard()
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert "L2 ensemble" in labels and "L1 linear" in labels

def test_feature_importance_ranks_the_informative_columns(mixed_frame):
    X, y = mixed_frame
    clf = AutoStackClassifier(portfolio=TINY, random_state=0).fit(X[:200], y[:200])
    importance = clf.feature_importance(X[200:], y[200:], n_repeats=3, random_state=0)
    assert list(importance.columns) == ["feature", "importance", "std", "p_value", "n_repeats"]
    assert set(importance["feature"]) == set(X.columns)
    ranked = list(importance["feature"])
    assert ranked.index("num") < ranked.index("num_nan")
    assert ranked.index("num") < ranked.index("kind")
    top = importance.set_index("feature").loc["num"]
    assert top["importance"] > 0 and top["p_value"] < 0.05
    subsample = clf.feature_importance(X, y, n_repeats=2, max_rows=50, random_state=0)
    assert subsample["n_repeats"].eq(2).all()

    Xr, yr = make_regression(n_samples=150, n_features=3, n_informative=1, random_state=0)
    reg = AutoStackRegressor(portfolio=TINY, random_state=0).fit(Xr, yr)
    board = reg.feature_importance(Xr, yr, n_repeats=2, random_state=0)
    assert set(board["feature"]) == {"x0", "x1", "x2"}
    assert board["importance"].iloc[0] > 10 * abs(board["importance"].iloc[-1])

def test_progress_bar_on_a_terminal_only(mixed_frame, capsys, monkeypatch):
    X, y = mixed_frame
    AutoStackClassifier(portfolio=TINY, random_state=0, verbose=1).fit(X, y)
    assert "model/s" not in capsys.readouterr().err  # not a terminal: no bar
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    AutoStackClassifier(portfolio=TINY, random_state=0, time_limit=30, verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert "level 1: 100%" in captured.err and "3/3" in captured.err
    assert "best=" in captured.err and "left=" in captured.err
    assert "linear: OOF" in captured.out
    AutoStackClassifier(portfolio=TINY, random_state=0, verbose=0).fit(X, y)
    assert capsys.readouterr() == ("", "")
