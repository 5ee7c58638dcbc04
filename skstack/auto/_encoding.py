"""The column encoder of an AutoStack fit, chosen so that embedding fits the time limit.

Pretrained embedders are slow on a CPU (tens of rows per second, see
``benchmarks/results/encoders.md``) and embed every training row before any model trains.
Under a time limit each pretrained branch is timed on a few rows first; a branch that
projects past its share of the limit gives way: text to :class:`TfidfTextEncoder` (no
network, thousands of rows per second), images (which have no fast stand-in) are dropped.
Each with a warning that says why and what to do instead.
"""

import time
import warnings

from sklearn.base import clone

from ..encoders import column_types, make_modality_encoder
from ..encoders._columns import default_image_encoder, default_text_encoder
from ..encoders._embedding import PretrainedEmbedder
from ..encoders._text import TfidfTextEncoder
from ._budget import EMBED_TIMED_ROWS, EMBED_WARM_ROWS, EMBEDDING_SHARE

__all__ = ["budgeted_encoder"]


def budgeted_encoder(X, types, time_limit, log):
    """:func:`make_modality_encoder` for ``X``, with slow embedders replaced under a limit.

    Parameters
    ----------
    X : DataFrame
        The training frame.
    types : dict or None
        Column type overrides (AutoStack's ``column_types``).
    time_limit : float or None
        Seconds of the whole fit; None keeps the default embedders.
    log : callable
        ``log(level, message)``.

    Returns
    -------
    encoder : ColumnTransformer
        The unfitted encoder.
    """
    modalities = column_types(X, types)
    present = set(modalities.values())
    # The defaults import their backends (transformers takes seconds): only when needed.
    branches = {
        "text": default_text_encoder() if "text" in present else "drop",
        "image": (default_image_encoder() or "drop") if "image" in present else "drop",
    }
    if time_limit is not None:
        for modality, fallback in (("text", TfidfTextEncoder()), ("image", "drop")):
            columns = [c for c, m in modalities.items() if m == modality]
            embedder = branches[modality]
            if not columns or not isinstance(embedder, PretrainedEmbedder):
                continue
            seconds = projected_seconds(embedder, X[columns])
            allowed = EMBEDDING_SHARE * time_limit
            if seconds <= allowed:
                log(1, f"{modality} embedding: about {seconds:.0f} s for {len(X)} rows")
                continue
            what = ("the TF-IDF text encoder instead" if modality == "text"
                    else "without the image columns")
            warnings.warn(
                f"Embedding the {modality} columns {columns} with {type(embedder).__name__} "
                f"would take about {seconds:.0f} s, more than {EMBEDDING_SHARE:.0%} of "
                f"time_limit={time_limit}; fitting {what}. Raise time_limit, use a GPU, or "
                "embed the columns beforehand.", UserWarning, stacklevel=4)
            branches[modality] = fallback
    return make_modality_encoder(types, **branches)


def projected_seconds(embedder, frame):
    """Seconds ``embedder`` would take to embed every row of ``frame``.

    The first rows load the network (paid once in the fit too, and counted); the next
    ones time the embedding itself.
    """
    probe = clone(embedder)
    start = time.monotonic()
    probe.fit(frame.iloc[:EMBED_WARM_ROWS])
    load = time.monotonic() - start
    rows = frame.iloc[EMBED_WARM_ROWS:EMBED_WARM_ROWS + EMBED_TIMED_ROWS]
    if len(rows) == 0:
        return load
    start = time.monotonic()
    probe.transform(rows)
    per_row = (time.monotonic() - start) / len(rows)
    return load + per_row * len(frame)
