"""What a fitted AutoStack predicts with: the pipeline, ``infer_limit`` and ``refit_full``.

A pipeline's time per row is the column encoder, each distinct preprocessing its last layer's
bags share (applied once per prediction, see :class:`~skstack.StackLayer`), and each bag's own
models. Measured once per part (:class:`InferenceCosts`), the time of any subset of the bags is
a sum, so models can be dropped on the estimate without re-timing the pipeline after every
choice (:func:`meet_infer_limit`). :func:`deployed_ensemble` assembles what a fit keeps;
:func:`refit_full` refits every kept bag on all rows, to
predict with one model each.
"""

import copy
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing

from .._folds import held_out_rows
from ._budget import UNPROBED_BATCH
from ._ensemble import keep_helpful_levels, select, selection_among

__all__ = [
    "InferenceCosts",
    "deployed_ensemble",
    "kept_models",
    "make_pipeline",
    "member_pipeline",
    "measurement_rows",
    "meet_infer_limit",
    "refit_full",
    "rows_above",
    "time_per_row",
    "top_level_rows",
]


def make_pipeline(encoder, layers, selector):
    """The fitted ``pipeline_``: the encoder, one step per level, the selector."""
    return Pipeline([("encoder", encoder)]
                    + [(f"layer{i}", layer) for i, layer in enumerate(layers, start=1)]
                    + [("selector", selector)])


def kept_models(pipeline):
    """``{(level, name): (bag, step index)}`` of the models ``pipeline`` still holds."""
    kept = {}
    for index, (step, layer) in enumerate(pipeline.steps):
        if step.startswith("layer"):
            level = int(step[len("layer"):])
            for name, bag in layer.named_estimators_.items():
                kept[(level, name)] = (bag, index)
    return kept


def member_pipeline(pipeline, records, name):
    """One model of a fitted ``pipeline_`` as a Pipeline of its own: the steps below its
    level (the encoder, the levels it stacks on), then its bag. The parts are shared
    with ``pipeline``, not copied. ``records``: the fit's, to say why a model is absent."""
    record = next((record for record in records if record.name == name), None)
    if record is None:
        names = sorted(record.name for record in records)
        raise ValueError(f"No model named {name!r}; the leaderboard's models: {names}.")
    kept = kept_models(pipeline)
    if (record.level, name) not in kept:
        if not record.fitted:
            why = f"its status is {record.status!r}"
        elif not any(level == record.level for level, _ in kept):
            why = "the stacking check dropped its level"
        else:
            why = "the ensemble does not use it and it was pruned (prune=False keeps it)"
        raise ValueError(f"Model {name!r} is not in the fitted ensemble: {why}.")
    bag, index = kept[(record.level, name)]
    return Pipeline(pipeline.steps[:index] + [(name, bag)])


def rows_above(layer, n_rows):
    """Positions among the ``n_rows`` rows ``layer`` trained on of those the level above
    it trained on: None (all of them) unless a user's ``cv`` never held out some, as a
    time-ordered one does (see ``skstack.auto._run.Level``)."""
    held = None if layer.cv is None else held_out_rows(layer.cv)
    return None if held is None or len(held) == n_rows else held


def top_level_rows(pipeline):
    """Indices among the fit's rows of the rows the last level of ``pipeline`` trained on."""
    layers = [layer for _, layer in pipeline.steps[1:-1]]
    rows = np.arange(len(layers[0].estimators_[0].oof_pred_))
    for layer in layers[:-1]:
        held = rows_above(layer, len(rows))
        rows = rows if held is None else rows[held]
    return rows


def measurement_rows(X, batch_size):
    """``batch_size`` rows of ``X`` (repeated when it has fewer): the batch to time."""
    n_rows = len(X) if hasattr(X, "iloc") else X.shape[0]
    return _safe_indexing(X, np.resize(np.arange(n_rows), batch_size))


def _timed(function, n_rows, repeats):
    """The fastest of ``repeats`` calls, in seconds per row, and the call's result."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best / n_rows, result


def _repeats(n_rows):
    return 5 if n_rows < 100 else 1  # small batches are noisy and cheap to repeat


def time_per_row(pipeline, X):
    """Seconds per row that ``pipeline`` takes to predict the batch ``X``."""
    method = "predict_proba" if hasattr(pipeline[-1], "predict_proba") else "predict"
    return _timed(lambda: getattr(pipeline, method)(X), len(X), _repeats(len(X)))[0]


class InferenceCosts:
    """Seconds per row of the parts of a one-level pipeline, measured on the batch ``X``.

    Parameters
    ----------
    encoder : transformer or "passthrough"
        The fitted column encoder.
    layer : StackLayer
        The fitted (last and only) layer.
    X : DataFrame or ndarray
        The raw rows to time.
    """

    def __init__(self, encoder, layer, X):
        n_rows, repeats = len(X), _repeats(len(X))
        self.encoder, features = _timed(
            lambda: X if encoder == "passthrough" else encoder.transform(X), n_rows, repeats)
        self.preprocessing, self.models, self.uses = {}, {}, {}
        encoded = {}
        for name, bag in layer.named_estimators_.items():
            key = id(bag.preprocessor_)
            if key not in encoded:
                self.preprocessing[key], encoded[key] = _timed(
                    lambda bag=bag: bag._preprocess(features), n_rows, repeats)
            self.models[name], _ = _timed(
                lambda bag=bag, key=key: bag._average_models(encoded[key], bag._models()),
                n_rows, repeats)
            self.uses[name] = key

    def estimate(self, names):
        """Seconds per row of a pipeline predicting with the bags ``names``."""
        shared = {self.uses[name] for name in names}
        return (self.encoder + sum(self.preprocessing[key] for key in shared)
                + sum(self.models[name] for name in names))

    def slowest(self, names):
        """The bag whose removal saves the most time."""
        total = self.estimate(names)
        return max(names, key=lambda name: total - self.estimate(
            [other for other in names if other != name]))


def deployed_ensemble(run, X, y, sample_weight, encoder, layers):
    """The layers the fit deploys, pruned to the selected ensemble, its selector, and the
    time per row it was measured at (None without ``infer_limit``).

    Unfitted models become ``"drop"``; the levels the stacking check did not keep go
    (``dynamic_stacking``); under ``infer_limit`` the ensemble is chosen among every model
    of the kept levels, not only the selected ones.
    """
    options = run.options
    for layer in layers:
        layer._keep(list(layer.named_estimators_))
    for layer in layers[:-1]:
        layer.set_params(passthrough=options.passthrough)
    layers[-1].set_params(passthrough=False)
    pruned = selector = None
    if len(layers) > 1 and options.dynamic_stacking:
        layers, pruned, selector = keep_helpful_levels(run, layers, y, sample_weight)
    if options.infer_limit is not None:
        return meet_infer_limit(run, X, y, sample_weight, encoder, layers)
    if pruned is None:
        return layers, select(run, layers[-1], y, sample_weight), None
    return pruned, selector, None


def meet_infer_limit(run, X, y, sample_weight, encoder, layers):
    """The layers and selector of the best ensemble found within ``infer_limit``.

    The stack's ensemble is timed on ``infer_limit_batch_size`` training rows, and its
    first level is searched (each upper model needs every model below it): every bag's
    time is measured once, and from the ensemble of all the level's models, the model
    whose removal saves the most time leaves the candidates and the ensemble is selected
    again among the rest, down to one model (:func:`_walk_front`). Of the stack and
    those ensembles, the one of best out-of-fold score within the limit is kept (the
    fastest when none is), pruned. The front of the ensembles tried (no other both
    faster and better) is ``run.inference_front``. Returns the layers, the selector and
    their measured seconds per row.
    """
    limit = run.options.infer_limit
    points, stack = [], None
    if len(layers) > 1:
        trial, selector = selection_among(run, layers[-1], None, y, sample_weight)
        stacked = layers[:-1] + [trial]
        pipeline = make_pipeline(encoder, stacked, selector)
        batch = measurement_rows(X, _measurement_batch(run, X, pipeline))
        per_row = time_per_row(pipeline, batch)
        stack = _FrontPoint(len(layers), trial, selector, per_row)
        points.append(stack)
        if per_row > limit:
            run.log(1, f"infer_limit: the stack takes {per_row:.2e} s per row; level 1 alone")
    # Its own copy: the stack's first level passes its input through to the second.
    level1 = copy.copy(layers[0]).set_params(passthrough=False)
    points += _walk_front(run, X, y, sample_weight, encoder, level1)
    chosen = _best_within(points, limit)
    if chosen is not stack:  # a level-1 ensemble's time is an estimate until timed whole
        chosen = _measure_level1(encoder, points, chosen, limit)
    run.inference_front = _front_frame(points, chosen)
    if chosen is stack:
        kept, selector, per_row = stacked, stack.selector, stack.seconds_per_row
    else:
        kept, selector, per_row = [chosen.layer], chosen.selector, chosen.seconds_per_row
    if per_row > limit:
        warnings.warn(
            f"No ensemble meets infer_limit={limit:g} s per row: the fastest model takes "
            f"{per_row:.3g} s. Try refit=True (one model per bag instead of one per fold) "
            "or a larger infer_limit_batch_size.", UserWarning, stacklevel=4)
    return kept, selector, per_row


class _FrontPoint:
    """One ensemble tried by ``infer_limit``: its level, its (pruned) layer and selector,
    its seconds per row (the stack's measured, the others' estimated from their parts)
    and, for a level-1 ensemble, the batch it was timed on."""

    def __init__(self, level, layer, selector, seconds_per_row, batch=None):
        self.level, self.layer, self.selector = level, layer, selector
        self.seconds_per_row, self.batch = seconds_per_row, batch
        self.models = tuple(layer.named_estimators_)
        self.score = selector.ensemble_score_


def _walk_front(run, X, y, sample_weight, encoder, layer):
    """The ensembles of ``layer`` from all of its models down to one, the model whose
    removal saves the most time leaving at each step; the walk ends early when the
    time limit is near (a step may not take more than half the time left)."""
    budget = run.budget
    candidates = list(layer.named_estimators_)
    points, costs, batch = [], None, None
    while True:
        start = time.monotonic()
        # The first, of every model, as the fit without infer_limit selects; then each
        # its share of what is left for the walk.
        share = 1.0 if not points else 1 / len(candidates)
        trial, selector = selection_among(run, layer, candidates, y, sample_weight,
                                          share=share)
        if costs is None:
            batch = measurement_rows(X, _measurement_batch(
                run, X, make_pipeline(encoder, [trial], selector)))
            costs = InferenceCosts(encoder, layer, batch)
        used = list(trial.named_estimators_)
        point = _FrontPoint(1, trial, selector, costs.estimate(used), batch)
        points.append(point)
        if len(candidates) == 1 or (budget.limited and budget.remaining()
                                    < 2 * (time.monotonic() - start)):
            return points
        slowest = costs.slowest(used)
        run.log(2, f"infer_limit: leaving out {slowest}")
        candidates.remove(slowest)


def _measure_level1(encoder, points, chosen, limit):
    """``chosen``, a level-1 point, timed as a whole pipeline; the estimates of the
    level-1 points not timed yet corrected by what the sum of its parts missed (the
    pipeline's own cost per call). Should it then be over ``limit``, the best point
    within it is taken instead (and timed, unless it is the stack), once."""
    timed = set()
    while True:
        measured = time_per_row(make_pipeline(encoder, [chosen.layer], chosen.selector),
                                chosen.batch)
        overhead, chosen.seconds_per_row = measured - chosen.seconds_per_row, measured
        timed.add(chosen)
        for point in points:
            if point.level == 1 and point not in timed:
                point.seconds_per_row = max(0.0, point.seconds_per_row + overhead)
        if measured <= limit or len(timed) == 2:
            return chosen
        better = _best_within(points, limit)
        if better is chosen or better.level != 1:  # the stack is timed whole already
            return better
        chosen = better


def _best_within(points, limit):
    """The point of best score among those within ``limit`` (ties: the faster), or the
    fastest when none is."""
    within = [point for point in points if point.seconds_per_row <= limit]
    if not within:
        return min(points, key=lambda point: point.seconds_per_row)
    return max(within, key=lambda point: (point.score, -point.seconds_per_row))


def _front(points):
    """The points no other point beats on both score and time, fastest first."""
    ordered = sorted(points, key=lambda point: (point.seconds_per_row, -point.score))
    front = []
    for point in ordered:
        if not front or point.score > front[-1].score:
            front.append(point)
    return front


def _front_frame(points, chosen):
    """``inference_front_``: one row per ensemble of the front, ``chosen`` among them
    (one tied with another in both time and score may not be on it otherwise)."""
    front = _front(points)
    if chosen not in front:
        front = sorted(front + [chosen], key=lambda point: point.seconds_per_row)
    return pd.DataFrame({
        "level": [point.level for point in front],
        "models": [point.models for point in front],
        "n_models": [len(point.models) for point in front],
        "oof_score": [point.score for point in front],
        "seconds_per_row": [point.seconds_per_row for point in front],
        "deployed": [point is chosen for point in front],
    })


def _measurement_batch(run, X, pipeline):
    """``infer_limit_batch_size``, cut so that timing it fits in the time left."""
    size = run.options.infer_limit_batch_size
    if not run.budget.limited or size <= UNPROBED_BATCH:
        return size
    probe = time_per_row(pipeline, measurement_rows(X, UNPROBED_BATCH))
    return run.budget.measurement_rows(size, probe, run.budget.measurement_time())


def refit_full(pipeline, X, y, sample_weight=None):
    """Refit every kept bag of ``pipeline`` on the training rows ``X, y`` of its fit.

    Each bag fits one more model on all rows (the mean number of rounds its folds kept)
    and predicts with it alone; the out-of-fold predictions, upper levels and ensemble
    weights stay as they are. ``X`` and ``y`` are validated.
    """
    encoder = pipeline["encoder"]
    features = X if encoder == "passthrough" else encoder.transform(X)
    n_rows = len(pipeline.steps[1][1].estimators_[0].oof_pred_)
    if n_rows != len(y):
        raise ValueError(f"refit_full needs the {n_rows} training rows given to fit; got "
                         f"{len(y)}.")
    for _, layer in pipeline.steps[1:-1]:
        codes = y
        if hasattr(layer, "classes_"):
            if not np.isin(y, layer.classes_).all():
                raise ValueError("y holds classes that fit did not see: refit_full needs "
                                 "the training rows given to fit.")
            codes = np.searchsorted(layer.classes_, y)
        fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        for bag in layer.estimators_:
            bag._add_full_model(features, codes, dict(fit_params))
        features = layer._oof_frame(features)  # what the next level trained on
        held = rows_above(layer, len(y))
        if held is not None:
            features, y = features.iloc[held], y[held]
            sample_weight = None if sample_weight is None else sample_weight[held]
