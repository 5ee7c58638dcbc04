"""The built-in model families, one declarative record each.

Backends are imported only inside the recipes, when a model of that family is fitted.
"""

import time

import numpy as np
import pandas as pd

from ._base import EarlyStopping, Family, NativeOOF, register_family

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


def _mlp_deadline(estimator, deadline):
    return {"max_time": max(0.0, deadline - time.monotonic())}, {}


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


def _forest_grow(estimator, fit, deadline, steps=10, first_steps=30):
    """Grow the forest (warm start) until complete or until the next trees would end past
    ``deadline``.

    The first step grows a thirtieth of the trees and times them; each later step grows up
    to a tenth, and no more than the time left affords at that rate (one tree of a forest
    on 15,000 rows and 286 stacked columns of 26 classes takes about 0.1 s, so a tenth of
    300 trees could outlast a whole allowance). Warm-started growth draws the same tree
    seeds as one fit, so a forest that completes equals the one-shot forest. Out-of-bag
    predictions are computed once, at the end.
    """
    import warnings

    target, oob = estimator.n_estimators, estimator.oob_score
    step = max(1, -(-target // steps))
    estimator.set_params(warm_start=True, oob_score=False)
    grown, size = 0, max(1, -(-target // first_steps))
    while grown < target and size >= 1:
        start = time.monotonic()
        grown = min(target, grown + size)
        fit(estimator.set_params(n_estimators=grown))
        per_tree = (time.monotonic() - start) / size
        size = min(step, int((deadline - time.monotonic()) / max(per_tree, 1e-9)))
    if oob:
        estimator.set_params(oob_score=True)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Warm-start fitting without increasing")
            fit(estimator)  # computes the OOB predictions only
    estimator.set_params(warm_start=False)


def _linear_grow(estimator, fit, deadline, first=20):
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

    params = estimator.get_params(deep=False)
    if "warm_start" not in params or params.get("solver") == "liblinear":
        fit(estimator)
        return
    target, configured = params["max_iter"], params["warm_start"]
    estimator.set_params(warm_start=True)
    done, step, start = 0, min(first, target), time.monotonic()
    try:
        while True:
            with warnings.catch_warnings():
                # A step that ends before convergence is not a failure; the last one is.
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


def _forest_oob(model, X, y):
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
    return oof


def _knn_leave_one_out(model, X, y):
    """Leave-one-out predictions: each row's neighbours among the other training rows."""
    n_samples = len(y)
    k = min(model.n_neighbors, n_samples - 1)
    distances, indices = model.kneighbors(X, n_neighbors=k + 1)
    rows = np.arange(n_samples)
    is_self = indices == rows[:, None]
    # A row is normally its own first neighbour; among many duplicates it may be missing,
    # and then the farthest neighbour is dropped instead.
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(indices, dtype=bool)
    keep[rows, drop] = False
    indices = indices[keep].reshape(n_samples, k)
    distances = distances[keep].reshape(n_samples, k)
    weights = _neighbour_weights(model.weights, distances)
    y = np.asarray(y)
    if not hasattr(model, "classes_"):
        return (weights * y[indices]).sum(axis=1) / weights.sum(axis=1)
    proba = np.zeros((n_samples, len(model.classes_)))
    codes = np.searchsorted(model.classes_, y)
    for j in range(k):
        proba[rows, codes[indices[:, j]]] += weights[:, j]
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

BUILTIN_FAMILIES = [
    Family(
        name="lightgbm", modules=("lightgbm.",),
        classifier="lightgbm:LGBMClassifier", regressor="lightgbm:LGBMRegressor",
        preprocessing="native", quiet={"verbose": -1}, early_stopping=LIGHTGBM_STOPPING,
        to_model_input=_lightgbm_input, deadline=_lightgbm_deadline, requires=("lightgbm",),
    ),
    Family(
        name="xgboost", modules=("xgboost.",),
        classifier="xgboost:XGBClassifier", regressor="xgboost:XGBRegressor",
        preprocessing="native", quiet={"verbosity": 0, "tree_method": "hist"},
        required={"enable_categorical": True}, to_model_input=_xgboost_input,
        input_params=_xgboost_types, early_stopping=XGBOOST_STOPPING,
        deadline=_xgboost_deadline, requires=("xgboost",),
    ),
    Family(
        name="catboost", modules=("catboost.",),
        classifier="catboost:CatBoostClassifier", regressor="catboost:CatBoostRegressor",
        preprocessing="native", threads_param="thread_count",
        quiet={"verbose": False, "allow_writing_files": False},
        early_stopping=CATBOOST_STOPPING, to_model_input=_catboost_input,
        deadline=_catboost_deadline, requires=("catboost",),
    ),
    Family(
        name="random_forest", modules=("sklearn.ensemble",),
        classes=("RandomForestClassifier", "RandomForestRegressor"),
        classifier="sklearn.ensemble:RandomForestClassifier",
        regressor="sklearn.ensemble:RandomForestRegressor", preprocessing="ordinal",
        native_oof=FOREST_OOB, grow=_forest_grow, small_batch_predict=_forest_small_predict,
    ),
    Family(
        name="extra_trees", modules=("sklearn.ensemble",),
        classes=("ExtraTreesClassifier", "ExtraTreesRegressor"),
        classifier="sklearn.ensemble:ExtraTreesClassifier",
        regressor="sklearn.ensemble:ExtraTreesRegressor", preprocessing="ordinal",
        small_batch_predict=_forest_small_predict,
        native_oof=FOREST_OOB, grow=_forest_grow,
    ),
    Family(
        name="knn", modules=("sklearn.neighbors",),
        classes=("KNeighborsClassifier", "KNeighborsRegressor"),
        classifier="sklearn.neighbors:KNeighborsClassifier",
        regressor="sklearn.neighbors:KNeighborsRegressor", preprocessing="onehot",
        native_oof=KNN_LOO,
    ),
    Family(
        name="linear", modules=("sklearn.linear_model",),
        classifier="sklearn.linear_model:LogisticRegression",
        regressor="sklearn.linear_model:Ridge", preprocessing="onehot", threads_param=None,
        grow=_linear_grow,
    ),
    Family(
        name="mlp", modules=("skstack.families._mlp",),
        classifier="skstack.families._mlp:MLPClassifier",
        regressor="skstack.families._mlp:MLPRegressor", preprocessing="onehot",
        early_stopping=MLP_STOPPING, deadline=_mlp_deadline, requires=("torch", "skorch"),
    ),
]

for _family in BUILTIN_FAMILIES:
    register_family(_family)
