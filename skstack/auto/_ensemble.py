"""Ensemble selection of an AutoStack fit, within the time the budget leaves for it.

Caruana's greedy selection (:class:`~skstack.GreedyEnsembleSelector`) runs on the last
level's out-of-fold predictions (of the rows :meth:`FitRun.selection_rows` names: the
holdout rows of a holdout plan, the held-out ones of a user's ``cv``); the models it does
not use are pruned so that they cost nothing at predict time. Under a time limit the
candidates are cut to what one timed greedy step says fits, and the selector's own
``time_limit`` stops its steps should the machine be slower than the timing said. With
two levels, the upper one is kept only when its ensemble selects better than the lower
one's (:func:`keep_helpful_levels`).
"""

import copy
import time

from .._scoring import prediction_scorer
from .._selection import GreedyEnsembleSelector, blend_response
from ._budget import FIRST_OF_TWO_SELECTIONS, STEP_BOOKKEEPING, STEP_MIN_SECONDS, STEP_TIMINGS

__all__ = ["keep_helpful_levels", "make_selector", "oof_ensemble_proba", "select",
           "selection_among"]


def make_selector(run, combiner="weighted", until=None):
    """A selector for the fit; ``until`` (a :func:`time.monotonic` value) ends its steps."""
    time_left = run.budget.combiner_time() if combiner == "auto" else None
    return GreedyEnsembleSelector(
        task=run.task,
        scoring=run.scoring,
        n_iterations=run.options.n_iterations,
        combiner=combiner,
        combiner_time_limit=time_left,
        time_limit=None if until is None else max(0.0, until - time.monotonic()),
        random_state=run.seed(),
    )


def select(run, layer, y, sample_weight, prune=None, share=1.0):
    """Caruana selection on the last level's OOF predictions, then pruning.

    ``share``: the part of the time left that the selection may take. The candidates are
    cut to what fits in it; should the selection still run late (a busy machine), its
    greedy steps stop at the end of it.
    """
    options = run.options
    prune = options.prune if prune is None else prune
    rows, positions = run.selection_rows(), run.selection_rows(layer)
    until = None
    if run.budget.limited:
        allowed = run.budget.selection_time(share)
        until = time.monotonic() + allowed
        _fit_selection_in_time(run, layer, y[rows], positions, allowed)
    features = layer._oof_predictions()
    features, y_sel = features.iloc[positions], y[rows]
    w_sel = None if sample_weight is None else sample_weight[rows]
    # The combiner is chosen once, on the final candidates (its check refits 6 times):
    # with pruning, after the candidates are cut to the models the selection uses.
    selector = make_selector(run, "weighted" if prune else options.combiner, until)
    selector.fit(features, y_sel, sample_weight=w_sel)
    used = [name for name, weight in selector.weights_.items() if weight > 0]
    if prune and (len(used) < len(layer.estimators_) or options.combiner != "weighted"):
        # Refit on the used models only: greedy selection picks the same counts among
        # them, and the pipeline then predicts with those models alone.
        layer._keep(used)
        features = features[layer.get_feature_names_out()]
        selector = make_selector(run, options.combiner, until).fit(features, y_sel,
                                                                   sample_weight=w_sel)
    if selector.combiner_scores_ is not None:
        scores = selector.combiner_scores_
        run.log(1, f"combiner {selector.combiner_}: cross-validated linear "
                   f"{scores['linear']:.4f}, weighted average {scores['weighted']:.4f}")
    return selector


def oof_ensemble_proba(run, layer, selector):
    """The ensemble's class probabilities of the rows it was selected on, from the last
    level's out-of-fold predictions (predictions of rows no model of it saw)."""
    features = layer._oof_predictions().iloc[run.selection_rows(layer)]
    return selector.predict_proba(features[layer.get_feature_names_out()])


def _fit_selection_in_time(run, layer, y, positions, allowed):
    """Keep only the best models by OOF score when selecting among all would overrun.

    Greedy selection scores every candidate at every step; one step's blend and score
    are timed and the candidates are cut so that the selection fits in ``allowed``
    seconds.
    """
    if len(layer.estimators_) <= 1:
        return
    best = max(layer.oof_scores_, key=layer.oof_scores_.get)
    score = prediction_scorer(run.scoring, None, y, classes=getattr(layer, "classes_", None))
    values = layer.named_estimators_[best].oof_pred_[positions]
    timings = []
    for _ in range(STEP_TIMINGS):
        start = time.perf_counter()
        score(blend_response(run.task, (values + values) / 2))  # as a step does
        timings.append(time.perf_counter() - start)
    per_call = max(min(timings), STEP_MIN_SECONDS) + STEP_BOOKKEEPING
    affordable = run.budget.affordable_candidates(allowed, run.options.n_iterations, per_call)
    if affordable < len(layer.estimators_):
        ranked = sorted(layer.oof_scores_, key=lambda name: -layer.oof_scores_[name])
        run.log(1, f"selection among the best {affordable} of "
                   f"{len(ranked)} models, to stay within the time limit")
        layer._keep(ranked[:affordable])


def selection_among(run, layer, names, y, sample_weight, share=1.0):
    """A pruned copy of ``layer`` (to the models ``names``, None: all) and its selector.

    The copy is shallow: the bags are shared, ``layer`` keeps all of its models.
    """
    trial = copy.copy(layer)
    if names is not None:
        trial._keep(names)
    return trial, select(run, trial, y, sample_weight, prune=True, share=share)


def keep_helpful_levels(run, layers, y, sample_weight):
    """The levels kept, the same with the last one pruned to its ensemble, and its selector.

    The top level is kept, or dropped when its ensemble selects no better than one on
    the level below (which then becomes the last level, without passthrough).

    The check before level 2 runs with few models and little time; the level fitted
    after it may still end up worse (starved of time, or a check that was wrong by
    chance). Both levels' ensembles are scored on the same out-of-fold rows; the upper
    one's score is optimistic (it stacks on predictions of those rows), so when it is
    not even higher, it cannot help on new rows and is dropped.
    """
    upper, top = selection_among(run, layers[-1], None, y, sample_weight,
                                 share=FIRST_OF_TWO_SELECTIONS)
    lower = layers[-2]
    lower.set_params(passthrough=False)
    trial, below = selection_among(run, lower, None, y, sample_weight)
    kept = top.ensemble_score_ > below.ensemble_score_
    run.stacking_check = dict(run.stacking_check or {},
                              top_oof_score=top.ensemble_score_,
                              below_oof_score=below.ensemble_score_,
                              top_kept=kept)
    run.log(1, f"level {len(layers)} ensemble OOF {top.ensemble_score_:.4f}, level "
               f"{len(layers) - 1} {below.ensemble_score_:.4f}"
               + ("" if kept else f": level {len(layers)} dropped"))
    if kept:
        lower.set_params(passthrough=run.options.passthrough)
        return layers, layers[:-1] + [upper], top
    return layers[:-1], layers[:-2] + [trial], below
