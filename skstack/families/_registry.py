"""The built-in model families, one declarative record each.

Backends are imported only inside the recipes, when a model of that family is fitted.
"""

import time

import numpy as np
import pandas as pd

from .._folds import covering_sample
from .._utils import WARNING_FILTERS
from ._base import EarlyStopping, Family, NativeOOF, register_family
from ._onnx import (
    catboost_onnx,
    forest_onnx,
    knn_onnx,
    lightgbm_onnx,
    linear_onnx,
    mlp_onnx,
    xgboost_onnx,
)

__all__ = ["BUILTIN_FAMILIES"]


# ---- early-stopping recipes ---------------------------------------------------------------


def _lightgbm_fit_kwargs(X_val, y_val, patience):
    import inspect

    import lightgbm

    callbacks = [lightgbm.early_stopping(patience, verbose=False)]
    # LightGBM 4.7 renamed eval_set to eval_X/eval_y and warns on the old name.
    if "eval_X" in inspect.signature(lightgbm.LGBMModel.fit).parameters:
        return {"eval_X": (X_val,), "eval_y": (y_val,), "callbacks": callbacks}
    return {"eval_set": [(X_val, y_val)], "callbacks": callbacks}


def _lightgbm_best(model):
    return model.best_iteration_ or model.n_estimators


def _xgboost_best(model):
    try:
        return model.best_iteration + 1
    except AttributeError:  # stopped by the deadline before early stopping recorded a best
        return model.get_booster().num_boosted_rounds()


def _catboost_best(model):
    best = model.get_best_iteration()
    return model.tree_count_ if best is None else best + 1


LIGHTGBM_STOPPING = EarlyStopping("n_estimators", _lightgbm_fit_kwargs, _lightgbm_best,
                                  rate_param="learning_rate")
XGBOOST_STOPPING = EarlyStopping(
    "n_estimators",
    lambda X_val, y_val, patience: {"eval_set": [(X_val, y_val)], "verbose": False},
    _xgboost_best,
    set_params=lambda patience: {"early_stopping_rounds": patience},
    rate_param="learning_rate",
)
# The network's own `patience` (epochs) applies, not the boosting rounds rule.
MLP_STOPPING = EarlyStopping(
    "max_epochs",
    lambda X_val, y_val, patience: {"X_val": X_val, "y_val": y_val},
    lambda model: model.best_epoch_,
)
CATBOOST_STOPPING = EarlyStopping(
    "iterations",
    lambda X_val, y_val, patience: {"eval_set": (X_val, y_val),
                                    "early_stopping_rounds": patience},
    _catboost_best,
    rate_param="learning_rate",
)


def _categorical(frame):
    """Positions of the ``category`` columns (read from ``dtypes``: column access is slow)."""
    return [i for i, dtype in enumerate(frame.dtypes) if isinstance(dtype, pd.CategoricalDtype)]


def _catboost_input(frame):
    """CatBoost takes categories as integers or strings (no NaN) and needs their positions.

    The fixed category codes serve, missing (and unseen) as -1, a category of its own:
    integer columns cost CatBoost nothing to read, where strings cost milliseconds per
    call, paid by every fold model at every prediction.
    """
    if not hasattr(frame, "columns"):  # all-numeric array input
        return frame, {}
    categorical = _categorical(frame)
    if not categorical:
        return frame, {}
    frame = frame.copy()
    for i in categorical:
        frame.isetitem(i, frame.iloc[:, i].cat.codes.to_numpy(dtype=np.int64))
    return frame, {"cat_features": categorical}


def _catboost_pool(X, fit_kwargs):
    """The rows as a CatBoost ``Pool``: CatBoost builds one from a frame or an array at
    every call (about 1 ms for a row), which each fold model of a bag would pay again."""
    from catboost import Pool

    return Pool(X, cat_features=fit_kwargs.get("cat_features"))


def _codes_array(frame):
    """A float array with category codes (missing NaN), and the categorical positions.

    What LightGBM and XGBoost make of a frame's ``category`` columns themselves, done once:
    their pandas handling costs milliseconds per call, which every fold model paid at
    every prediction.
    """
    categorical = _categorical(frame)
    if not categorical:
        return frame.to_numpy(dtype=np.float64, na_value=np.nan), categorical
    out = np.empty(frame.shape, dtype=np.float64)
    numeric = [i for i in range(frame.shape[1]) if i not in set(categorical)]
    if numeric:
        out[:, numeric] = frame.iloc[:, numeric].to_numpy(dtype=np.float64, na_value=np.nan)
    for i in categorical:
        codes = frame.iloc[:, i].cat.codes.to_numpy().astype(np.float64)
        codes[codes < 0] = np.nan
        out[:, i] = codes
    return out, categorical


def _lightgbm_input(frame):
    if not hasattr(frame, "columns"):
        return frame, {}
    out, categorical = _codes_array(frame)
    return out, ({"categorical_feature": categorical} if categorical else {})


def _xgboost_input(frame):
    if not hasattr(frame, "columns"):
        return frame, {}
    return _codes_array(frame)[0], {}


def _xgboost_types(frame):
    """XGBoost learns which array columns are categorical from ``feature_types``."""
    if not hasattr(frame, "columns"):
        return {}
    categorical = set(_categorical(frame))
    return {"feature_types": ["c" if i in categorical else "q"
                              for i in range(frame.shape[1])]}


# ---- training deadlines ---------------------------------------------------------------------
# Each returns (estimator params, fit kwargs) that stop training at `deadline`
# (a time.monotonic() value) and keep the rounds trained so far.


def _lightgbm_deadline(estimator, deadline):
    import lightgbm

    def stop_at_deadline(env):
        if time.monotonic() > deadline:
            raise lightgbm.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    return {}, {"callbacks": [stop_at_deadline]}


def _xgboost_deadline(estimator, deadline):
    import xgboost

    class StopAtDeadline(xgboost.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            return time.monotonic() > deadline

    callbacks = list(estimator.get_params().get("callbacks") or [])
    return {"callbacks": callbacks + [StopAtDeadline()]}, {}


class _CatBoostDeadline:
    def __init__(self, deadline):
        self.deadline = deadline

    def after_iteration(self, info):
        return time.monotonic() <= self.deadline  # False stops CatBoost


def _catboost_deadline(estimator, deadline):
    return {}, {"callbacks": [_CatBoostDeadline(deadline)]}


# CatBoost keeps about 75 bytes per cell of a training table for the life of the process; at
# more cells than this (about 200 MB kept), a fit runs in a process of its own. Starting it
# and sending the rows cost about 1.8 s at a million rows of 12 columns (of a fit's 8 s
# under a 60 s limit), within the model's deadline.
_CATBOOST_ISOLATED_CELLS = 2_500_000


def _catboost_isolate(X):
    n_rows, n_columns = X.shape
    return n_rows * n_columns > _CATBOOST_ISOLATED_CELLS


def _mlp_deadline(estimator, deadline):
    return {"max_time": max(0.0, deadline - time.monotonic())}, {}


def _lightgbm_small_predict(model, X, method):
    """LightGBM's booster on the prepared rows, as its scikit-learn ``predict`` and
    ``predict_proba`` call it (the best iteration, probabilities of both classes), without
    the wrapper's checks and parameter processing: 0.6 ms a call, ten times what the
    booster takes for a row."""
    if not isinstance(X, np.ndarray) or callable(model.objective_):
        return None
    classifier = hasattr(model, "classes_")
    if method == "predict" and not classifier:
        return model.booster_.predict(X)
    if method != "predict_proba":
        return None
    result = model.booster_.predict(X)
    return result if result.ndim == 2 else np.vstack((1.0 - result, result)).T


def _forest_small_predict(forest, X, method):
    """A forest's mean over its trees, read from their arrays without per-tree checks.

    The same sums in the same order as scikit-learn's ``predict_proba``/``predict``, which
    validate the input once per tree (about 0.1 ms each: 30 ms for 300 trees on one row).
    """
    if method == "predict" and hasattr(forest, "classes_"):
        return None
    if method not in ("predict", "predict_proba"):
        return None
    X = np.ascontiguousarray(X, dtype=np.float32)
    total = 0
    for tree in forest.estimators_:
        total = total + tree.tree_.predict(X)
    mean = total / len(forest.estimators_)
    return mean[:, 0] if method == "predict" else mean[:, :forest.n_classes_]


# Forests under max_time on large tables. A tree's time grows with its bootstrap sample
# (about n log n): one tree of 500,000 noisy rows took 2.7 s on two cores, past a whole
# allowance, and its out-of-bag prediction costs again for every tree. Above
# _FOREST_PROBE_ROWS rows a one-tree probe on that many rows projects both; when fewer than
# _FOREST_MIN_TREES full-sample trees fit the time, every tree draws a smaller bootstrap
# sample (max_samples) so that that many do.
_FOREST_PROBE_ROWS = 20_000
_FOREST_MIN_TREES = 40
_FOREST_PROBE_PREDICT = 5_000


def _forest_probe(estimator, X, y, fit_kwargs, oob):
    """``seconds(m)``: one tree of a bootstrap sample of ``m`` rows, grown and (``oob``)
    predicted out of bag, projected from a one-tree forest on ``_FOREST_PROBE_ROWS`` rows."""
    import math

    from sklearn.base import clone
    from sklearn.utils import _safe_indexing
    from sklearn.utils.validation import _num_samples

    n_rows, size = _num_samples(X), _FOREST_PROBE_ROWS
    probe = clone(estimator).set_params(n_estimators=1, warm_start=False, oob_score=False,
                                        bootstrap=True, max_samples=size, n_jobs=1)
    start = time.monotonic()
    probe.fit(X, y, **fit_kwargs)
    grow = time.monotonic() - start
    rows = _safe_indexing(X, np.arange(min(n_rows, _FOREST_PROBE_PREDICT)))
    start = time.monotonic()
    probe.estimators_[0].predict(np.asarray(rows, dtype=np.float32))
    per_row = (time.monotonic() - start) / _num_samples(rows)

    def seconds(m):
        deeper = math.log(m) / math.log(size)  # deeper trees on larger samples
        out_of_bag = n_rows * math.exp(-m / n_rows) if oob else 0.0
        return grow * m / size * deeper + per_row * deeper * out_of_bag

    return seconds


def _forest_sample(estimator, X, y, fit_kwargs, deadline, oob):
    """``(max_samples, seconds per tree)`` for a forest that must end by ``deadline``;
    ``max_samples`` None keeps the configured sample."""
    from sklearn.utils.validation import _num_samples

    n_rows = _num_samples(X)
    seconds = _forest_probe(estimator, X, y, fit_kwargs, oob)
    wanted = min(estimator.n_estimators, _FOREST_MIN_TREES)
    parallel = max(1, min(estimator.n_jobs or 1, wanted))
    left = deadline - time.monotonic()
    size = n_rows
    while size > _FOREST_PROBE_ROWS and wanted * seconds(size) / parallel > left:
        size = max(_FOREST_PROBE_ROWS, int(size * 0.7))
    return (None if size == n_rows else size), seconds(size) / parallel


def _forest_grow(estimator, X, y, fit_kwargs, deadline, steps=10, first_steps=30):
    """Grow the forest (warm start) until complete or until the next trees would end past
    ``deadline``.

    The first step grows a thirtieth of the trees and times them; each later step grows up
    to a tenth, and no more than the time left affords at that rate (one tree of a forest
    on 15,000 rows and 286 stacked columns of 26 classes takes about 0.1 s, so a tenth of
    300 trees could outlast a whole allowance). Warm-started growth draws the same tree
    seeds as one fit, so a forest that completes equals the one-shot forest. Out-of-bag
    predictions are computed once, at the end. On large tables (see ``_forest_sample``) a
    probe sizes the first step, may shrink the bootstrap samples, and the out-of-bag pass
    is counted in the time of every tree.
    """
    import warnings

    from sklearn.utils.validation import _num_samples

    target, oob = estimator.n_estimators, estimator.oob_score
    step = max(1, -(-target // steps))
    size, reserve = max(1, -(-target // first_steps)), 0.0
    if _num_samples(X) > _FOREST_PROBE_ROWS:
        max_samples, per_tree = _forest_sample(estimator, X, y, fit_kwargs, deadline, oob)
        if max_samples is not None:
            estimator.set_params(bootstrap=True, max_samples=max_samples)
        reserve = per_tree if oob else 0.0  # the out-of-bag share, paid at the end
        size = max(1, min(size, int((deadline - time.monotonic()) / per_tree)))
    estimator.set_params(warm_start=True, oob_score=False)
    grown = 0
    while grown < target and size >= 1:
        start = time.monotonic()
        grown = min(target, grown + size)
        estimator.set_params(n_estimators=grown).fit(X, y, **fit_kwargs)
        per_tree = (time.monotonic() - start) / size + reserve
        size = min(step, int((deadline - time.monotonic() - reserve * grown)
                             / max(per_tree, 1e-9)))
    if oob:
        estimator.set_params(oob_score=True)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Warm-start fitting without increasing")
            estimator.fit(X, y, **fit_kwargs)  # computes the OOB predictions only
    estimator.set_params(warm_start=False)


# A first step of 20 solver iterations over a large table (lbfgs on 450,000 rows x 70
# columns: 3 s) outlasts a short allowance; above this many cells it is 2 iterations.
_LINEAR_LARGE_CELLS = 2_000_000


def _linear_grow(estimator, X, y, fit_kwargs, deadline, first=20):
    """Run a warm-startable solver in steps until it converges or passes ``deadline``.

    ``Ridge`` (closed form) and ``liblinear`` cannot resume and fit in one piece. Otherwise
    the first ``first`` iterations time one iteration, and the rest of ``max_iter`` runs in
    as few steps as the time left affords: each restart of lbfgs forgets its curvature
    estimate, so fewer restarts converge in fewer iterations. The loss is convex, so a
    resumed fit reaches the one-shot optimum; a fit stopped by the deadline keeps the
    coefficients found so far.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    def fit(model):
        model.fit(X, y, **fit_kwargs)

    params = estimator.get_params(deep=False)
    if "warm_start" not in params or params.get("solver") == "liblinear":
        fit(estimator)
        return
    target, configured = params["max_iter"], params["warm_start"]
    if np.prod(np.shape(X)) > _LINEAR_LARGE_CELLS:
        first = min(first, 2)
    estimator.set_params(warm_start=True)
    done, step, start = 0, min(first, target), time.monotonic()
    try:
        while True:
            # A step that ends before convergence is not a failure; the last one is. The
            # warning filters are the process's: folds fitting side by side in threads
            # take turns, or one's restore would undo (or leave behind) another's filter.
            with WARNING_FILTERS, warnings.catch_warnings():
                if done + step < target:
                    warnings.simplefilter("ignore", ConvergenceWarning)
                fit(estimator.set_params(max_iter=step))
            done += step
            converged = np.max(estimator.n_iter_) < step
            per_iteration = max((time.monotonic() - start) / done, 1e-9)
            step = min(target - done, int((deadline - time.monotonic()) / per_iteration))
            if converged or step < 1:
                return
    finally:
        estimator.set_params(warm_start=configured, max_iter=target)


# ---- native out-of-fold recipes ------------------------------------------------------------


def _forest_oob_params(estimator):
    return {"oob_score": True, "bootstrap": True}


def _forest_oob(model, X, y, rows=None, deadline=None):
    """Out-of-bag predictions: each row predicted by the trees whose sample left it out."""
    oof = np.array(model.oob_decision_function_ if hasattr(model, "oob_decision_function_")
                   else model.oob_prediction_, dtype=np.float64)
    # A row in every bootstrap sample has no OOB prediction: scikit-learn gives it zeros
    # (probabilities that do not sum to one, a log loss of 36); it becomes NaN, which the
    # bag leaves out (common when a time limit stops the forest at a few trees).
    n_samples = len(oof)
    out_of_bag = np.zeros(n_samples, dtype=bool)
    for sample in model.estimators_samples_:
        left_out = np.ones(n_samples, dtype=bool)
        left_out[sample] = False
        out_of_bag |= left_out
    oof[~out_of_bag] = np.nan
    if rows is None:
        return oof
    # Fitted on ``rows`` only (``max_rows``): the others never influenced it.
    classifier = hasattr(model, "oob_decision_function_")
    full = np.asarray(model.predict_proba(X) if classifier else model.predict(X),
                      dtype=np.float64)
    full[rows] = oof
    return full


# KNN under max_time. Its cost is the search, which grows with the rows it keeps times the
# rows it predicts: a leave-one-out pass over 500,000 rows searches 500,000 x 500,000 pairs.
# The probe times a search of _KNN_PROBE_QUERIES rows among _KNN_PROBE_ROWS; the model then
# keeps as many rows as let it predict every training row within _KNN_SEARCH_SHARE of the
# time, but never fewer than _KNN_MIN_ROWS (below that, the bag's projection skips it).
_KNN_PROBE_ROWS, _KNN_PROBE_QUERIES = 2048, 512
_KNN_MIN_ROWS = 2000
_KNN_SEARCH_SHARE = 0.8
_KNN_BATCH = 4096


def _knn_rows(estimator, X, y, deadline, n_predicted):
    """The rows a KNN model keeps to predict ``n_predicted`` rows by ``deadline``.

    None keeps all of them. The search cost is projected as linear in the rows kept, which
    a tree index beats: the estimate errs on the side of fewer rows.
    """
    from sklearn.base import is_classifier

    n_rows = len(y)
    if n_rows <= _KNN_MIN_ROWS:
        return None
    classifier = is_classifier(estimator)
    per_pair = _search_seconds(estimator, X, y, classifier)
    affordable = _KNN_SEARCH_SHARE * (deadline - time.monotonic()) / (n_predicted * per_pair)
    if affordable >= n_rows:
        return None
    return covering_sample(y, max(_KNN_MIN_ROWS, int(affordable)), classifier)


def _search_seconds(estimator, X, y, classifier):
    """Seconds per (query row, kept row) pair of the neighbour search, timed on a probe."""
    from sklearn.base import clone
    from sklearn.utils import _safe_indexing

    probe_rows = covering_sample(y, _KNN_PROBE_ROWS, classifier)
    probe = clone(estimator).fit(_safe_indexing(X, probe_rows), np.asarray(y)[probe_rows])
    queries = _safe_indexing(X, np.arange(min(len(y), _KNN_PROBE_QUERIES)))
    start = time.monotonic()
    probe.kneighbors(queries, n_neighbors=min(probe.n_neighbors + 1, len(probe_rows)))
    return max(time.monotonic() - start, 1e-6) / (len(queries) * len(probe_rows))


def _neighbour_batches(model, X, n_neighbors, deadline):
    """``(rows, distances, indices)`` of every row's neighbours, a batch at a time.

    After each batch the search is projected: one that would end past ``deadline``
    raises :class:`~skstack._bagging.BudgetExceeded` rather than overrun it.
    """
    from sklearn.utils import _safe_indexing
    from sklearn.utils.validation import _num_samples

    from .._utils import BudgetExceeded

    n_rows = _num_samples(X)
    start = time.monotonic()
    for begin in range(0, n_rows, _KNN_BATCH):
        rows = np.arange(begin, min(n_rows, begin + _KNN_BATCH))
        batch = _safe_indexing(X, slice(begin, rows[-1] + 1))
        distances, indices = model.kneighbors(batch, n_neighbors=n_neighbors)
        yield rows, distances, indices
        done = rows[-1] + 1
        if deadline is None or done == n_rows:
            continue
        now = time.monotonic()
        end = now + (now - start) * (n_rows - done) / done
        if end > deadline:
            raise BudgetExceeded(f"The neighbour search of {n_rows} rows would end "
                                 f"{end - deadline:.1f} s past its deadline ({done} searched).")


def _knn_leave_one_out(model, X, y, rows=None, deadline=None):
    """Leave-one-out predictions: each row's neighbours among the other rows the model kept.

    Rows the model did not keep (``rows``: the ones it kept) never influenced it: they are
    predicted as new rows, from their neighbours among the kept ones.
    """
    y = np.asarray(y)
    kept = np.arange(len(y)) if rows is None else np.asarray(rows)
    k = min(model.n_neighbors, len(kept) - 1)
    classes = getattr(model, "classes_", None)
    targets = y if classes is None else np.searchsorted(classes, y)
    out = np.zeros(len(y) if classes is None else (len(y), len(classes)))
    for batch, distances, indices in _neighbour_batches(model, X, k + 1, deadline):
        out[batch] = _vote_without_self(batch, kept[indices], distances, k, model.weights,
                                        targets, None if classes is None else len(classes))
    return out


def _vote_without_self(ids, neighbours, distances, k, weights, targets, n_classes):
    """The prediction of rows ``ids`` from their ``k + 1`` nearest ``neighbours``, less
    the row itself (or, for a row that is not among them, the farthest)."""
    n_rows = len(ids)
    rows = np.arange(n_rows)
    is_self = neighbours == ids[:, None]
    # A row is normally its own first neighbour; among many duplicates it may be missing,
    # and then the farthest neighbour is dropped instead.
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(neighbours, dtype=bool)
    keep[rows, drop] = False
    neighbours = neighbours[keep].reshape(n_rows, k)
    weight = _neighbour_weights(weights, distances[keep].reshape(n_rows, k))
    if n_classes is None:
        return (weight * targets[neighbours]).sum(axis=1) / weight.sum(axis=1)
    proba = np.zeros((n_rows, n_classes))
    for j in range(k):
        proba[rows, targets[neighbours[:, j]]] += weight[:, j]
    return proba / proba.sum(axis=1, keepdims=True)


def _neighbour_weights(weights, distances):
    if weights == "uniform" or weights is None:
        return np.ones_like(distances)
    if weights == "distance":
        with np.errstate(divide="ignore"):
            inverse = 1.0 / distances
        # As in scikit-learn: a neighbour at distance 0 takes all the weight.
        exact = np.isinf(inverse)
        inverse[exact.any(axis=1)] = exact[exact.any(axis=1)]
        return inverse
    return weights(distances)


FOREST_OOB = NativeOOF(_forest_oob_params, _forest_oob)
KNN_LOO = NativeOOF(lambda estimator: {}, _knn_leave_one_out)


# ---- the families -------------------------------------------------------------------------

# The rows a portfolio's linear and KNN models learn from (Family.max_rows). A linear model
# has a coefficient per one-hot column (at most 512 per class): 100,000 rows estimate them
# as well as millions do, and their one-hot input is 0.4 GB at most instead of 4 GB per
# million rows. KNN's search grows with the rows it keeps; under a time limit it keeps
# fewer still (_knn_rows).
_LINEAR_MAX_ROWS = _KNN_MAX_ROWS = 100_000

BUILTIN_FAMILIES = [
    Family(
        name="lightgbm", modules=("lightgbm.",),
        classifier="lightgbm:LGBMClassifier", regressor="lightgbm:LGBMRegressor",
        preprocessing="native", quiet={"verbose": -1}, early_stopping=LIGHTGBM_STOPPING,
        to_model_input=_lightgbm_input, deadline=_lightgbm_deadline, requires=("lightgbm",),
        small_batch_predict=_lightgbm_small_predict, onnx=lightgbm_onnx,
    ),
    Family(
        name="xgboost", modules=("xgboost.",),
        classifier="xgboost:XGBClassifier", regressor="xgboost:XGBRegressor",
        preprocessing="native", quiet={"verbosity": 0, "tree_method": "hist"},
        required={"enable_categorical": True}, to_model_input=_xgboost_input,
        input_params=_xgboost_types, early_stopping=XGBOOST_STOPPING,
        deadline=_xgboost_deadline, requires=("xgboost",), onnx=xgboost_onnx,
    ),
    Family(
        name="catboost", modules=("catboost.",),
        classifier="catboost:CatBoostClassifier", regressor="catboost:CatBoostRegressor",
        preprocessing="native", threads_param="thread_count",
        quiet={"verbose": False, "allow_writing_files": False},
        early_stopping=CATBOOST_STOPPING, to_model_input=_catboost_input,
        to_predict_input=_catboost_pool,
        deadline=_catboost_deadline, isolate=_catboost_isolate, requires=("catboost",),
        onnx=catboost_onnx,
    ),
    Family(
        name="random_forest", modules=("sklearn.ensemble",),
        classes=("RandomForestClassifier", "RandomForestRegressor"),
        classifier="sklearn.ensemble:RandomForestClassifier",
        regressor="sklearn.ensemble:RandomForestRegressor", preprocessing="ordinal",
        native_oof=FOREST_OOB, grow=_forest_grow, small_batch_predict=_forest_small_predict,
        onnx=forest_onnx,
    ),
    Family(
        name="extra_trees", modules=("sklearn.ensemble",),
        classes=("ExtraTreesClassifier", "ExtraTreesRegressor"),
        classifier="sklearn.ensemble:ExtraTreesClassifier",
        regressor="sklearn.ensemble:ExtraTreesRegressor", preprocessing="ordinal",
        small_batch_predict=_forest_small_predict,
        native_oof=FOREST_OOB, grow=_forest_grow, onnx=forest_onnx,
    ),
    Family(
        name="knn", modules=("sklearn.neighbors",),
        classes=("KNeighborsClassifier", "KNeighborsRegressor"),
        classifier="sklearn.neighbors:KNeighborsClassifier",
        regressor="sklearn.neighbors:KNeighborsRegressor", preprocessing="onehot",
        native_oof=KNN_LOO, subsample=_knn_rows, max_rows=_KNN_MAX_ROWS, onnx=knn_onnx,
    ),
    Family(
        name="linear", modules=("sklearn.linear_model",),
        classifier="sklearn.linear_model:LogisticRegression",
        regressor="sklearn.linear_model:Ridge", preprocessing="onehot", threads_param=None,
        grow=_linear_grow, max_rows=_LINEAR_MAX_ROWS, onnx=linear_onnx,
    ),
    Family(
        name="mlp", modules=("skstack.families._mlp",),
        classifier="skstack.families._mlp:MLPClassifier",
        regressor="skstack.families._mlp:MLPRegressor", preprocessing="onehot",
        early_stopping=MLP_STOPPING, deadline=_mlp_deadline, requires=("torch", "skorch"),
        onnx=mlp_onnx,
    ),
]

for _family in BUILTIN_FAMILIES:
    register_family(_family)
