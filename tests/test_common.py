"""scikit-learn's estimator checks on every public estimator.

Each expected failure is inherent to out-of-fold stacking and says why; none hides a bug.
"""

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from skstack import (
    AutoStackClassifier,
    AutoStackRegressor,
    BaggedOOFEstimator,
    GreedyEnsembleSelector,
    StackLayer,
)
from skstack.encoders import DatetimeEncoder, TfidfTextEncoder
from skstack.families import CategoryDtypeEncoder, FamilyModel
from skstack.families.portfolios import PortfolioEntry

# A tiny, fast AutoStack: two cheap families, bagged over 3 folds.
_TINY_PORTFOLIO = [PortfolioEntry("linear", {}, 2), PortfolioEntry("knn", {"n_neighbors": 3}, 1)]

ESTIMATORS = [
    BaggedOOFEstimator(DecisionTreeClassifier(max_depth=3), n_folds=3),
    BaggedOOFEstimator(LogisticRegression(), n_folds=3),
    BaggedOOFEstimator(DecisionTreeRegressor(max_depth=3), n_folds=3),
    BaggedOOFEstimator(Ridge(), n_folds=3, refit_full=True),
    StackLayer([("tree", DecisionTreeClassifier(max_depth=3)), ("lr", LogisticRegression())],
               n_folds=3),
    StackLayer([("tree", DecisionTreeRegressor(max_depth=3)), ("ridge", Ridge())], n_folds=3,
               passthrough=True),
    GreedyEnsembleSelector(task="classification", n_iterations=5),
    GreedyEnsembleSelector(task="regression", n_iterations=5),
    GreedyEnsembleSelector(task="classification", n_iterations=5, combiner="linear"),
    GreedyEnsembleSelector(task="regression", n_iterations=5, combiner="auto"),
    FamilyModel(LogisticRegression()),
    FamilyModel(Ridge()),
    FamilyModel(DecisionTreeClassifier(max_depth=3), preprocessing="ordinal"),
    CategoryDtypeEncoder(),
    DatetimeEncoder(),
    TfidfTextEncoder(n_components=2),
    AutoStackClassifier(portfolio=_TINY_PORTFOLIO, random_state=0),
    AutoStackRegressor(portfolio=_TINY_PORTFOLIO, presets="good_quality", n_folds=3,
                       random_state=0),
]
try:
    from lightgbm import LGBMClassifier, LGBMRegressor

    ESTIMATORS += [
        FamilyModel(LGBMClassifier(n_estimators=5, min_child_samples=1), early_stopping=True),
        FamilyModel(LGBMRegressor(n_estimators=5, min_child_samples=1)),
    ]
except ImportError:  # the boost extra is not installed
    pass
try:
    import skorch  # noqa: F401
    import torch  # noqa: F401

    from skstack.families import MLPClassifier, MLPRegressor

    _small_net = dict(hidden_sizes=(16,), max_epochs=40, learning_rate=1e-2, batch_size=32)
    ESTIMATORS += [MLPClassifier(**_small_net), MLPRegressor(**_small_net)]
except ImportError:  # the nn extra is not installed
    pass
try:
    import timm  # noqa: F401
    import transformers  # noqa: F401

    from skstack.encoders import ImageEmbedder, TextEmbedder, default_text_model

    if default_text_model() is not None:
        ESTIMATORS += [TextEmbedder(device="cpu")]
    ESTIMATORS += [ImageEmbedder(weights="random", device="cpu")]
except ImportError:  # the text or image extra is not installed
    pass


CROSS_FITTING = (
    "fit_transform returns out-of-fold predictions while transform averages the fold models "
    "on rows they saw (cross fitting, as in TargetEncoder); the two differ by design"
)
PREDICTION_COLUMNS = (
    "the selector's input is n_classes probability columns per model; this check feeds a "
    "multiclass target with a column count that is not a multiple of n_classes, which the "
    "selector rejects with a clear error instead of blending meaningless columns"
)
SELECTOR_MULTICLASS_CHECKS = [
    "check_estimators_overwrite_params",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_n_features_in_after_fitting",
    "check_dtype_object",
    "check_positive_only_tag_during_fit",
    "check_classifiers_classes",
    "check_classifiers_train",
]


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


def expected_failed_checks(estimator):
    name = type(estimator).__name__
    if name == "TextEmbedder":
        return {"check_methods_subset_invariance": BATCH_PADDING}
    if name == "ImageEmbedder":
        return dict.fromkeys(IMAGE_INPUT_CHECKS, NOT_IMAGES)
    if isinstance(estimator, (AutoStackClassifier, AutoStackRegressor)):
        return {"check_sample_weight_equivalence_on_dense_data": SPLIT_ROWS}
    if isinstance(estimator, BaggedOOFEstimator) and isinstance(estimator.estimator,
                                                                LogisticRegression):
        return {"check_decision_proba_consistency": AVERAGED_DECISIONS}
    if isinstance(estimator, StackLayer) and isinstance(estimator.estimators[0][1],
                                                        DecisionTreeRegressor):
        # The classification layer above happens to pass within the check's 1e-2 tolerance.
        return {
            "check_transformer_general": CROSS_FITTING,
            "check_transformer_data_not_an_array": CROSS_FITTING,
        }
    if isinstance(estimator, GreedyEnsembleSelector) and estimator.task == "classification":
        return dict.fromkeys(SELECTOR_MULTICLASS_CHECKS, PREDICTION_COLUMNS)
    if isinstance(estimator, GreedyEnsembleSelector) and estimator.combiner == "auto":
        # combiner="auto" chooses between the combiners on cross-validation folds.
        return {"check_sample_weight_equivalence_on_dense_data": SPLIT_ROWS}
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
