"""The stacked-overfitting check: does a second level beat the first on unseen rows?

AutoGluon's dynamic stacking refits the whole stack on a holdout split (a quarter of the
time). Here only the best first-level models that fit in a tenth of the time limit are
refitted, on 8/9 of the rows, as a small two-level stack; both levels' ensembles then score
the held-out ninth, and stacking is kept only when the second level scores higher, on the
rows and in most bootstrap resamples of them. The second level of the check also holds the
model the real second level trains first (the portfolio's highest priority: the linear
model), when time allows: a stacker on the candidates' predictions that their own copies
above them are not.

:func:`stacking_check` decides and returns its record, which becomes the estimator's
``stacking_check_``.
"""

import time

import numpy as np

from .._folds import holdout_plan
from .._scoring import prediction_scorer
from .._utils import BudgetExceeded, pick
from ._budget import CHECK_LEVEL1_SHARE, TimeBudget
from ._ensemble import make_selector
from ._members import DeadlineMember, Interrupted

__all__ = ["check_candidates", "share_of_wins", "stacking_check"]

# Stacking is kept when level 2 scores higher on the check rows and in at least this share
# of their bootstrap resamples: the check's held-out ninth is small, and a difference in
# ROC AUC on a few hundred rows is mostly noise.
STACK_CONFIDENCE = 0.75
CHECK_RESAMPLES = 100
CHECK_FRACTION = 1 / 9
CHECK_CANDIDATES = 3


def stacking_check(run, data, first):
    """Whether a second level over ``first`` (the fitted level 1) beats it on held-out rows.

    Parameters
    ----------
    run : FitRun
        The fit.
    data : Level
        The rows level 1 was fitted on, with their weights, groups and folds.
    first : StackLayer
        The fitted level 1.

    Returns
    -------
    record : dict or None
        The decision (``"stack"`` or ``"no stacking"``) and why: the reason, or the
        models, both levels' scores on the check rows and the share of resamples level 2
        won. None when Ctrl-C stopped the fit before the check.
    """
    if not run.options.dynamic_stacking:
        return {"decision": "stack", "reason": "dynamic_stacking=False"}
    if run.records.interrupted:
        return None
    candidates, stacker = check_candidates(run, first)
    if not candidates:
        run.log(1, "stacking check: no time, not stacking")
        return {"decision": "no stacking", "reason": "no time to check that stacking helps"}
    seed = run.seed()
    split = _check_split(run, data, seed)
    if split is None:
        return {"decision": "no stacking", "reason": "too few rows of some class to check"}
    fit_rows, check_rows = split
    try:
        level1, level2 = _fit_check_stack(run, data.subset(fit_rows), first, candidates,
                                          stacker, seed)
    except (Interrupted, BudgetExceeded, ValueError) as error:
        run.log(1, f"stacking check with {', '.join(candidates)} could not finish "
                   f"({error}): not stacking")
        return {"decision": "no stacking", "reason": f"the check could not finish: {error}"}
    first_score, second_score, wins = _score_check(run, data, check_rows, level1, level2,
                                                   seed)
    helps = second_score > first_score and wins >= STACK_CONFIDENCE
    record = {
        "decision": "stack" if helps else "no stacking",
        "models": candidates,
        "stacker": None if stacker is None else stacker[0],
        "level1_score": first_score,
        "level2_score": second_score,
        "level2_wins": wins,
        "check_rows": len(check_rows),
    }
    run.log(1, f"stacking check on {len(check_rows)} held-out rows: level 1 "
               f"{first_score:.4f}, level 2 {second_score:.4f}, higher in "
               f"{wins:.0%} of resamples -> {record['decision']}")
    return record


def _check_split(run, data, seed):
    """The check's ``(fit rows, check rows)``, sorted; None when no split holds every class.

    Under the built-in folds, a ninth of the rows (of the groups) at random. Under a
    user's ``cv``, its last fold: for a time-ordered splitter the latest rows, checked by
    levels fitted on the rows before them, over the same fold boundaries.
    """
    if data.plan is not None:
        return tuple(np.sort(part) for part in data.plan[-1])
    split = holdout_plan(data.y, classifier=run.classifier, fraction=CHECK_FRACTION,
                         random_state=seed, groups=data.groups)
    return None if split is None else split[0]


def _fit_check_stack(run, data, first, candidates, stacker, seed):
    """The check's two levels fitted on ``data`` (the fit rows).

    Each level of the check gets half of its time, each model a share as large as its
    part of the level-1 fit times: a model cut short at level 1 would otherwise train
    longer here and leave level 2 no time.
    """
    start, check_time = time.monotonic(), run.budget.check_time()
    costs = {name: first.fit_times_[name] for name in candidates}
    estimators = [(name, first.named_estimators[name]) for name in candidates]
    above = [(f"{name}_l2", est) for name, est in estimators]
    above_costs = {f"{name}_l2": cost for name, cost in costs.items()}
    if stacker is not None:
        above.insert(0, stacker[:2])
        above_costs[stacker[0]] = stacker[2]
    member = DeadlineMember(run.records, start + check_time * CHECK_LEVEL1_SHARE, costs)
    level1 = run.fit_layer(run.layer(estimators, data.plan, seed, refit_full=False),
                           data.X, data.y, data.sample_weight, data.groups, member)
    stacked = data.above(level1)
    level2 = run.layer(above, stacked.plan, seed + 1,
                       refit_full=False).set_params(passthrough=False)
    member = DeadlineMember(run.records, start + check_time, above_costs,
                            optional=() if stacker is None else (stacker[0],))
    run.fit_layer(level2, stacked.X, stacked.y, stacked.sample_weight, stacked.groups,
                  member)
    return (level1, data), (level2, stacked)


def _score_check(run, data, check_rows, level1, level2, seed):
    """Both levels' ensemble scores on the check rows, and level 2's share of wins."""
    (level1, first_data), (level2, second_data) = level1, level2
    checked = data.subset(check_rows)
    stacked_check = level1.transform(checked.X)
    level1.set_params(passthrough=False)
    first = _check_predictions(run, level1, first_data, level1.transform(checked.X))
    second = _check_predictions(run, level2, second_data, level2.transform(stacked_check))
    classes = getattr(level1, "classes_", None)

    def score(y_true, values, sample_weight=None):
        # NumPy fast paths for the common metrics: the bootstrap scores 200 times.
        return prediction_scorer(run.scoring, None, y_true, classes=classes,
                                 sample_weight=sample_weight)(values)

    first_score = score(checked.y, first, sample_weight=checked.sample_weight)
    second_score = score(checked.y, second, sample_weight=checked.sample_weight)
    wins = share_of_wins(score, checked.y, checked.sample_weight, first, second, seed)
    return first_score, second_score, wins


def check_candidates(run, first):
    """The best three first-level models whose refit (two levels on 8/9 of the rows)
    fits, and the ``(name, estimator, cost)`` of the second level's first model, or None.

    A model too slow for the check gives its place to the next best that fits: a second
    level over one model tests little more than its calibration.
    """
    allowed = run.budget.check_time()
    ranked = sorted(first.oof_scores_, key=lambda name: -first.oof_scores_[name])
    chosen, cost = [], 0.0
    for name in ranked:
        model_cost = TimeBudget.check_cost(first.fit_times_[name])
        if cost + model_cost <= allowed:
            chosen.append(name)
            cost += model_cost
        if len(chosen) == CHECK_CANDIDATES:
            break
    above = run.estimators(level=2)
    if not above:
        return chosen, None
    name, estimator = above[0]
    below = name.removesuffix("_l2")
    if not chosen or below in chosen or below not in first.fit_times_:
        return chosen, None
    if cost + TimeBudget.check_cost(first.fit_times_[below], levels=1) > allowed:
        return chosen, None
    return chosen, (name, estimator, first.fit_times_[below])


def _check_predictions(run, layer, data, check_features):
    """Holdout predictions of the ensemble selected on the OOF predictions of ``layer``,
    fitted on ``data``, of the rows it held out."""
    held = data.held_out()
    selector = make_selector(run).fit(layer._oof_predictions().iloc[held], data.y[held],
                                      sample_weight=pick(data.sample_weight, held))
    if hasattr(selector, "predict_proba"):
        return selector.predict_proba(check_features)
    return selector.predict(check_features)


def share_of_wins(score, y, sample_weight, first, second, seed):
    """Share of bootstrap resamples of the rows on which ``second`` scores above ``first``.

    ``score(y, values, sample_weight=...)`` scores predictions. Resamples the metric
    cannot score (a single class for ROC AUC) are left out; ties count half.
    """
    rng = np.random.RandomState(seed)
    y = np.asarray(y)
    outcomes = []
    for _ in range(CHECK_RESAMPLES):
        rows = rng.randint(len(y), size=len(y))
        weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
        try:
            low = score(y[rows], first[rows], sample_weight=weight)
            high = score(y[rows], second[rows], sample_weight=weight)
        except ValueError:
            continue
        if np.isfinite(low) and np.isfinite(high):
            outcomes.append(1.0 if high > low else 0.5 if high == low else 0.0)
    return float(np.mean(outcomes)) if outcomes else 0.0
