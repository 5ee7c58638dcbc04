"""Column typing and the column encoder: :func:`make_modality_encoder`, :class:`DatetimeEncoder`.

The encoder is a :class:`~sklearn.compose.ColumnTransformer` whose branches pick their columns
by dtype when it is fitted, so one unfitted encoder serves any frame. Numeric, boolean and
categorical columns pass through unchanged (every model family brings its own categorical
handling); datetime columns become numbers.
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.validation import check_is_fitted, validate_data

from ._embedding import ColumnBlocks

__all__ = [
    "MODALITIES",
    "DatetimeEncoder",
    "ModalityColumns",
    "column_types",
    "datetime_columns",
    "make_modality_encoder",
]

_PARTS = ("year", "month", "day", "day_of_week", "day_of_year")
_TIME_PARTS = ("hour", "minute")


def datetime_columns(X):
    """Names of the datetime columns of a DataFrame (timezone-aware ones included).

    Parameters
    ----------
    X : DataFrame or array-like
        Input; arrays have no datetime columns.

    Returns
    -------
    columns : list of str
        The datetime columns, in order.
    """
    if not hasattr(X, "columns"):
        return []
    return [c for c in X.columns if pd.api.types.is_datetime64_any_dtype(X[c].dtype)]


def _as_datetimes(values):
    """A column as naive UTC datetimes; numbers are read as nanoseconds since the epoch."""
    values = pd.to_datetime(pd.Series(values), errors="coerce", utc=True)
    return values.dt.tz_localize(None)


class DatetimeEncoder(ColumnBlocks, TransformerMixin, BaseEstimator):
    """Turn datetime columns into numbers: calendar parts, time of day and epoch seconds.

    For every input column the output has its year, month, day, day of week and day of year,
    the hour and minute when the column has times of day at fit, and the seconds since
    1970-01-01 UTC, which keeps the order of dates for tree models. Missing dates give NaN
    in every part. Timezone-aware columns are converted to UTC first.

    Attributes
    ----------
    parts_ : dict
        The parts computed for each column, by column name.

    n_features_in_ : int
        Number of columns seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen during :meth:`fit`, when they are all strings.

    Examples
    --------
    >>> import pandas as pd
    >>> from skstack.encoders import DatetimeEncoder
    >>> frame = pd.DataFrame({"when": pd.to_datetime(["2024-01-31", "2025-06-01", None])})
    >>> out = DatetimeEncoder().set_output(transform="pandas").fit_transform(frame)
    >>> out[["when_year", "when_month", "when_day_of_year", "when_epoch"]]
       when_year  when_month  when_day_of_year    when_epoch
    0     2024.0         1.0              31.0  1.706659e+09
    1     2025.0         6.0             152.0  1.748736e+09
    2        NaN         NaN               NaN           NaN
    """

    def _columns(self, X):
        frame = X if hasattr(X, "columns") else pd.DataFrame(X)
        return [_as_datetimes(frame.iloc[:, i].to_numpy()) for i in range(frame.shape[1])]

    def _check(self, X, reset):
        if hasattr(X, "columns"):
            validate_data(self, X, reset=reset, skip_check_array=True)
            return X
        return validate_data(self, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")

    def fit(self, X, y=None):
        """Learn which columns have times of day.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Datetime columns (or numbers read as nanoseconds since the epoch).
        y : None
            Ignored.

        Returns
        -------
        self : DatetimeEncoder
            The fitted encoder.
        """
        X = self._check(X, reset=True)
        self.parts_ = {}
        for name, values in zip(self._input_names(), self._columns(X)):
            timed = bool((values.dropna() != values.dropna().dt.normalize()).any())
            self.parts_[name] = _PARTS + (_TIME_PARTS if timed else ()) + ("epoch",)
        return self

    def transform(self, X):
        """Compute the parts of every datetime column.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Datetime columns.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_out)
            The parts, as floats (NaN for missing dates).
        """
        check_is_fitted(self)
        X = self._check(X, reset=False)
        blocks = []
        for parts, values in zip(self.parts_.values(), self._columns(X)):
            for part in parts:
                if part == "epoch":
                    column = (values - pd.Timestamp(0)).dt.total_seconds()
                else:
                    column = getattr(values.dt, part)
                blocks.append(column.to_numpy(dtype=np.float64, na_value=np.nan))
        if not blocks:
            return np.empty((len(X), 0))
        return np.column_stack(blocks)

    def get_feature_names_out(self, input_features=None):
        """Output names: ``<column>_<part>``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Ignored; the names seen at fit are used.

        Returns
        -------
        feature_names_out : ndarray of str
            The output column names.
        """
        check_is_fitted(self)
        return np.asarray(
            [f"{name}_{part}" for name, parts in self.parts_.items() for part in parts],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True  # dates written as text
        return tags


MODALITIES = ("numeric", "categorical", "datetime", "text", "image", "drop")


def column_types(X, types=None):
    """The modality of every column of ``X``: detected, with ``types`` laid over.

    Datetime dtypes are ``"datetime"``; string columns of long, mostly distinct values are
    ``"text"`` (:func:`~skstack.encoders.text_columns`); columns of image paths or arrays are
    ``"image"`` (:func:`~skstack.encoders.image_columns`); other non-numeric or boolean
    columns are ``"categorical"``; the rest ``"numeric"``.

    Parameters
    ----------
    X : DataFrame
        The input frame.
    types : dict, default=None
        ``{column: modality}`` overrides, modality one of ``"numeric"``, ``"categorical"``,
        ``"datetime"``, ``"text"``, ``"image"`` or ``"drop"``.

    Returns
    -------
    types : dict
        ``{column: modality}`` for every column, in order.

    Examples
    --------
    >>> import pandas as pd
    >>> from skstack.encoders import column_types
    >>> frame = pd.DataFrame({"id": [1, 2], "city": ["a", "b"]})
    >>> column_types(frame, {"id": "categorical"})
    {'id': 'categorical', 'city': 'categorical'}
    """
    from ._image import image_columns
    from ._text import text_columns

    types = dict(types or {})
    unknown = {m for m in types.values() if m not in MODALITIES}
    missing = [c for c in types if c not in X.columns]
    if unknown or missing:
        raise ValueError(f"Bad column types: unknown modalities {sorted(unknown)} (use "
                         f"{MODALITIES}), unknown columns {missing}.")
    rest = X[[c for c in X.columns if c not in types]]
    found = dict.fromkeys(datetime_columns(rest), "datetime")
    undecided = rest[[c for c in rest.columns if c not in found]]
    found.update(dict.fromkeys(image_columns(undecided), "image"))
    found.update(dict.fromkeys(text_columns(undecided[[c for c in undecided.columns
                                                        if c not in found]]), "text"))
    for column in rest.columns:
        if column not in found:
            dtype = X[column].dtype
            numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(
                dtype)
            found[column] = "numeric" if numeric else "categorical"
    return {column: types.get(column, found.get(column)) for column in X.columns}


class ModalityColumns:
    """Column selector of a :class:`~sklearn.compose.ColumnTransformer` branch.

    Parameters
    ----------
    modality : str
        The modality to select.
    types : dict, default=None
        Overrides for :func:`column_types`.
    only_overridden : bool, default=False
        Select only the columns that ``types`` sets to ``modality`` (for branches that
        convert a column to a modality it was not detected as).
    """

    def __init__(self, modality, types=None, only_overridden=False):
        self.modality = modality
        self.types = types
        self.only_overridden = only_overridden

    def __call__(self, X):
        if not hasattr(X, "columns"):
            return []
        if self.only_overridden:
            return [c for c, m in (self.types or {}).items() if m == self.modality]
        return [c for c, m in column_types(X, self.types).items() if m == self.modality]

    def __repr__(self):
        return f"ModalityColumns({self.modality!r})"


def _as_category(frame):
    return frame.astype("category")


def _as_numbers(frame):
    return frame.apply(pd.to_numeric, errors="coerce").astype(np.float64)


def default_text_encoder():
    """:class:`TextEmbedder` when transformers and local weights are installed, else
    :class:`TfidfTextEncoder` (no torch)."""
    from ._text import TextEmbedder, TfidfTextEncoder, default_text_model

    try:
        import transformers  # noqa: F401
    except ImportError:
        return TfidfTextEncoder()
    return TextEmbedder() if default_text_model() is not None else TfidfTextEncoder()


def default_image_encoder():
    """:class:`ImageEmbedder` when timm and packaged weights are installed, else None."""
    from ._image import ImageEmbedder, _packaged_weights

    try:
        import timm  # noqa: F401
    except ImportError:
        return None
    return ImageEmbedder() if _packaged_weights("tf_efficientnet_lite0") else None


def make_modality_encoder(types=None, *, text="auto", image="auto"):
    """The column encoder that :class:`~skstack.auto.AutoStackClassifier` puts first.

    A :class:`~sklearn.compose.ColumnTransformer` with pandas output and one branch per
    modality, the columns typed when it is fitted (:func:`column_types`): datetime columns
    go through :class:`DatetimeEncoder`, free text through ``text``, images through
    ``image``; numeric, boolean and categorical columns pass through with their dtypes, for
    the per-family preprocessing of the models that follow (columns typed by ``types``
    against their dtype are converted).

    Parameters
    ----------
    types : dict, default=None
        ``{column: modality}`` overrides of the detected types: ``"numeric"``,
        ``"categorical"``, ``"datetime"``, ``"text"``, ``"image"`` or ``"drop"``.
    text : transformer, "auto" or "drop", default="auto"
        The text branch. ``"auto"``: :class:`TextEmbedder` with the packaged
        all-MiniLM-L6-v2 when the ``text`` extra is installed, else
        :class:`TfidfTextEncoder`.
    image : transformer, "auto" or "drop", default="auto"
        The image branch. ``"auto"``: :class:`ImageEmbedder` when the ``image`` extra is
        installed; without it, image columns are dropped.

    Returns
    -------
    encoder : ColumnTransformer
        An unfitted encoder.

    Examples
    --------
    >>> import pandas as pd
    >>> from skstack.encoders import make_modality_encoder
    >>> frame = pd.DataFrame({"city": ["a", "b"], "n": [1.0, 2.0],
    ...                       "when": pd.to_datetime(["2024-01-31", "2024-02-01"])})
    >>> make_modality_encoder().fit_transform(frame).columns.tolist()[:3]
    ['when_year', 'when_month', 'when_day']
    """
    if isinstance(text, str) and text == "auto":
        text = default_text_encoder()
    if isinstance(image, str) and image == "auto":
        image = default_image_encoder() or "drop"
    branches = [
        ("datetime", DatetimeEncoder(), ModalityColumns("datetime", types)),
        ("text", text, ModalityColumns("text", types)),
        ("image", image, ModalityColumns("image", types)),
        ("categorical", FunctionTransformer(_as_category, feature_names_out="one-to-one"),
         ModalityColumns("categorical", types, only_overridden=True)),
        ("numeric", FunctionTransformer(_as_numbers, feature_names_out="one-to-one"),
         ModalityColumns("numeric", types, only_overridden=True)),
        ("drop", "drop", ModalityColumns("drop", types)),
    ]
    return ColumnTransformer(branches, remainder="passthrough",
                             verbose_feature_names_out=False).set_output(transform="pandas")
