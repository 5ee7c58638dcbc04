"""Fold plans shared by every bag of a stack.

A fold plan is a list of ``(train, test)`` index pairs, one per fold and repeat. Every model
of a :class:`~skstack.StackLayer` is bagged over the same plan, so that the out-of-fold (OOF)
prediction of a row comes, for every model, from models that never saw that row.
"""

import warnings

import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    ShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
    check_cv,
)
from sklearn.utils import check_random_state

from ._utils import SEED_MAX

__all__ = [
    "covering_sample",
    "default_n_folds",
    "held_out_rows",
    "holdout_plan",
    "make_fold_plan",
    "restrict_plan",
]

# The largest validation part of a holdout plan (AutoGluon's cap).
HOLDOUT_MAX_ROWS = 2500


def default_n_folds(n_samples):
    """AutoGluon's default number of bagging folds for ``n_samples`` rows.

    Parameters
    ----------
    n_samples : int
        Number of training rows.

    Returns
    -------
    n_folds : int
        ``min(8, max(5, n_samples // 10))``.

    Examples
    --------
    >>> from skstack._folds import default_n_folds
    >>> default_n_folds(40), default_n_folds(1000)
    (5, 8)
    """
    return min(8, max(5, n_samples // 10))


def _warn(message):
    warnings.warn(message, UserWarning, stacklevel=4)


def _resolve_n_folds(n_folds, n_samples, y_codes, groups):
    """Number of folds the data can support, warning whenever it is fewer than asked."""
    n = default_n_folds(n_samples) if n_folds == "auto" else int(n_folds)
    if n > n_samples:
        _warn(f"Only {n_samples} rows for {n} folds; using {n_samples} folds.")
        n = n_samples
    if groups is not None:
        n_groups = len(np.unique(groups))
        if n_groups < 2:
            raise ValueError(f"Grouped folds need at least 2 distinct groups; got {n_groups}.")
        if n_groups < n:
            _warn(f"Only {n_groups} groups for {n} folds; using {n_groups} folds.")
            n = n_groups
    elif y_codes is not None:
        rarest = int(np.bincount(y_codes).min())
        if rarest < n:
            reduced = max(2, rarest)
            _warn(
                f"The least populated class has only {rarest} member(s), fewer than "
                f"{n} folds; using {reduced} folds. "
                + ("Some folds will not hold out that class." if rarest < 2 else "")
            )
            n = reduced
    return n


def _regression_bins(y, n_folds):
    """Equal-count bins of the sorted target, so that every fold sees the whole range."""
    n_samples = len(y)
    n_bins = max(1, min(20, n_samples // n_folds))
    codes = np.empty(n_samples, dtype=np.intp)
    codes[np.argsort(y, kind="stable")] = np.arange(n_samples) * n_bins // n_samples
    return codes


def _splitter(n_folds, stratify_codes, groups, seed):
    if groups is not None:
        if stratify_codes is not None:
            return StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
        return GroupKFold(n_folds, shuffle=True, random_state=seed)
    if stratify_codes is not None:
        return StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    return KFold(n_folds, shuffle=True, random_state=seed)


def make_fold_plan(
    X, y, *, classifier, n_folds="auto", n_repeats=1, cv=None, groups=None, random_state=None
):
    """Build the list of ``(train, test)`` index pairs a bag is trained on.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training input; only handed to a user splitter.
    y : array-like of shape (n_samples,)
        Target. Class labels are stratified; a continuous target is stratified on
        equal-count bins of its sorted values.
    classifier : bool
        Whether ``y`` holds class labels.
    n_folds : int or "auto", default="auto"
        Folds per repeat; ``"auto"`` uses :func:`default_n_folds`. Fewer folds are used,
        with a warning, when rows, groups or the rarest class cannot fill them.
    n_repeats : int, default=1
        Number of differently shuffled k-fold repeats.
    cv : int, cross-validation generator or iterable, default=None
        A user splitter, used as is (``n_folds`` and ``n_repeats`` are then ignored).
    groups : array-like of shape (n_samples,), default=None
        Group labels; no group is split across a train and a test part.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffles.

    Returns
    -------
    plan : list of tuple of ndarray
        ``(train_indices, test_indices)`` for every fold of every repeat.
    """
    if cv is not None:
        splitter = check_cv(cv, y, classifier=classifier)
        plan = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, y, groups)]
    else:
        y = np.asarray(y)
        n_samples = len(y)
        y_codes = np.unique(y, return_inverse=True)[1].ravel() if classifier else None
        folds = _resolve_n_folds(n_folds, n_samples, y_codes, groups)
        if folds < 2:
            raise ValueError(f"Bagging needs at least 2 rows to make 2 folds; got {n_samples}.")
        codes = y_codes if classifier else _regression_bins(y, folds)
        rng = check_random_state(random_state)
        plan = []
        for _ in range(n_repeats):
            splitter = _splitter(folds, codes, groups, int(rng.randint(SEED_MAX)))
            with warnings.catch_warnings():
                # Our own warning above already told the user about a rare class.
                warnings.filterwarnings("ignore", message="The least populated class")
                plan.extend(splitter.split(np.empty((n_samples, 0)), codes, groups))
    if not plan:
        raise ValueError("The cross-validation splitter produced no folds.")
    for train, _ in plan:
        if len(train) == 0:
            raise ValueError("A fold has no training rows; use fewer folds or another splitter.")
    return plan


def held_out_rows(plan):
    """Sorted indices of the rows that some fold of ``plan`` holds out.

    Parameters
    ----------
    plan : list of (train, test) index arrays
        A fold plan.

    Returns
    -------
    rows : ndarray of int
        The rows with an out-of-fold prediction.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import TimeSeriesSplit
    >>> from skstack._folds import held_out_rows
    >>> held_out_rows(list(TimeSeriesSplit(3).split(np.zeros(8)))).tolist()
    [2, 3, 4, 5, 6, 7]
    """
    return np.unique(np.concatenate([np.asarray(test, dtype=np.intp) for _, test in plan]))


def restrict_plan(plan, rows):
    """``plan`` on the subset ``rows``: each fold's rows among them, as positions in them.

    Every fold keeps its boundaries, so a time-ordered plan stays time-ordered and a
    grouped one keeps its groups apart. Folds left without a training or a held-out row
    are dropped.

    Parameters
    ----------
    plan : list of (train, test) index arrays
        A fold plan over some rows.
    rows : array-like of int
        Sorted indices of the subset.

    Returns
    -------
    plan : list of (train, test) index arrays
        The plan over ``len(rows)`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import TimeSeriesSplit
    >>> from skstack._folds import held_out_rows, restrict_plan
    >>> plan = list(TimeSeriesSplit(3).split(np.zeros(8)))
    >>> [(train.tolist(), test.tolist())
    ...  for train, test in restrict_plan(plan, held_out_rows(plan))]
    [([0, 1], [2, 3]), ([0, 1, 2, 3], [4, 5])]
    """
    rows = np.asarray(rows, dtype=np.intp)
    restricted = []
    for train, test in plan:
        parts = [np.searchsorted(rows, part[np.isin(part, rows)]) for part in (train, test)]
        if len(parts[0]) and len(parts[1]):
            restricted.append(tuple(parts))
    return restricted


def holdout_plan(y, *, classifier, fraction, random_state, groups=None):
    """One train/validation split, stratified for classifiers; None when it cannot be made.

    The validation part is ``fraction`` of the rows, at least one row (one per class for
    classifiers) and at most 2,500 rows; with ``groups``, a fraction of the groups, every
    group on one side. For classifiers, both parts must hold every class: when they cannot,
    the result is None, and the caller bags instead.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Target.
    classifier : bool
        Whether ``y`` holds class labels.
    fraction : float
        Share of the rows (or groups) held out.
    random_state : int
        Seeds the split.
    groups : array-like of shape (n_samples,), default=None
        Group labels.

    Returns
    -------
    plan : list of one (train, validation) pair of index arrays, or None
        The plan.
    """
    n_samples = len(y)
    n_val = max(1, round(fraction * n_samples))
    if groups is not None:
        splitter = GroupShuffleSplit(1, test_size=fraction, random_state=random_state)
        plan = list(splitter.split(np.zeros(n_samples), y, groups))
        if classifier and any(len(np.unique(y[rows])) < len(np.unique(y)) for rows in plan[0]):
            return None
        return plan
    if not classifier:
        n_val = int(min(n_val, HOLDOUT_MAX_ROWS, n_samples - 1))
        return list(ShuffleSplit(1, test_size=n_val, random_state=random_state).split(y))
    classes, counts = np.unique(y, return_counts=True)
    n_val = int(min(max(n_val, len(classes)), HOLDOUT_MAX_ROWS, n_samples - len(classes)))
    if counts.min() < 2 or n_val < len(classes):
        return None
    splitter = StratifiedShuffleSplit(1, test_size=n_val, random_state=random_state)
    plan = list(splitter.split(np.zeros(n_samples), y))
    # Proportional allocation can still leave a class out of a tiny validation part.
    if any(len(np.unique(y[rows])) < len(classes) for rows in plan[0]):
        return None
    return plan


def covering_sample(y, size, classifier, seed=0):
    """``size`` random rows of ``y`` (sorted), at least one of each class for classifiers."""
    y = np.asarray(y)
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(y))
    if not classifier:
        return np.sort(order[:size])
    _, first = np.unique(y[order], return_index=True)
    chosen = np.zeros(len(y), dtype=bool)
    chosen[order[first]] = True
    rest = order[~chosen[order]][:max(0, size - chosen.sum())]
    chosen[rest] = True
    return np.flatnonzero(chosen)
