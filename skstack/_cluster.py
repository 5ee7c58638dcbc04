"""The data of a layer's fold fits, sent once to a Dask cluster.

joblib's Dask backend scatters each large argument of a parallel call to the cluster,
once per call: every bag of a layer would send its input and target again, and every
fold its row indices (a 100,000-row table of 8.5 MB: 305 MB over one fit). Inside
:func:`data_sent_once` (a layer's fit), :func:`on_cluster` scatters each object on its
first use and hands every later call the same future, so a layer sends each distinct
input (one per kind of preprocessing) and each fold's rows once (an AutoStack fit: once
for all of its levels and repeats). Under any other backend, and on a cluster of one
core (where joblib runs the calls here, in sequence), the objects are passed as they are.
"""

import contextvars
from contextlib import contextmanager

__all__ = ["data_sent_once", "on_cluster"]

_SENT = contextvars.ContextVar("skstack_sent", default=None)


@contextmanager
def data_sent_once():
    """Within: what :func:`on_cluster` sends to a Dask cluster stays there, for reuse.

    A block inside another shares the outer one's data (an AutoStack fit's levels, their
    bag repeats and their layers). On leaving the outermost, the futures are dropped and
    Dask releases the data.
    """
    if _SENT.get() is not None:
        yield
        return
    token = _SENT.set({})
    try:
        yield
    finally:
        _SENT.reset(token)


def on_cluster(*objects):
    """``objects`` as the fold fits receive them: the same objects, or, under joblib's
    Dask backend inside :func:`data_sent_once`, the futures of their copies on the
    cluster (Dask hands a task the data a future stands for)."""
    sent = _SENT.get()
    client = None if sent is None else _dask_client()
    if client is None:
        return objects
    futures = []
    for obj in objects:
        # Keyed by id, with the object kept so that its id is not reused meanwhile.
        if id(obj) not in sent:
            sent[id(obj)] = (obj, client.scatter([obj], hash=False)[0])
        futures.append(sent[id(obj)][1])
    return tuple(futures)


def _dask_client():
    """The client of joblib's active Dask backend, or None under another backend or
    when joblib would run the calls in this process: its Dask backend counts the
    cluster's cores, whatever ``n_jobs`` asks, and runs one core's calls here."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    if type(backend).__name__ != "DaskDistributedBackend" or backend.effective_n_jobs(-1) < 2:
        return None
    return backend.client
