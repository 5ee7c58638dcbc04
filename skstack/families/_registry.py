"""The built-in model families, one declarative record each.

Backends are imported only inside the recipes, when a model of that family is fitted.
"""

import pandas as pd

from ._base import EarlyStopping, Family, register_family

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
    return model.best_iteration + 1


def _catboost_best(model):
    best = model.get_best_iteration()
    return model.tree_count_ if best is None else best + 1


LIGHTGBM_STOPPING = EarlyStopping("n_estimators", _lightgbm_fit_kwargs, _lightgbm_best)
XGBOOST_STOPPING = EarlyStopping(
    "n_estimators",
    lambda X_val, y_val, patience: {"eval_set": [(X_val, y_val)], "verbose": False},
    _xgboost_best,
    set_params=lambda patience: {"early_stopping_rounds": patience},
)
CATBOOST_STOPPING = EarlyStopping(
    "iterations",
    lambda X_val, y_val, patience: {"eval_set": (X_val, y_val),
                                    "early_stopping_rounds": patience},
    _catboost_best,
)


def _catboost_input(frame):
    """CatBoost takes categories as strings (no NaN) and needs their column names."""
    if not hasattr(frame, "columns"):  # all-numeric array input
        return frame, {}
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not categorical:
        return frame, {}
    frame = frame.copy()
    for column in categorical:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "__missing__")
        frame[column] = frame[column].astype(str)
    return frame, {"cat_features": categorical}


# ---- the families -------------------------------------------------------------------------

BUILTIN_FAMILIES = [
    Family(
        name="lightgbm", modules=("lightgbm.",),
        classifier="lightgbm:LGBMClassifier", regressor="lightgbm:LGBMRegressor",
        preprocessing="native", quiet={"verbose": -1}, early_stopping=LIGHTGBM_STOPPING,
    ),
    Family(
        name="xgboost", modules=("xgboost.",),
        classifier="xgboost:XGBClassifier", regressor="xgboost:XGBRegressor",
        preprocessing="native", quiet={"verbosity": 0, "tree_method": "hist"},
        required={"enable_categorical": True},
        early_stopping=XGBOOST_STOPPING,
    ),
    Family(
        name="catboost", modules=("catboost.",),
        classifier="catboost:CatBoostClassifier", regressor="catboost:CatBoostRegressor",
        preprocessing="native", threads_param="thread_count",
        quiet={"verbose": False, "allow_writing_files": False},
        early_stopping=CATBOOST_STOPPING, to_model_input=_catboost_input,
    ),
    Family(
        name="random_forest", modules=("sklearn.ensemble",),
        classes=("RandomForestClassifier", "RandomForestRegressor"),
        classifier="sklearn.ensemble:RandomForestClassifier",
        regressor="sklearn.ensemble:RandomForestRegressor", preprocessing="ordinal",
    ),
    Family(
        name="extra_trees", modules=("sklearn.ensemble",),
        classes=("ExtraTreesClassifier", "ExtraTreesRegressor"),
        classifier="sklearn.ensemble:ExtraTreesClassifier",
        regressor="sklearn.ensemble:ExtraTreesRegressor", preprocessing="ordinal",
    ),
    Family(
        name="knn", modules=("sklearn.neighbors",),
        classes=("KNeighborsClassifier", "KNeighborsRegressor"),
        classifier="sklearn.neighbors:KNeighborsClassifier",
        regressor="sklearn.neighbors:KNeighborsRegressor", preprocessing="onehot",
    ),
    Family(
        name="linear", modules=("sklearn.linear_model",),
        classifier="sklearn.linear_model:LogisticRegression",
        regressor="sklearn.linear_model:Ridge", preprocessing="onehot", threads_param=None,
    ),
]

for _family in BUILTIN_FAMILIES:
    register_family(_family)
