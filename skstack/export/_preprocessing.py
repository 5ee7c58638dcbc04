"""The per-family preprocessing (:mod:`skstack.families._preprocessing`) as ONNX nodes.

A level's input is a table; here it is a list of :class:`Column`, one ``(n_rows, 1)``
tensor each: float64 numbers (NaN missing), or strings for categorical columns (a
category spelled as :func:`~skstack.families._preprocessing.as_strings` spells it; the
empty string is missing unless it was a category at fit). Each kind of preprocessing
becomes the matrix its models read, in the same column order:

- ``native`` (boosting): numbers as they are, categories as their codes (unseen and
  missing NaN);
- ``ordinal`` (forests): category codes (unseen -1, missing NaN), then the numbers;
- ``onehot`` (linear, KNN): one-hot blocks (rare and unseen levels as fitted), then the
  numbers imputed and standardised.
"""

from dataclasses import dataclass

import numpy as np

from ..families._onnx import NotConvertible
from ..families._preprocessing import (
    _INFREQUENT,
    CategoryDtypeEncoder,
    _FramePreprocessor,
)
from ._graph import ML_DOMAIN

__all__ = ["Column", "categorical_names", "preprocessed"]

_MISSING = ""  # how a missing category is fed to the exported model


@dataclass(frozen=True)
class Column:
    """One column of a level's input: its name, whether it is categorical, its tensor."""

    name: str
    categorical: bool
    tensor: str


def preprocessed(graph, preprocessor, columns):
    """The float64 ``(n_rows, n_features)`` tensor that ``preprocessor`` makes of
    ``columns`` (None: no preprocessing, every column numeric)."""
    if preprocessor is None:
        return _numbers(graph, _check_numeric(columns, "A model without preprocessing"))
    if isinstance(preprocessor, CategoryDtypeEncoder):
        return _native(graph, preprocessor, _in_order(preprocessor, columns))
    if isinstance(preprocessor, _FramePreprocessor) and preprocessor.kind == "ordinal":
        encoder = preprocessor.encoder_
        return _ordinal(graph, encoder, _in_order(encoder, columns))
    if isinstance(preprocessor, _FramePreprocessor) and preprocessor.kind == "onehot":
        return _onehot(graph, preprocessor, columns)
    raise NotConvertible(f"The preprocessing {type(preprocessor).__name__} does not "
                         "convert to ONNX.")


def categorical_names(preprocessor):
    """The names of the columns ``preprocessor`` (fitted; None: no preprocessing) reads
    as categories."""
    if isinstance(preprocessor, CategoryDtypeEncoder):
        return [str(name) for name in preprocessor.categories_]
    if isinstance(preprocessor, _FramePreprocessor) and preprocessor.kind == "ordinal":
        return [str(name) for name in preprocessor.encoder_.categories_]
    if isinstance(preprocessor, _FramePreprocessor) and preprocessor.kind == "onehot":
        plan = preprocessor._onehot_plan()
        return [] if plan is None else [str(plan.columns[position])
                                        for position, *_ in plan.categorical]
    return []


def _in_order(fitted, columns):
    """``columns`` in the order of the names ``fitted`` (an encoder, or the one-hot plan's
    names) saw at fit; as they are when it was fitted on an array."""
    names = fitted if isinstance(fitted, list) else getattr(fitted, "feature_names_in_", None)
    if names is None:
        return columns
    by_name = {column.name: column for column in columns}
    return [by_name[str(name)] for name in names]


def _check_numeric(columns, what):
    categorical = [column.name for column in columns if column.categorical]
    if categorical:
        raise NotConvertible(f"{what} reads the categorical columns {categorical} as they "
                             "are, which ONNX cannot.")
    return columns


def _numbers(graph, columns):
    if not columns:
        return None
    tensors = [column.tensor for column in columns]
    return tensors[0] if len(tensors) == 1 else graph.op("Concat", tensors, axis=1)


def _codes(graph, tensor, lookup, unseen, missing):
    """Float codes of a string column: ``lookup[category]``, ``unseen`` for other
    strings, ``missing`` for the empty string (unless it is a category)."""
    keys = list(lookup)
    values = [float(lookup[key]) for key in keys]
    if _MISSING not in lookup:
        keys.append(_MISSING)
        values.append(missing)
    codes = graph.op("LabelEncoder", [tensor], domain=ML_DOMAIN, keys_strings=keys,
                     values_floats=values, default_float=float(unseen))
    return graph.op("Cast", [codes], to=11)  # float64


def _category_lookup(encoder, name):
    categories = encoder.categories_[name]
    return {str(category): code for code, category in enumerate(categories)}


def _native(graph, encoder, columns):
    parts = []
    for column in columns:
        if column.name in encoder.categories_:
            parts.append(_codes(graph, column.tensor, _category_lookup(encoder, column.name),
                                np.nan, np.nan))
        else:
            parts.append(_check_numeric([column], "The native preprocessing")[0].tensor)
    return parts[0] if len(parts) == 1 else graph.op("Concat", parts, axis=1)


def _ordinal(graph, encoder, columns):
    by_name = {column.name: column for column in columns}
    codes = [_codes(graph, by_name[name].tensor, _category_lookup(encoder, name), -1.0, np.nan)
             for name in encoder.categories_]
    numbers = [column for column in columns if column.name not in encoder.categories_]
    parts = codes + ([_numbers(graph, numbers)] if numbers else [])
    return parts[0] if len(parts) == 1 else graph.op("Concat", parts, axis=1)


def _onehot(graph, preprocessor, columns):
    plan = preprocessor._onehot_plan()
    if plan is None:
        raise NotConvertible("This one-hot preprocessing (categories that are not strings) "
                             "does not convert to ONNX.")
    frequent = getattr(preprocessor, "frequent_", None) or {}
    columns = _in_order(plan.columns, columns)
    parts = []
    for position, lookup, unseen, width in plan.categorical:
        column = columns[position]
        # Levels the fit kept as such, and one column for the rest (rare or unseen).
        other = lookup.get(_INFREQUENT, unseen) if column.name in frequent else unseen
        none = width  # an index past the block: a row of zeros
        keys = {key: none if value is None else value
                for key, value in lookup.items() if key is not None}
        missing = lookup[None]
        index = _codes(graph, column.tensor, keys, none if other is None else other,
                       none if missing is None else missing)
        # One-hot as a comparison with the block's column numbers (onnxruntime's OneHot
        # has no float64 output): an index past the block matches none.
        hot = graph.op("Equal", [graph.op("Cast", [index], to=7),
                                 graph.const(np.arange(width)[None, :], np.int64)])
        parts.append(graph.op("Cast", [hot], to=11))
    if plan.numeric:
        numbers = _numbers(graph, [columns[position] for position in plan.numeric])
        filled = graph.op("Where", [graph.op("IsNaN", [numbers]), graph.const(plan.fill),
                                    numbers])
        centred = graph.op("Sub", [filled, graph.const(plan.mean)])
        parts.append(graph.op("Div", [centred, graph.const(plan.scale)]))
    return parts[0] if len(parts) == 1 else graph.op("Concat", parts, axis=1)
