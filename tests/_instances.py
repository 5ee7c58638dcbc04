"""The instances scikit-learn's estimator checks run on, and the checks each class fails.

One entry per public estimator class (``tests/test_common.py`` fails when a public estimator
has none): the instances to check, and one table of the checks its instances are expected
to fail, each with the reason it is inherent to out-of-fold stacking (none hides a bug).
The layout follows imbalanced-learn's ``utils/_test_common/instance_generator.py``.
"""

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import TimeSeriesSplit
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skstack import (
    AutoStackClassifier,
    AutoStackRegressor,
    BaggedOOFEstimator,
    GreedyEnsembleSelector,
    SoftTargetClassifier,
    StackLayer,
)
from skstack.encoders import DatetimeEncoder, ImageEmbedder, TextEmbedder, TfidfTextEncoder
from skstack.families import (
    CategoryDtypeEncoder,
    FamilyModel,
    MLPClassifier,
    MLPRegressor,
    PortfolioEntry,
)

# A tiny, fast AutoStack: two cheap families, bagged over 3 folds.
_TINY_PORTFOLIO = [PortfolioEntry("linear", {}, 2),
                   PortfolioEntry("knn", {"n_neighbors": 3}, 1)]
_SMALL_NET = dict(hidden_sizes=(16,), max_epochs=40, learning_rate=1e-2, batch_size=32)


def _has(*modules):
    from importlib.util import find_spec

    return all(find_spec(module) is not None for module in modules)


def _lightgbm_models():
    if not _has("lightgbm"):
        return []
    from lightgbm import LGBMClassifier, LGBMRegressor

    return [FamilyModel(LGBMClassifier(n_estimators=5, min_child_samples=1),
                        early_stopping=True),
            FamilyModel(LGBMRegressor(n_estimators=5, min_child_samples=1))]


def _text_embedders():
    if not _has("torch", "transformers"):
        return []
    from skstack.encoders import default_text_model

    return [TextEmbedder(device="cpu")] if default_text_model() is not None else []


INSTANCES = {
    BaggedOOFEstimator: [
        BaggedOOFEstimator(DecisionTreeClassifier(max_depth=3), n_folds=3),
        BaggedOOFEstimator(LogisticRegression(), n_folds=3),
        BaggedOOFEstimator(DecisionTreeRegressor(max_depth=3), n_folds=3),
        BaggedOOFEstimator(Ridge(), n_folds=3, refit_full=True),
    ],
    StackLayer: [
        StackLayer([("tree", DecisionTreeClassifier(max_depth=3)),
                    ("lr", LogisticRegression())], n_folds=3),
        StackLayer([("tree", DecisionTreeRegressor(max_depth=3)), ("ridge", Ridge())],
                   n_folds=3, passthrough=True),
    ],
    GreedyEnsembleSelector: [
        GreedyEnsembleSelector(task="classification", n_iterations=5),
        GreedyEnsembleSelector(task="regression", n_iterations=5),
        GreedyEnsembleSelector(task="classification", n_iterations=5, combiner="linear"),
        GreedyEnsembleSelector(task="regression", n_iterations=5, combiner="auto"),
    ],
    FamilyModel: [
        FamilyModel(LogisticRegression()),
        FamilyModel(Ridge()),
        FamilyModel(DecisionTreeClassifier(max_depth=3), preprocessing="ordinal"),
        *_lightgbm_models(),
    ],
    SoftTargetClassifier: [SoftTargetClassifier(),
                           SoftTargetClassifier(FamilyModel(Ridge(), preprocessing="none"))],
    CategoryDtypeEncoder: [CategoryDtypeEncoder()],
    DatetimeEncoder: [DatetimeEncoder()],
    TfidfTextEncoder: [TfidfTextEncoder(n_components=2)],
    AutoStackClassifier: [AutoStackClassifier(portfolio=_TINY_PORTFOLIO, random_state=0),
                          AutoStackClassifier(portfolio=_TINY_PORTFOLIO, random_state=0,
                                              class_weight="balanced"),
                          AutoStackClassifier(portfolio=_TINY_PORTFOLIO, random_state=0,
                                              warm_start=True)],
    AutoStackRegressor: [AutoStackRegressor(portfolio=_TINY_PORTFOLIO, presets="good_quality",
                                            n_folds=3, random_state=0),
                         # A user's time-ordered folds, whose first rows are never held out.
                         AutoStackRegressor(portfolio=_TINY_PORTFOLIO, cv=TimeSeriesSplit(3),
                                            random_state=0)],
    MLPClassifier: [MLPClassifier(**_SMALL_NET)] if _has("torch", "skorch") else [],
    MLPRegressor: [MLPRegressor(**_SMALL_NET)] if _has("torch", "skorch") else [],
    TextEmbedder: _text_embedders(),
    ImageEmbedder: ([ImageEmbedder(weights="random", device="cpu")]
                    if _has("torch", "timm") else []),
}

# ---- why some checks fail --------------------------------------------------------------------

CROSS_FITTING = (
    "fit_transform returns out-of-fold predictions while transform averages the fold models "
    "on rows they saw (cross fitting, as in TargetEncoder); the two differ by design"
)
PREDICTION_COLUMNS = (
    "the selector's input is n_classes probability columns per model; this check feeds a "
    "multiclass target with a column count that is not a multiple of n_classes, which the "
    "selector rejects with a clear error instead of blending meaningless columns"
)
AVERAGED_DECISIONS = (
    "the bag averages decision values and probabilities separately over its fold models; "
    "a mean of sigmoids does not rank rows like the mean of their arguments, so the two may "
    "order a few rows differently (it passes or fails with the random draw)"
)
SPLIT_ROWS = (
    "the fit splits rows into folds or a holdout: a row repeated twice can land in two "
    "different folds (one copy then predicts the other) while a weight of 2 keeps it in one, "
    "so weighting and repeating differ by design, as for scikit-learn's *CV estimators"
)
KNN_TIES = (
    "with a user's folds the KNN model is fitted per fold, on features standardised in the "
    "input's memory order: a frame's columns (Fortran order) and an array's rows scale to "
    "values 1e-15 apart, enough to reorder two equally distant neighbours of one row"
)
BATCH_PADDING = (
    "texts are embedded in batches padded to their longest text; padding changes the float32 "
    "sums of the attention in the last digits (about 1e-7), so a row's embedding depends very "
    "slightly on the rows batched with it"
)
NOT_IMAGES = (
    "the input is a column of images (file paths or arrays); the check's numeric matrix holds "
    "numbers, which the embedder refuses with a ValueError"
)
# Every check that fits on a numeric matrix; the others (parameters, clone, repr...) pass.
IMAGE_INPUT_CHECKS = [
    "check_fit_score_takes_y", "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
    "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_dtype_object",
    "check_pipeline_consistency", "check_estimators_pickle", "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array", "check_transformer_general",
    "check_transformer_preserve_dtypes", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature",
    "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
    "check_n_features_in", "check_fit2d_predict1d",
]
SELECTOR_MULTICLASS_CHECKS = [
    "check_estimators_overwrite_params", "check_estimators_fit_returns_self",
    "check_readonly_memmap_input", "check_n_features_in_after_fitting", "check_dtype_object",
    "check_positive_only_tag_during_fit", "check_classifiers_classes",
    "check_classifiers_train",
]


def _autostack(estimator):
    failures = {"check_sample_weight_equivalence_on_dense_data": SPLIT_ROWS}
    if estimator.cv is not None:
        failures["check_regressor_data_not_an_array"] = KNN_TIES
    return failures


def _selector(estimator):
    if estimator.task == "classification":
        return dict.fromkeys(SELECTOR_MULTICLASS_CHECKS, PREDICTION_COLUMNS)
    if estimator.combiner == "auto":
        # combiner="auto" chooses between the combiners on cross-validation folds.
        return {"check_sample_weight_equivalence_on_dense_data": SPLIT_ROWS}
    return {}


# The checks each class's instances are expected to fail, and why; where they depend on the
# instance (its task, its folds, its model), a function of it. A class absent here passes
# every check.
XFAIL_CHECKS = {
    TextEmbedder: {"check_methods_subset_invariance": BATCH_PADDING},
    ImageEmbedder: dict.fromkeys(IMAGE_INPUT_CHECKS, NOT_IMAGES),
    AutoStackClassifier: _autostack,
    AutoStackRegressor: _autostack,
    BaggedOOFEstimator: lambda estimator: (
        {"check_decision_proba_consistency": AVERAGED_DECISIONS}
        if hasattr(estimator.estimator, "decision_function") else {}),
    StackLayer: {"check_transformer_general": CROSS_FITTING,
                 "check_transformer_data_not_an_array": CROSS_FITTING},
    GreedyEnsembleSelector: _selector,
}

# The instances whose expected failure depends on the data the check draws, so that one
# which passes does not fail the suite: a bag averaging decision values (it passes or fails
# with the draw), and a classification layer, whose out-of-fold and averaged probabilities
# happen to agree within the check's tolerance.
NOT_STRICT = {
    BaggedOOFEstimator: lambda estimator: hasattr(estimator.estimator, "decision_function"),
    StackLayer: lambda estimator: isinstance(estimator.estimators[0][1],
                                             DecisionTreeClassifier),
}


def expected_failures(estimator):
    """The checks ``estimator`` is expected to fail: its class's entry of ``XFAIL_CHECKS``."""
    entry = XFAIL_CHECKS.get(type(estimator), {})
    return entry(estimator) if callable(entry) else dict(entry)


def strict(estimator):
    """Whether an expected failure of ``estimator`` that passes fails the suite."""
    return not NOT_STRICT.get(type(estimator), lambda estimator: False)(estimator)
