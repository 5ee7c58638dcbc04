"""Distillation of a fitted AutoStack into one fast model (AutoGluon's ``distill``).

The teacher's targets are the ensemble's out-of-fold predictions of its training rows:
what it predicts for rows that none of its models saw, so the student learns the
ensemble's behaviour on new rows, not its fit of the training rows. A classification
student is a :class:`~skstack.SoftTargetClassifier` (one regressor per class of the
ensemble's probabilities; LightGBM's with the cross-entropy loss); a regression student
regresses the ensemble's predictions. Before the student is trained on every row, a copy
trained without a held-out part of them is scored there next to the ensemble's own
out-of-fold predictions of the same rows and next to the same model trained on the labels
(where the ensemble's edge is one a single model cannot learn, distillation does not pay:
the report says so), and both pipelines' time per row is measured.
"""

import time

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from .._folds import holdout_plan
from .._scoring import prediction_scorer
from .._soft_targets import SoftTargetClassifier
from ..families import build_estimators
from ..families.portfolios import DEFAULT, PortfolioEntry
from ._deployment import measurement_rows, time_per_row, top_level_rows

__all__ = ["distill", "ensemble_oof_predictions"]

_STUDENT_DEFAULTS = {entry.family: entry.params for entry in reversed(DEFAULT)
                     if isinstance(entry.family, str)}


def ensemble_oof_predictions(pipeline):
    """The fitted ensemble's out-of-fold predictions of every training row (NaN: rows no
    fold held out): class probabilities, or values."""
    layer, selector = pipeline[-2], pipeline[-1]
    features = layer._oof_predictions()[layer.get_feature_names_out()]
    n_rows = len(pipeline.steps[1][1].estimators_[0].oof_pred_)
    if hasattr(selector, "predict_proba"):
        values = np.full((n_rows, len(selector.classes_)), np.nan)
    else:
        values = np.full(n_rows, np.nan)
    held = np.isfinite(features.to_numpy()).all(axis=1)
    if held.any():
        rows = top_level_rows(pipeline)[held]
        values[rows] = (selector.predict_proba(features[held]) if values.ndim == 2
                        else selector.predict(features[held]))
    return values


def student(family, params, classifier, max_time):
    """The unfitted student: the family's regressor (early-stopped boosting), wrapped in a
    :class:`SoftTargetClassifier` for classification."""
    params = {**_STUDENT_DEFAULTS.get(family, {}), **(params or {})}
    if classifier and family == "lightgbm":
        params.setdefault("objective", "cross_entropy")  # the loss of probabilities
    (_, model), = build_estimators([PortfolioEntry(family, params)], task="regression")
    if max_time is not None:
        model.set_params(max_time=max_time)
    return SoftTargetClassifier(model) if classifier else model


def _fit(model, X, y, targets, sample_weight):
    """``model`` fitted on the teacher's ``targets`` (None: on the labels ``y``)."""
    extra = {} if sample_weight is None else {"sample_weight": sample_weight}
    if isinstance(model, SoftTargetClassifier):
        return model.fit(X, y, soft_targets=targets, **extra)
    return model.fit(X, y if targets is None else targets, **extra)


def distill(auto, X, y, sample_weight, *, family, params, time_limit, random_state):
    """The fitted student pipeline of ``auto`` and the report of its held-out check.

    ``X``, ``y`` and ``sample_weight`` are the validated training rows of ``auto``'s fit.
    """
    start = time.monotonic()
    teacher = ensemble_oof_predictions(auto.pipeline_)
    if len(teacher) != len(y):
        raise ValueError(f"distill needs the {len(teacher)} training rows given to fit; got "
                         f"{len(y)}.")
    rows = np.flatnonzero(np.isfinite(teacher.reshape(len(teacher), -1)).all(axis=1))
    classifier = teacher.ndim == 2
    encoder = auto.pipeline_["encoder"]
    features = X if encoder == "passthrough" else encoder.transform(X)
    # Each fit of the student (checked, on the labels for comparison, then on every row;
    # one regressor per class) gets its share of the time.
    fits = 3 * (1 if not classifier or teacher.shape[1] == 2 else teacher.shape[1])
    max_time = None if time_limit is None else time_limit / fits
    model = student(family, params, classifier, max_time)

    def part(positions):
        return (features.iloc[positions] if hasattr(features, "iloc")
                else features[positions], y[positions], teacher[positions],
                None if sample_weight is None else sample_weight[positions])

    report = {"family": family, "rows": len(rows)}
    split = holdout_plan(y[rows], classifier=classifier, fraction=0.2,
                         random_state=random_state)
    if split is not None:
        fit_rows, check_rows = (rows[part_] for part_ in split[0])
        X_fit, y_fit, teacher_fit, w_fit = part(fit_rows)
        X_check, y_check, teacher_check, w_check = part(check_rows)
        score = prediction_scorer(auto._scoring(), None, y_check,
                                  classes=getattr(auto, "classes_", None),
                                  sample_weight=w_check)

        def check_score(targets):
            fitted = _fit(clone(model), X_fit, y_fit, targets, w_fit)
            return score(fitted.predict_proba(X_check) if classifier
                         else fitted.predict(X_check))

        report.update(check_rows=len(check_rows), student_score=check_score(teacher_fit),
                      plain_score=check_score(None), ensemble_score=score(teacher_check))
    model = _fit(model, *part(rows))
    pipeline = Pipeline([("encoder", encoder), ("student", model)])
    one = measurement_rows(X, 1)
    report.update(student_seconds_per_row=time_per_row(pipeline, one),
                  ensemble_seconds_per_row=time_per_row(auto.pipeline_, one),
                  fit_time=time.monotonic() - start)
    return pipeline, report
