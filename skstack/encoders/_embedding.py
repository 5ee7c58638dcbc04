"""What the column embedders share: column checks, device choice, lazy networks, batches.

The network is loaded on first use and never pickled: a fitted embedder stores its
configuration and whatever it learnt at fit (the optional PCA), and loads the network again
from its name or path after unpickling. Nothing is downloaded: models come from local
directories or installed packages.
"""

import math
from concurrent.futures import ThreadPoolExecutor, wait

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


# The GPU batch defaults (``_gpu_batch``) are for this much free memory; "auto" scales them
# to the card's free memory.
_GPU_REFERENCE_BYTES = 8 * 2**30
_GPU_BATCH_RANGE = (8, 4096)


def gpu_batch_size(reference, free_bytes):
    """``reference`` rows per 8 GiB, scaled to ``free_bytes``: a power of two in [8, 4096].

    Examples
    --------
    >>> from skstack.encoders._embedding import gpu_batch_size
    >>> gpu_batch_size(256, 8 * 2**30), gpu_batch_size(256, 78 * 2**30)
    (256, 2048)
    >>> gpu_batch_size(256, 2**30)
    32
    """
    low, high = _GPU_BATCH_RANGE
    scaled = reference * free_bytes / _GPU_REFERENCE_BYTES
    return int(min(high, max(low, 2 ** math.floor(math.log2(max(scaled, 1.0))))))


def _free_gpu_memory(device):
    """Free bytes on the card, counting what torch's allocator holds but no tensor uses."""
    import torch

    device = torch.device(device)
    free, _ = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


def _out_of_memory(error):
    import torch

    return isinstance(error, torch.cuda.OutOfMemoryError)


def _prepared(ahead, rows, prepare):
    """``prepare(rows)``, taken from the background when that is what ran ahead."""
    if ahead is not None:
        rows_ahead, future = ahead
        if np.array_equal(rows_ahead, rows):
            return future.result()
        wait([future])  # one preparation at a time: its threads are shared
    return prepare(rows)


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
        """Rows per forward pass: ``batch_size``, or sized to the device (``"auto"``).

        On a GPU, ``_gpu_batch`` rows per 8 GiB of free memory, or the size that last
        ran after an out-of-memory error (``_in_batches``), which also overrides an
        explicit ``batch_size`` too large for the card.
        """
        explicit = None if self.batch_size == "auto" else self.batch_size
        if not device.startswith("cuda"):
            return explicit or self._cpu_batch
        found = getattr(self, "_gpu_batch_found", None)
        if found is not None:
            return found
        return explicit or gpu_batch_size(self._gpu_batch, _free_gpu_memory(device))

    def _in_batches(self, n_rows, device, step, order=None, prepare=None):
        """Call ``step(rows)`` on every batch of rows (in ``order`` when given).

        With ``prepare``, the CPU's part of a batch (image decoding) is split off:
        ``prepare(rows)`` of the next batch runs in a background thread while
        ``step(rows, prepare(rows))`` runs the network on this one.

        On a CUDA out-of-memory error the batch is halved, remembered for the next
        calls, and run again: ``step`` writes its output only once its forward pass
        succeeded, so nothing is lost or written twice.
        """
        order = np.arange(n_rows) if order is None else np.asarray(order)
        size, start = self._batch_size(device), 0
        ahead = None  # (rows, future) of the next batch's preparation
        with ThreadPoolExecutor(1) as background:
            while start < n_rows:
                rows = order[start:start + size]
                try:
                    if prepare is None:
                        step(rows)
                    else:
                        prepared = _prepared(ahead, rows, prepare)
                        following = order[start + len(rows):start + len(rows) + size]
                        ahead = (following, background.submit(prepare, following)) if len(
                            following) else None
                        step(rows, prepared)
                except Exception as error:
                    if size == 1 or not device.startswith("cuda") or not _out_of_memory(
                            error):
                        raise
                    import torch

                    size = self._gpu_batch_found = size // 2
                    torch.cuda.empty_cache()
                    continue
                start += len(rows)

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
        state.pop("_gpu_batch_found", None)  # a property of this machine's card
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.non_deterministic = False
        return tags
