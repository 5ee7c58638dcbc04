"""What the column embedders share: column checks, device choice, lazy networks, batches.

The network is loaded on first use and never pickled: a fitted embedder stores its
configuration and whatever it learnt at fit (the optional PCA), and loads the network again
from its name or path after unpickling. Nothing is downloaded: models come from local
directories or installed packages.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["resolve_device"]


def resolve_device(device):
    """``"auto"``: a CUDA GPU when torch sees one, else Apple's MPS, else the CPU."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def require(module, extra):
    """Import ``module`` or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"{module} is needed here: pip install 'skstack[{extra}]'.") from error


class ColumnBlocks:
    """Input checks of encoders that turn each input column into a block of features."""

    def _check(self, X, reset):
        """The columns of ``X`` as object arrays (names and count checked)."""
        if hasattr(X, "columns"):
            validate_data(self, X, reset=reset, skip_check_array=True)
            return [X.iloc[:, i].to_numpy(dtype=object) for i in range(X.shape[1])]
        X = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)
        X = np.asarray(X, dtype=object)
        return [X[:, i] for i in range(X.shape[1])]

    def _input_names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]


class PretrainedEmbedder(ColumnBlocks, TransformerMixin, BaseEstimator):
    """Base of :class:`TextEmbedder` and :class:`ImageEmbedder`: one block per column.

    Subclasses set ``_extra`` (the pip extra that installs their backend), the default
    batch sizes ``_cpu_batch`` and ``_gpu_batch``, and implement ``_load()`` (the network
    state, kept in ``_loaded``) and ``_embed(values, loaded)`` (one column's values to a
    float array).
    """

    _extra = None

    def _model(self):
        if getattr(self, "_loaded", None) is None:
            self._loaded = self._load()
        return self._loaded

    def _device(self):
        return resolve_device(self.device)

    def _batch_size(self, device):
        if self.batch_size != "auto":
            return self.batch_size
        return self._gpu_batch if device == "cuda" else self._cpu_batch

    def fit(self, X, y=None):
        """Check the columns, load the network and fit the optional reduction.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            One or more columns of this modality.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted embedder.
        """
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit, then embed ``X``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            One or more columns of this modality.
        y : None
            Ignored.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_out)
            The embeddings (reduced when ``n_components`` is set), column after column.
        """
        self._validate_params()
        blocks = self._embed_columns(self._check(X, reset=True))
        self.embedding_dim_ = blocks[0].shape[1]
        self.reducers_ = None
        if self.n_components is not None:
            self.reducers_ = [
                PCA(min(self.n_components, *block.shape), random_state=self.random_state)
                .fit(block) for block in blocks
            ]
        return self._reduce(blocks)

    def transform(self, X):
        """Embed every column.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            The columns seen at fit.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_out)
            The embeddings, column after column.
        """
        check_is_fitted(self, "embedding_dim_")
        return self._reduce(self._embed_columns(self._check(X, reset=False)))

    def _embed_columns(self, columns):
        return [self._embed(values, self._model()) for values in columns]

    def _reduce(self, blocks):
        """The blocks side by side, each through its PCA when there is one."""
        if self.reducers_ is not None:
            blocks = [r.transform(b) for r, b in zip(self.reducers_, blocks)]
        return np.hstack(blocks).astype(np.float64)

    def get_feature_names_out(self, input_features=None):
        """Output names: ``<column>_emb<i>``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Ignored; the names seen at fit are used.

        Returns
        -------
        feature_names_out : ndarray of str
            One name per output column.
        """
        check_is_fitted(self, "embedding_dim_")
        width = [self.embedding_dim_] * self.n_features_in_ if self.reducers_ is None else [
            r.n_components_ for r in self.reducers_]
        return np.asarray([f"{name}_emb{i}" for name, n in zip(self._input_names(), width)
                           for i in range(n)], dtype=object)

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_loaded", None)  # the network is re-loaded from its name or path
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.non_deterministic = False
        return tags


def batches(n_rows, size, order=None):
    """Row indices in batches of ``size`` (in ``order`` when given)."""
    order = np.arange(n_rows) if order is None else order
    for start in range(0, n_rows, size):
        yield order[start:start + size]
