"""Fits in another process: a hard stop for fits that cannot stop themselves, and a process
of its own for libraries that keep what they allocate.

Boosting, networks, forests, linear solvers and KNN stop at ``max_time`` on their own (see
:class:`~skstack.families.Family`). Any other estimator (a user's own, or one of a family
skstack has no recipe for) would run as long as it likes, past the time limit of the whole
fit. Under a deadline such a fit runs in a separate process (joblib's reusable loky worker,
started once and kept warm for the next one); when the deadline passes, the process is ended
and :class:`~skstack._utils.BudgetExceeded` raised, so that the caller skips the model.
An estimator that cannot be sent to another process (a lambda inside, an open file) is
fitted in this process, as without a deadline.

Some libraries keep the memory a fit allocated for the life of the process, whatever is
deleted or trimmed after it: CatBoost holds about 75 bytes per cell of its training table
(900 MB after a million rows of 12 columns). :func:`fit_in_own_process` fits such a model
in a process that exits once it returns the fitted model, so that the memory goes with it.
"""

import pickle
import time

from threadpoolctl import threadpool_limits

from .._utils import BudgetExceeded

__all__ = ["fit_in_own_process", "fit_with_hard_stop", "warm_up_worker"]

# Seconds an idle worker waits for the next fit before it exits.
_IDLE_SECONDS = 60


_WORKER = {}  # "executor": the one worker process, kept warm between fits


def _executor():
    """The worker; a new one when none runs. Not loky's reusable executor, which is
    joblib's own (its Parallel reuses that one and expects its memmapping set-up)."""
    from joblib.externals.loky.process_executor import ProcessPoolExecutor

    executor = _WORKER.get("executor")
    if executor is None or executor._flags.broken or executor._flags.shutdown:
        executor = _WORKER["executor"] = ProcessPoolExecutor(max_workers=1,
                                                             timeout=_IDLE_SECONDS)
    return executor


def warm_up_worker():
    """Start the worker process now, in the background, so that a fit need not wait for it."""
    _executor().submit(int)


def _fit(estimator, X, y, fit_kwargs, threads):
    with threadpool_limits(limits=threads):
        estimator.fit(X, y, **fit_kwargs)
    return estimator


def fit_with_hard_stop(estimator, X, y, fit_kwargs, deadline, threads=1):
    """``estimator`` fitted on ``X, y``, in a worker process that is ended at ``deadline``.

    Parameters
    ----------
    estimator : estimator object
        The model to fit.
    X, y : array-like
        Training data.
    fit_kwargs : dict
        Keyword arguments of ``fit``.
    deadline : float
        A :func:`time.monotonic` value.
    threads : int, default=1
        Threads the worker's BLAS and OpenMP pools may use.

    Returns
    -------
    estimator : estimator object
        The fitted model (a copy, when it was fitted in the worker).

    Raises
    ------
    BudgetExceeded
        When the fit had not ended at ``deadline`` (the worker is ended with it).
    """
    from concurrent.futures import TimeoutError as FutureTimeout

    try:
        pickle.dumps(estimator)
    except Exception:  # noqa: BLE001 - whatever cannot travel is fitted here
        estimator.fit(X, y, **fit_kwargs)
        return estimator
    executor = _executor()
    future = executor.submit(_fit, estimator, X, y, fit_kwargs, threads)
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except (FutureTimeout, TimeoutError):
        executor.shutdown(wait=False, kill_workers=True)
        _WORKER.pop("executor", None)
        raise BudgetExceeded(
            f"{type(estimator).__name__} cannot stop itself and was ended at its deadline "
            "(it ran in a worker process).") from None


def fit_in_own_process(estimator, X, y, fit_kwargs, threads=1):
    """``estimator`` fitted on ``X, y`` in a new process, which exits once it is done.

    No deadline is enforced here: under one, the fit stops itself (its callback is among
    ``fit_kwargs``). An error in the fit is raised here. ``threads`` caps the process's BLAS
    and OpenMP pools. Returns the fitted copy.
    """
    from joblib.externals.loky.process_executor import ProcessPoolExecutor

    executor = ProcessPoolExecutor(max_workers=1)
    try:
        return executor.submit(_fit, estimator, X, y, fit_kwargs, threads).result()
    finally:
        executor.shutdown(wait=True, kill_workers=True)
