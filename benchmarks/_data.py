"""Loading the shared benchmark datasets (parquet, label column ``target``, manifest.csv)."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OrdinalEncoder

# ``SKSTACK_DATASETS`` points elsewhere, e.g. on a machine where ../shared is absent.
DATA_DIR = Path(os.environ.get("SKSTACK_DATASETS",
                               Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def manifest():
    return pd.read_csv(DATA_DIR / "manifest.csv").set_index("name")


def load(name, test_size=0.25, seed=0):
    """Train/test split of one dataset with categoricals ordinal-encoded (NaN kept)."""
    info = manifest().loc[name]
    frame = pd.read_parquet(DATA_DIR / f"{name}.parquet")
    y = frame.pop("target")
    classification = info.task != "regression"
    if classification:
        y = y.astype(str)
    encode = make_column_transformer(
        (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                        encoded_missing_value=np.nan),
         make_column_selector(dtype_exclude="number")),
        remainder="passthrough",
    )
    X_train, X_test, y_train, y_test = train_test_split(
        frame, y.to_numpy(), test_size=test_size, random_state=seed,
        stratify=y if classification else None,
    )
    X_train = encode.fit_transform(X_train).astype(np.float64)
    X_test = encode.transform(X_test).astype(np.float64)
    return info, X_train, X_test, y_train, y_test


def load_frame(name, test_size=0.25, seed=0):
    """The same train/test split as :func:`load`, with the raw columns (for AutoStack)."""
    info = manifest().loc[name]
    frame = pd.read_parquet(DATA_DIR / f"{name}.parquet")
    y = frame.pop("target")
    classification = info.task != "regression"
    if classification:
        y = y.astype(str)
    X_train, X_test, y_train, y_test = train_test_split(
        frame, y.to_numpy(), test_size=test_size, random_state=seed,
        stratify=y if classification else None,
    )
    return info, X_train, X_test, y_train, y_test


def score(metric, model, X_test, y_test):
    """The manifest's metric: roc_auc and log_loss on probabilities, rmse on values."""
    if metric == "rmse":
        return float(np.sqrt(mean_squared_error(y_test, model.predict(X_test))))
    proba = model.predict_proba(X_test)
    if metric == "roc_auc":
        return float(roc_auc_score(y_test, proba[:, 1]))
    return float(log_loss(y_test, proba, labels=model.classes_))


GREATER_IS_BETTER = {"roc_auc": True, "log_loss": False, "rmse": False}
