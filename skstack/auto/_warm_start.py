"""More time on a fitted AutoStack (``warm_start=True``): what a later fit continues from.

AutoGluon's ``fit_extra`` and scikit-learn's ``warm_start``: a fit with ``warm_start=True``
keeps, next to its pruned ``pipeline_``, every model it fitted and the state of its plan
(:class:`WarmState`, the estimator's ``warm_state_``). A later fit on the same data starts
from there (:meth:`WarmState.restore`) instead of from nothing: it fits the models the
earlier fit skipped, a new level when the stacking check allows, more k-fold repeats, and
selects the ensemble again among everything it then has. Nothing the earlier fit trained
is lost.
"""

import copy

import joblib

__all__ = ["FIXED_PARAMS", "WarmState", "fingerprint"]

# The parameters that decide the models and their folds. A warm start changes the time
# (and what is selected and deployed), not these.
FIXED_PARAMS = ("presets", "scoring", "portfolio", "excluded_families", "column_types",
                "n_folds", "n_repeats", "cv", "n_stack_levels", "passthrough", "refit",
                "holdout_fraction", "class_weight")


def fingerprint(X, y, sample_weight, groups):
    """A hash of the training data, to refuse a warm start on other data."""
    return joblib.hash((X, y, sample_weight, groups))


def _fixed(params):
    return {name: joblib.hash(params[name]) for name in FIXED_PARAMS if name in params}


class WarmState:
    """Every model of a fit and its plan: what a warm-started fit continues from.

    Parameters
    ----------
    run : FitRun
        The finished fit.
    encoder : transformer or "passthrough"
        Its fitted column encoder.
    layers : list of StackLayer
        Its fitted layers, with every model (not pruned to the ensemble).
    data : str
        The :func:`fingerprint` of its training data.
    params : dict
        The estimator's parameters.
    """

    def __init__(self, run, encoder, layers, data, params):
        self.encoder = encoder
        self.layers = layers
        self.data = data
        self.params = _fixed(params)
        self.plan = run.plan
        self.n_folds = run.n_folds
        self.large_table = run.large_table
        self.settings = dict(run.settings)
        self.fitted_settings = dict(run.fitted_settings)
        self.tiers = run.tiers
        self.first_folds = run.first_folds
        self.records = run.records.records
        self.stacking_check = run.stacking_check
        self.seeds = run.seeds

    @property
    def fallback(self):
        """Whether the earlier fit ended with the fallback model alone (no portfolio model
        finished): a continued fit then starts the portfolio from the beginning."""
        return [name for name, _ in self.layers[0].estimators] == ["fallback_linear"]

    def refitted(self):
        """Record that :meth:`refit_full` refitted the bags (they are shared with
        ``pipeline_``): a continued fit then refits the models it adds, and adds no
        repeats, which refitted bags would not predict with."""
        self.settings["refit_full"] = self.fitted_settings["refit_full"] = True

    def check(self, data, params, name):
        """Raise ValueError unless ``data`` and ``params`` are those of the earlier fit."""
        if data != self.data:
            raise ValueError(
                f"warm_start=True continues the earlier fit of this {name} on the same "
                "X, y, sample_weight and groups; these differ. Set warm_start=False to fit "
                "anew on other data.")
        changed = sorted(key for key, value in _fixed(params).items()
                         if self.params.get(key) != value)
        if changed:
            raise ValueError(
                f"warm_start=True continues the earlier fit with the same models and folds; "
                f"these parameters changed: {changed}. Only the time, the selection and the "
                "deployment may change (time_limit, memory_limit, n_iterations, combiner, "
                "prune, infer_limit ...). Set warm_start=False to fit anew.")

    def restore(self, run):
        """Put the earlier fit's plan, records and models into ``run``; return the
        encoder and the layers to continue: copies, so that a continued fit that fails
        leaves this state with the models it had (their bags may hold the folds of a
        repeat that finished)."""
        run.plan = self.plan
        run.n_folds = self.n_folds
        run.large_table = self.large_table
        run.settings = dict(self.settings)
        run.fitted_settings = dict(self.fitted_settings)
        run.tiers = dict(self.tiers)
        run.first_folds = copy.deepcopy(self.first_folds)
        run.records.records = copy.deepcopy(self.records)
        run.stacking_check = copy.deepcopy(self.stacking_check)
        run.seeds = copy.deepcopy(self.seeds)  # later seeds: new shuffles for the repeats
        return self.encoder, [copy.copy(layer) for layer in self.layers]
