"""Per-family preprocessing: the input each model family needs, as scikit-learn transformers.

Three kinds cover every family:

- ``"native"``: categorical columns become pandas ``category`` columns with the categories
  seen at fit (unseen values become missing); numbers and NaN pass through. For gradient
  boosting libraries that split on categories and missing values themselves.
- ``"ordinal"``: categorical columns become integer codes (unseen -1, missing NaN); for
  scikit-learn forests, which take NaN but not strings.
- ``"onehot"``: numbers are median-imputed and standardised, categoricals imputed and
  one-hot encoded; for linear models, KNN and neural nets.

Categorical columns are those of dtype object, string (pandas 3's default for text included),
category or bool; everything numeric stays numeric.
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "CategoryDtypeEncoder",
    "as_frame",
    "categorical_columns",
    "check_frame",
    "make_preprocessor",
]


def as_frame(X):
    """``X`` as a DataFrame (arrays get columns ``x0, x1, ...``), without copying frames."""
    if isinstance(X, pd.DataFrame):
        return X
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Expected 2-D input, got an array of shape {X.shape}.")
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])


def check_frame(estimator, X, *, reset):
    """Validate ``X`` for ``estimator`` (names, count, shape) and return it as a DataFrame.

    DataFrames keep their dtypes; other input goes through ``check_array`` (no sparse,
    NaN allowed, ``dtype=None`` so that string arrays stay strings).
    """
    if not hasattr(X, "columns"):
        X = validate_data(estimator, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")
        return as_frame(X)
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    if X.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of "
                         "1 is required.")
    return X


def as_strings(values):
    """A categorical column as an object Series of ``str`` values, missing ones NaN.

    One spelling for every encoder: ``True``, ``"True"`` and pandas' string dtype all become
    the same category, whatever the column's dtype was at fit or predict time.
    """
    values = values.astype(object)
    missing = values.isna()
    if pd.api.types.infer_dtype(values) == "string":  # strings already: no map per value
        return values.where(~missing, np.nan)
    return values.map(str).where(~missing, np.nan)


def _spelling(value):
    """The category of one value as :func:`as_strings` spells it; None when missing."""
    if value.__class__ is str:
        return value
    return None if pd.isna(value) else str(value)


# One-hot width: the categorical columns share _ONEHOT_MAX_WIDTH columns, each getting
# between _MIN_CATEGORIES and _MAX_CATEGORIES (its most frequent levels and one for the
# rest). A column with more levels keeps its most frequent ones before the encoder sees it,
# the others becoming the one level _INFREQUENT: fitting then costs what a small column
# costs (scikit-learn's encoder sorts every level of an object column: 8 s for 50 columns
# of 10,000 levels, which would have become 3,200 columns).
_ONEHOT_MAX_WIDTH = 512
_MIN_CATEGORIES, _MAX_CATEGORIES = 4, 64
_INFREQUENT = "__infrequent__"
# The one-hot preprocessing of a table with more rows is fitted on a sample of this many.
_FIT_SAMPLE_ROWS = 100_000
# Above this many rows, columns of strings are coded by pandas' hash table in one call
# instead of one dictionary look-up per value (a second per million values).
_VECTORISED_ROWS = 10_000


def category_codes(values, lookup):
    """Codes of a categorical column: ``lookup[category]``, -1 unseen, -2 missing.

    A dictionary look-up per value: for one row it costs microseconds where pandas'
    ``isin`` and ``Categorical`` construction cost a millisecond per column, which is what
    single-row prediction pays per model. Large batches of strings go through one
    vectorised look-up instead.
    """
    array = values.to_numpy(dtype=object)
    if len(array) > _VECTORISED_ROWS and pd.api.types.infer_dtype(array) == "string":
        return _string_codes(array, lookup)
    codes = np.empty(len(array), dtype=np.int64)
    for i, value in enumerate(array):
        category = _spelling(value)
        codes[i] = -2 if category is None else lookup.get(category, -1)
    return codes


def _string_codes(array, lookup):
    """:func:`category_codes` of an object array of strings and missing values."""
    missing = pd.isna(array)
    index = pd.Index(list(lookup), dtype=object)
    positions = index.get_indexer(array)
    known = np.asarray(list(lookup.values()), dtype=np.int64)
    codes = np.where(positions >= 0, known[np.maximum(positions, 0)], -1)
    codes[missing] = -2
    return codes


def _is_categorical(series):
    return not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
        series.dtype
    )


def categorical_columns(frame):
    """Names of the columns treated as categorical (non-numeric or bool)."""
    return [column for column in frame.columns if _is_categorical(frame[column])]


class CategoryDtypeEncoder(TransformerMixin, BaseEstimator):
    """Turn categorical columns into pandas ``category`` columns with fixed categories.

    LightGBM and XGBoost split natively on ``category`` columns but reject object and string
    columns (pandas 3's default for text). Categories are learned at fit, so train and
    predict codes agree; unseen values at predict become missing, which the boosting
    libraries route like NaN. Numeric columns pass through untouched.

    Attributes
    ----------
    categories_ : dict
        Categories of each categorical column, by name.

    n_features_in_ : int
        Number of columns seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen during :meth:`fit`.

    Examples
    --------
    >>> import pandas as pd
    >>> from skstack.families import CategoryDtypeEncoder
    >>> frame = pd.DataFrame({"city": ["a", "b", None], "n": [1.0, 2.0, 3.0]})
    >>> encoder = CategoryDtypeEncoder().fit(frame)
    >>> encoder.transform(pd.DataFrame({"city": ["b", "z", "a"], "n": [1.0, 2.0, 3.0]}))
      city    n
    0    b  1.0
    1  NaN  2.0
    2    a  3.0
    """

    def fit(self, X, y=None):
        """Learn the categories of every categorical column.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Input columns.
        y : None
            Ignored.

        Returns
        -------
        self : CategoryDtypeEncoder
            The fitted encoder.
        """
        frame = check_frame(self, X, reset=True)
        self._lookup_cache = None
        self.categories_ = {}
        for column in categorical_columns(frame):
            values = frame[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                categories = values.cat.categories
            else:
                categories = pd.Index(as_strings(values).dropna().unique()).sort_values()
            # NumPy, not a pandas Index: fitted state that skops can persist safely.
            self.categories_[column] = np.asarray(categories, dtype=object)
        return self

    def transform(self, X):
        """Cast categorical columns to ``category`` with the fitted categories.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Input columns.

        Returns
        -------
        X_out : DataFrame or ndarray of shape (n_samples, n_features)
            The same columns, categoricals as ``category`` (a DataFrame); all-numeric array
            input comes back as an array.
        """
        check_is_fitted(self)
        frame = check_frame(self, X, reset=False)
        if not self.categories_:  # all numeric: arrays stay arrays, frames stay frames
            return frame if hasattr(X, "columns") else frame.to_numpy()
        frame = frame.copy()
        for column, (lookup, dtype) in self._lookups().items():
            values = frame[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                frame[column] = values.cat.set_categories(dtype.categories)
                continue
            codes = category_codes(values, lookup)
            codes[codes < 0] = -1  # unseen and missing are both missing to the model
            frame[column] = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
        return frame

    def _lookups(self):
        """``{column: ({category: code}, CategoricalDtype)}``, built once per fitted encoder.

        Derived from ``categories_`` and not saved: pickles and skops files hold the
        categories alone.
        """
        if getattr(self, "_lookup_cache", None) is None:
            self._lookup_cache = {
                column: ({str(category): code for code, category in enumerate(categories)},
                         pd.CategoricalDtype(pd.Index(categories, dtype=object)))
                for column, categories in self.categories_.items()
            }
        return self._lookup_cache

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_lookup_cache", None)
        return state

    def get_feature_names_out(self, input_features=None):
        """Output column names: the input names.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Ignored; the names seen at fit are used.

        Returns
        -------
        feature_names_out : ndarray of str
            The column names.
        """
        check_is_fitted(self)
        return np.asarray(self.feature_names_in_, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


class _FramePreprocessor(TransformerMixin, BaseEstimator):
    """Builds the per-kind ColumnTransformer at fit, once the column types are known."""

    def __init__(self, kind):
        self.kind = kind

    def _build(self, categorical, max_categories=64):
        # One-hot: keep_empty_features keeps a column that is all-NaN in this fold, so that
        # train and predict see the same width.
        numeric = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                                StandardScaler())
        categorical_steps = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="__missing__",
                          keep_empty_features=True),
            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=2,
                          max_categories=max_categories, sparse_output=False),
        )
        return ColumnTransformer(
            [("categorical", categorical_steps, categorical)],
            remainder=numeric, verbose_feature_names_out=False,
        )

    def fit(self, X, y=None):
        frame = as_frame(X)
        if self.kind == "onehot" and len(frame) > _FIT_SAMPLE_ROWS:
            self._fit_onehot(frame)  # on a sample: no need to transform every row
        else:
            self.fit_transform(frame, y)
        return self

    def rows_on_demand(self, n_rows):
        """Whether computing this output for the rows a model reads, when it reads them,
        beats computing it for every row at once: one-hot output, many times wider than
        its input, on a table large enough to be fitted on a sample."""
        return self.kind == "onehot" and n_rows > _FIT_SAMPLE_ROWS

    def fit_transform(self, X, y=None):
        frame = as_frame(X)
        if self.kind == "ordinal":
            self.encoder_ = CategoryDtypeEncoder().fit(frame)
            return self._ordinal(frame)
        if len(frame) > _FIT_SAMPLE_ROWS:
            self._fit_onehot(frame)
            return self.transform(frame)
        return self._fit_onehot(frame)

    def _fit_onehot(self, frame):
        """Fit the one-hot transformer; its output for ``frame`` when it was fitted on
        every row (None: fitted on a sample)."""
        objects = _strings_as_objects(frame)
        categorical = categorical_columns(objects)
        width = _ONEHOT_MAX_WIDTH // max(1, len(categorical))
        self.max_categories_ = int(min(_MAX_CATEGORIES, max(_MIN_CATEGORIES, width)))
        self.frequent_ = _frequent_levels(objects, categorical, self.max_categories_)
        objects = self._keep_frequent(objects)
        self.transformer_ = self._build(categorical, self.max_categories_)
        self._plan_cache = None  # read from the new transformer when first needed
        if len(frame) <= _FIT_SAMPLE_ROWS:
            return np.asarray(self.transformer_.fit_transform(objects), dtype=np.float64)
        # Medians, scales and frequent categories of a large table are those of a sample
        # (a median of 500,000 rows through masked arrays takes seconds); rarer categories
        # fall into the infrequent column, as unseen ones do.
        sample = np.random.RandomState(0).choice(len(frame), _FIT_SAMPLE_ROWS, replace=False)
        self.transformer_.fit(objects.iloc[np.sort(sample)])
        return None

    def transform(self, X):
        check_is_fitted(self)
        frame = as_frame(X)
        if self.kind == "ordinal":
            return self._ordinal(frame)
        frame = self._keep_frequent(frame)
        plan = self._onehot_plan()
        if plan is not None and list(frame.columns) == plan.columns:
            return plan.transform(frame)
        frame = _strings_as_objects(frame)
        return np.asarray(self.transformer_.transform(frame), dtype=np.float64)

    def _keep_frequent(self, frame):
        """``frame`` with the rare levels of its many-level columns as one level."""
        frequent = getattr(self, "frequent_", None)
        if not frequent:
            return frame
        frame = frame.copy()
        for column, kept in frequent.items():
            values = as_strings(frame[column])
            frame[column] = values.where(values.isin(kept) | values.isna(), _INFREQUENT)
        return frame

    def _onehot_plan(self):
        """The fitted one-hot transformer's arithmetic, read out once (None: not possible).

        Derived from ``transformer_`` and not saved, like the ordinal look-ups.
        """
        if getattr(self, "_plan_cache", None) is None:
            self._plan_cache = _OneHotPlan.read(self.transformer_) or False
        return self._plan_cache or None

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_plan_cache", None)
        return state

    def _ordinal(self, frame):
        """Categorical columns as codes (unseen -1, missing NaN), then the numeric ones.

        Written out rather than an ``OrdinalEncoder`` in a ``ColumnTransformer``, whose
        per-call overhead (about 10 ms) is what one-row predictions pay per forest.
        """
        lookups = self.encoder_._lookups()
        numeric = [column for column in frame.columns if column not in lookups]
        out = np.empty((len(frame), len(lookups) + len(numeric)))
        for j, (column, (lookup, _)) in enumerate(lookups.items()):
            codes = category_codes(frame[column], lookup).astype(np.float64)
            codes[codes == -2] = np.nan
            out[:, j] = codes
        out[:, len(lookups):] = frame[numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        return out


class _OneHotPlan:
    """What a fitted ``onehot`` ColumnTransformer computes, written out.

    The transformer's per-call overhead (some 10-20 ms for a handful of columns) is what
    every one-row prediction pays once per layer. The plan holds its fitted numbers: the
    one-hot column of every category (infrequent ones share the last column of their
    feature, unseen ones go there too or nowhere), and each numeric column's median, mean
    and scale. :meth:`read` gives None for a transformer it cannot reproduce exactly, which
    then runs itself.
    """

    def __init__(self, columns, categorical, numeric, fill, mean, scale):
        self.columns = columns  # the frame's column names at fit
        self.categorical = categorical  # [(position, {category: column}, unseen, width)]
        self.numeric = numeric  # positions of the numeric columns
        self.fill, self.mean, self.scale = fill, mean, scale

    @classmethod
    def read(cls, transformer):
        names = getattr(transformer, "feature_names_in_", None)
        if names is None:
            return None
        columns = list(names)
        blocks = [(name, step, cols) for name, step, cols in transformer.transformers_
                  if not isinstance(step, str) and len(cols)]
        categorical, numeric, numbers = [], [], None
        for name, step, cols in blocks:
            positions = [columns.index(c) if isinstance(c, str) else int(c) for c in cols]
            if name == "categorical":
                categorical = cls._categories(step, positions)
                if categorical is None:
                    return None
            else:
                numeric, numbers = positions, cls._numbers(step)
        fill, mean, scale = numbers if numbers else (np.empty(0),) * 3
        return cls(columns, categorical, numeric, fill, mean, scale)

    @staticmethod
    def _categories(pipeline, positions):
        imputer, encoder = pipeline[0], pipeline[-1]
        if encoder.drop_idx_ is not None:
            return None
        infrequent_all = encoder.infrequent_categories_
        out = []
        for position, categories, infrequent in zip(positions, encoder.categories_,
                                                    infrequent_all):
            if not all(isinstance(category, str) for category in categories):
                return None
            rare = set() if infrequent is None else set(infrequent)
            frequent = [category for category in categories if category not in rare]
            lookup = {category: k for k, category in enumerate(frequent)}
            unseen = len(frequent) if rare else None
            lookup.update({category: unseen for category in rare})
            out.append((position, lookup, unseen, len(frequent) + bool(rare)))
        missing = imputer.fill_value
        return [(p, {**lookup, None: lookup.get(missing, unseen)}, unseen, width)
                for p, lookup, unseen, width in out]

    @staticmethod
    def _numbers(pipeline):
        imputer, scaler = pipeline[0], pipeline[-1]
        # A column that was all missing at fit is kept (keep_empty_features) and filled 0.
        fill = np.where(np.isnan(imputer.statistics_), 0.0, imputer.statistics_)
        return fill, scaler.mean_, scaler.scale_

    def transform(self, frame):
        n_rows = len(frame)
        width = sum(w for _, _, _, w in self.categorical) + len(self.numeric)
        out = np.zeros((n_rows, width))
        offset = 0
        for position, lookup, unseen, n_columns in self.categorical:
            values = frame.iloc[:, position].to_numpy(dtype=object)
            if n_rows > _VECTORISED_ROWS and pd.api.types.infer_dtype(values) == "string":
                columns = _onehot_columns(values, lookup, unseen)
                hot = np.flatnonzero(columns >= 0)
                out[hot, offset + columns[hot]] = 1.0
            else:
                for i, value in enumerate(values):
                    column = lookup.get(_spelling(value), unseen)
                    if column is not None:
                        out[i, offset + column] = 1.0
            offset += n_columns
        # Column by column: the temporaries of a whole numeric block would cost several
        # copies of it on a large table, on top of the output.
        for j, position in enumerate(self.numeric):
            numbers = frame.iloc[:, position].to_numpy(dtype=np.float64, na_value=np.nan)
            numbers = np.where(np.isnan(numbers), self.fill[j], numbers)
            out[:, offset + j] = (numbers - self.mean[j]) / self.scale[j]
        return out


def _frequent_levels(frame, columns, max_categories):
    """``{column: its most frequent levels}`` for the columns with more than
    ``max_categories`` levels: they keep ``max_categories - 1``, the others become one."""
    frequent = {}
    for column in columns:
        counts = frame[column].value_counts(dropna=True, sort=True)
        if len(counts) > max_categories:
            # NumPy, not a pandas Index: fitted state that skops can persist safely.
            frequent[column] = np.asarray(counts.index[:max_categories - 1], dtype=object)
    return frequent


def _onehot_columns(values, lookup, unseen):
    """The one-hot column of every string (or missing) value; -1 for none."""
    keys = [key for key in lookup if key is not None]
    targets = np.array([-1 if lookup[key] is None else lookup[key] for key in keys] + [-1],
                       dtype=np.int64)
    positions = pd.Index(keys, dtype=object).get_indexer(values)  # -1: unseen
    columns = np.where(positions >= 0, targets[positions], -1 if unseen is None else unseen)
    missing = lookup.get(None)
    columns[pd.isna(values)] = -1 if missing is None else missing
    return columns


def _strings_as_objects(frame):
    """Object dtype for text and bool columns: scikit-learn's encoders sort mixed values."""
    columns = categorical_columns(frame)
    if not columns:
        return frame
    frame = frame.copy()
    for column in columns:
        values = frame[column]
        if not isinstance(values.dtype, pd.CategoricalDtype):
            frame[column] = as_strings(values)
    return frame


def make_preprocessor(kind):
    """A fresh transformer for ``kind`` in ``{"native", "ordinal", "onehot"}``, or None."""
    if kind == "none":
        return None
    if kind == "native":
        return CategoryDtypeEncoder()
    if kind in ("ordinal", "onehot"):
        return _FramePreprocessor(kind)
    raise ValueError(f"Unknown preprocessing {kind!r}; use native, ordinal, onehot or none.")
