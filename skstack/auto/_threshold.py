"""The decision threshold of a binary AutoStackClassifier, tuned on out-of-fold predictions.

AutoGluon's ``calibrate_decision_threshold`` and scikit-learn's
:class:`~sklearn.model_selection.TunedThresholdClassifierCV` choose the probability above
which a row is labelled positive so that a label metric (F1, balanced accuracy, ...) is
best. scikit-learn refits the model in cross-validation to get predictions of rows it did
not see; an AutoStack fit already has them: the ensemble's out-of-fold predictions (the
holdout's under a holdout plan). Tuning costs no extra fit.
"""

import time
import warnings

import numpy as np

from .._scoring import resolve_scorer, score_predictions

__all__ = ["check_threshold_scoring", "threshold_scorer", "tune_threshold"]

# Candidate thresholds: this many quantiles of the positive class's probabilities (and
# 0.5), tried from 0.5 outwards so that a deadline leaves the nearest ones tried.
N_CANDIDATES = 100


def threshold_scorer(scoring):
    """The scorer of ``threshold_scoring``; it must score predicted labels."""
    scorer = resolve_scorer(scoring, None)
    response = getattr(scorer, "_response_method", "predict")
    if response != "predict":
        raise ValueError(
            f"threshold_scoring={scoring!r} scores {response!r}, which a decision threshold "
            "does not change; name a metric of predicted labels, such as 'f1', "
            "'balanced_accuracy' or 'matthews_corrcoef'.")
    return scorer


def check_threshold_scoring(scoring, y, classes):
    """Check before the fit that ``threshold_scoring`` scores labels, and ``y``'s (a
    scorer of ``pos_label=1`` cannot score labels ``"no"`` and ``"yes"``: it fails now
    rather than at the end of the fit)."""
    scorer = threshold_scorer(scoring)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ill-defined metrics of this one trial
        try:
            score_predictions(scorer, y, np.ones(len(y)), classes=classes, response="decision")
        except ValueError as error:
            raise ValueError(f"threshold_scoring={scoring!r} cannot score the labels "
                             f"{np.asarray(classes).tolist()}: {error}") from error


def tune_threshold(proba, y, classes, scorer, sample_weight=None, deadline=None):
    """The threshold on ``proba[:, 1]`` that maximises ``scorer``, and its score.

    A row is labelled ``classes[1]`` when its probability is above the threshold. Ties
    between thresholds go to the one nearest 0.5; ``deadline`` (a :func:`time.monotonic`
    value) ends the search, 0.5 always tried.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, 2)
        Out-of-fold class probabilities.
    y : ndarray of shape (n_samples,)
        True labels of those rows.
    classes : ndarray of shape (2,)
        The labels of ``proba``'s columns.
    scorer : callable
        A scikit-learn scorer of predicted labels.
    sample_weight : ndarray of shape (n_samples,), default=None
        Row weights for the scorer.
    deadline : float, default=None
        :func:`time.monotonic` value after which no other candidate is tried.

    Returns
    -------
    threshold, score : float, float
    """
    positive = proba[:, 1]
    # Rows whose probability is above the threshold are positive: just below each
    # quantile, a candidate labels that quantile's rows positive.
    quantiles = np.quantile(positive, np.linspace(0, 1, N_CANDIDATES))
    candidates = np.unique(np.r_[0.5, np.nextafter(quantiles, -np.inf)])
    candidates = candidates[np.argsort(np.abs(candidates - 0.5), kind="stable")]
    best, best_score = 0.5, -np.inf
    for threshold in candidates:
        score = score_predictions(scorer, y, positive - threshold, classes=classes,
                                  response="decision", sample_weight=sample_weight)
        if score > best_score:
            best, best_score = float(threshold), score
        if deadline is not None and time.monotonic() > deadline:
            break
    return best, float(best_score)
