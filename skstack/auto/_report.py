"""What an AutoStack fit did: per-model records, the leaderboard, its plot, importances."""

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import t as student_t
from sklearn.inspection import permutation_importance
from sklearn.utils import _safe_indexing, check_random_state

from .._scoring import resolve_scorer, with_labels
from ._deployment import kept_models

__all__ = ["ModelRecord", "feature_importance_frame", "leaderboard_frame", "plot_leaderboard"]


@dataclass
class ModelRecord:
    """One model the fit tried.

    Parameters
    ----------
    name : str
        Model name in its level.
    level : int
        Stack level, from 1.
    family : str, default=None
        Model family (``"lightgbm"``...), known once the model fitted.
    status : str, default="pending"
        ``"ok"``, ``"ok: <how it was shrunk to fit>"``, ``"skipped: <why>"`` (time),
        ``"skipped for memory: <why>"`` or ``"failed: <error>"``.
    oof_score : float, default=nan
        Score of its out-of-fold (or holdout) predictions.
    fit_time : float, default=nan
        Seconds spent fitting its bag.
    weight : float, default=nan
        Ensemble weight (last level only).
    repeats : int, default=0
        k-fold repeats its bag fitted (0: none finished).
    peak_memory : float, default=nan
        Megabytes of resident memory the process held, at its peak while the model
        trained, above what it held when the model started.
    """

    name: str
    level: int
    family: str = None
    status: str = "pending"
    oof_score: float = np.nan
    fit_time: float = np.nan
    weight: float = np.nan
    repeats: int = 0
    peak_memory: float = np.nan

    @property
    def fitted(self):
        """Whether the model trained (as configured, or shrunk to fit)."""
        return self.status == "ok" or self.status.startswith("ok:")


def _test_columns(auto, X, y):
    """Test score and predict time per row of every kept model, and of the ensemble."""
    scorer = resolve_scorer(auto._scoring(), None)
    pipeline = auto.pipeline_
    inputs = [X]
    for _, step in pipeline.steps[:-1]:  # the input of every step, for its models
        inputs.append(inputs[-1] if step == "passthrough" else step.transform(inputs[-1]))
    n_rows = max(1, len(y))
    scores, times = {}, {}
    for key, (bag, index) in kept_models(auto.pipeline_).items():
        start = time.perf_counter()
        scores[key] = scorer(bag, inputs[index], y)
        times[key] = (time.perf_counter() - start) / n_rows
    start = time.perf_counter()
    ensemble_score = scorer(auto, X, y)
    ensemble_time = (time.perf_counter() - start) / n_rows
    return scores, times, ensemble_score, ensemble_time


def leaderboard_frame(auto, X=None, y=None):
    """The leaderboard of a fitted AutoStack estimator as a DataFrame (see its method)."""
    rows = [
        {"model": r.name, "family": r.family, "level": r.level, "oof_score": r.oof_score,
         "fit_time": r.fit_time, "repeats": r.repeats, "weight": r.weight,
         "peak_memory_mb": r.peak_memory, "status": r.status}
        for r in auto.records_
    ]
    levels = max((r.level for r in auto.records_), default=0)
    rows.append({"model": "ensemble", "family": "ensemble", "level": levels + 1,
                 "oof_score": auto.ensemble_score_, "fit_time": auto.fit_time_,
                 "repeats": 0, "weight": np.nan,
                 "peak_memory_mb": getattr(auto, "peak_memory_mb_", np.nan), "status": "ok"})
    frame = pd.DataFrame(rows)
    frame["weight"] = frame["weight"].astype(float)
    sort_by = "oof_score"
    if X is not None and y is not None:
        y = np.asarray(y)
        scores, times, ensemble_score, ensemble_time = _test_columns(auto, X, y)
        keys = list(zip(frame["level"], frame["model"]))
        frame["test_score"] = [scores.get(key, np.nan) for key in keys]
        frame["predict_time_per_row"] = [times.get(key, np.nan) for key in keys]
        last = frame.index[-1]
        frame.loc[last, "test_score"] = ensemble_score
        frame.loc[last, "predict_time_per_row"] = ensemble_time
        sort_by = "test_score"
    return frame.sort_values(sort_by, ascending=False, na_position="last",
                             kind="stable").reset_index(drop=True)


def plot_leaderboard(auto, ax=None):
    """Horizontal bars of the OOF scores; ensemble members dark, with their weights."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("plot_leaderboard needs matplotlib: pip install matplotlib") from error
    board = leaderboard_frame(auto)
    board = board[board["status"].str.match(r"ok(:|$)")].iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.3 * len(board) + 1.5))
    used = board["weight"].fillna(0) > 0
    colors = ["tab:orange" if model == "ensemble" else "tab:blue" if in_use else "lightgray"
              for model, in_use in zip(board["model"], used)]
    labels = [f"L{level} {model}" for level, model in zip(board["level"], board["model"])]
    ax.barh(labels, board["oof_score"], color=colors)
    for i, weight in enumerate(board["weight"]):
        if weight > 0:
            ax.annotate(f"w={weight:.2f}", (board["oof_score"].iloc[i], i), va="center",
                        xytext=(3, 0), textcoords="offset points", fontsize=8)
    low, high = board["oof_score"].min(), board["oof_score"].max()
    pad = 0.05 * (high - low) if high > low else 0.05 * max(1.0, abs(high))
    ax.set_xlim(low - pad, high + 3 * pad)
    ax.set_xlabel(f"OOF score ({auto._scoring() if isinstance(auto._scoring(), str) else 'score'})")
    ax.set_title("skstack leaderboard (blue: in the ensemble)")
    return ax


def feature_importance_frame(auto, X, y, *, n_repeats, max_rows, random_state, n_jobs):
    """Permutation importance of every input column for the whole fitted ensemble.

    Columns are shuffled in the raw input, before the encoder, so a datetime or text column
    counts as one feature however many encoded columns it becomes.
    """
    n_rows = len(y)
    if max_rows is not None and n_rows > max_rows:
        rows = check_random_state(random_state).choice(n_rows, max_rows, replace=False)
        X, y = _safe_indexing(X, rows), _safe_indexing(y, rows)
    scorer = resolve_scorer(auto._scoring(), None)
    if hasattr(auto, "classes_"):
        scorer = with_labels(scorer, auto.classes_)  # a subsample may lack a class
    result = permutation_importance(
        auto, X, y, scoring=scorer, n_repeats=n_repeats, random_state=random_state,
        n_jobs=n_jobs,
    )
    names = auto.feature_names_in_ if hasattr(auto, "feature_names_in_") else [
        f"x{i}" for i in range(auto.n_features_in_)]
    frame = pd.DataFrame({
        "feature": names,
        "importance": result.importances_mean,
        "std": result.importances_std,
    })
    # One-sided test that the mean drop is above zero, as AutoGluon reports it.
    with np.errstate(divide="ignore", invalid="ignore"):
        t_stat = frame["importance"] / (frame["std"] / np.sqrt(max(n_repeats - 1, 1)))
    frame["p_value"] = student_t.sf(t_stat.fillna(0.0), df=max(n_repeats - 1, 1))
    frame["n_repeats"] = n_repeats
    return frame.sort_values("importance", ascending=False, ignore_index=True)
