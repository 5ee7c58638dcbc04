"""Saving and loading fitted models: skops (safe) or joblib/pickle (trusted files only).

A ``.skops`` file is written with :func:`skops.io.dump`; loading it refuses every type that
is not known to be safe unless the caller lists it in ``trusted`` (see
:func:`untrusted_types`). Known to be safe: skops' own defaults (scikit-learn, NumPy, SciPy,
and the boosting libraries it supports), skstack's own classes and column selectors, and the
estimator classes of skstack's built-in model families. Any other suffix uses
:mod:`joblib`, which, like pickle, can run arbitrary code when loading: load such files only
from sources you trust.
"""

from functools import lru_cache
from pathlib import Path

import joblib

__all__ = ["load", "save", "untrusted_types"]


_CONTAINERS = ("numpy.dtype", "sklearn.utils._bunch.Bunch", "collections.OrderedDict",
               "sklearn.tree._tree.Tree")
# The fitted boosters inside the families' estimators.
_BOOSTERS = ("lightgbm.basic.Booster", "xgboost.core.Booster")
# The search trees of the KNN family's fitted models, and their distance metrics.
_NEIGHBOUR_TREES = ("sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree")
_DISTANCE_METRICS = "sklearn.metrics._dist_metrics."


@lru_cache(maxsize=1)
def _family_classes():
    """Full names of the estimator classes skstack's built-in families build."""
    from .families._registry import BUILTIN_FAMILIES

    names = set()
    for family in BUILTIN_FAMILIES:
        if not family.available():
            continue
        for task in (True, False):
            try:
                cls = family.estimator_class(task)
            except ImportError:
                continue
            names.add(f"{cls.__module__}.{cls.__qualname__}")
    return names


def _is_own_type(name):
    """skstack's own types, the estimators its families build, and plain containers."""
    return (name.startswith(("skstack.", _DISTANCE_METRICS)) or name in _CONTAINERS
            or name in _BOOSTERS or name in _NEIGHBOUR_TREES or name in _family_classes())


def _is_skops(path):
    return Path(path).suffix == ".skops"


def _skops():
    try:
        import skops.io
    except ImportError as error:
        raise ImportError("Saving to .skops needs skops: pip install 'skstack[io]'.") from error
    return skops.io


def save(model, path):
    """Write a fitted model to ``path``: skops for ``.skops``, joblib otherwise.

    Parameters
    ----------
    model : estimator
        The fitted model.
    path : str or path-like
        Destination file.

    Returns
    -------
    path : Path
        The file written.
    """
    path = Path(path)
    if _is_skops(path):
        _skops().dump(model, path)
    else:
        joblib.dump(model, path)
    return path


def untrusted_types(path):
    """The types of a ``.skops`` file that :func:`load` refuses unless trusted.

    Parameters
    ----------
    path : str or path-like
        A ``.skops`` file.

    Returns
    -------
    types : list of str
        Fully qualified type names; review them before passing them to :func:`load`.
    """
    found = _readable(path, _skops().get_untrusted_types)
    return [name for name in found if not _is_own_type(name)]


def load(path, *, trusted=None):
    """Read a model written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
        A ``.skops`` file, or a joblib/pickle file (only from a trusted source).
    trusted : list of str, default=None
        For ``.skops`` files: the type names to allow beyond skops' safe defaults and
        skstack's own types. None allows none, so a file holding any other type is refused
        with the list of those types (:func:`untrusted_types` gives the same list).

    Returns
    -------
    model : estimator
        The loaded model.
    """
    if not _is_skops(path):
        return joblib.load(path)
    sio = _skops()
    found = _readable(path, sio.get_untrusted_types)
    unknown = sorted({name for name in found if not _is_own_type(name)} - set(trusted or ()))
    if unknown:
        raise ValueError(
            f"{path} holds types that are not trusted by default: {unknown}. Review them and "
            "pass the ones you trust as load(path, trusted=[...]) (skstack.io.untrusted_types "
            "lists them)."
        )
    allowed = [name for name in found if _is_own_type(name)] + list(trusted or ())
    return _readable(path, lambda file: sio.load(file, trusted=allowed))


def _readable(path, read):
    """``read(file=path)``, with a clear error for a file that is not a whole skops file.

    A ``.skops`` file is a zip archive: a truncated or foreign file raises deep inside the
    standard library (``zipfile.BadZipFile``), or as a missing member of the archive.
    """
    import zipfile

    try:
        return read(file=path)
    except (zipfile.BadZipFile, KeyError, EOFError) as error:
        raise ValueError(f"{path} is damaged or not a model file written by skstack's save "
                         f"(a .skops archive): {type(error).__name__}: {error}") from error
