"""Text and image columns: embedding throughput, and AutoStack with and without them.

- Throughput (rows/s) of :class:`~skstack.encoders.TextEmbedder` (all-MiniLM-L6-v2) on the
  reviews of ``fine_food_reviews`` and of :class:`~skstack.encoders.ImageEmbedder`
  (EfficientNet-Lite0) on scikit-learn's handwritten digits written out as PNG files, on the
  CPU and, when torch sees one, on the GPU (with the float16 embeddings' agreement with the
  CPU's float32 ones).
- AutoStack (``medium_quality``) on ``fine_food_reviews`` (held-out 25%, ROC AUC) with the
  text embedder, with the TF-IDF fallback, and with the review column dropped; on the digits
  (accuracy) from image paths, against the 64 pixels as numeric columns and against no image.

Run alone (2 cores: parallel runs corrupt timings)::

    python benchmarks/bench_encoders.py --out benchmarks/results/encoders.md

On a GPU machine with no datasets folder beside the checkout, point ``SKSTACK_DATASETS`` at
a folder holding ``fine_food_reviews.parquet`` and ``manifest.csv``, and pass the weights::

    python benchmarks/bench_encoders.py --throughput-only --text-model DIR --image-weights PTH
"""

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import load_frame  # noqa: E402

from skstack import AutoStackClassifier  # noqa: E402
from skstack.encoders import (  # noqa: E402
    ImageEmbedder,
    TextEmbedder,
    TfidfTextEncoder,
    make_modality_encoder,
)

warnings.filterwarnings("ignore")


def devices():
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def tiled(frame, n_rows):
    """``n_rows`` rows: ``frame`` repeated as often as needed."""
    return frame.iloc[np.arange(n_rows) % len(frame)].reset_index(drop=True)


def throughput(embedder, frame, repeats=1, fit_rows=8):
    """Rows per second of ``embedder.transform(frame)``, after a warm-up pass.

    The fit on ``fit_rows`` rows loads the network (a vocabulary needs them all), and a
    first transform of 64 rows lets the GPU pick its kernels: neither is counted.
    """
    embedder.fit(frame.head(fit_rows))
    embedder.transform(frame.head(64))
    start = time.perf_counter()
    for _ in range(repeats):
        embedder.transform(frame)
    return repeats * len(frame) / (time.perf_counter() - start)


def cosine_agreement(embedder, frame):
    """Least and median cosine between the GPU's float16-autocast and the CPU's embeddings."""
    gpu = clone_of(embedder, device="cuda").fit_transform(frame)
    cpu = clone_of(embedder, device="cpu").fit_transform(frame)
    norms = np.linalg.norm(gpu, axis=1) * np.linalg.norm(cpu, axis=1)
    cosine = (gpu * cpu).sum(1) / np.maximum(norms, 1e-12)
    return float(cosine.min()), float(np.median(cosine))


def throughput_table(reviews, images, args):
    """Embedding throughput (rows/s) per embedder and device, as a markdown table.

    The GPU runs get ``--gpu-rows`` rows (the data repeated), the CPU runs ``--cpu-rows``.
    The image embedder runs on the GPU with its default decoding threads, then with each
    count of ``--image-threads``.
    """
    text = TextEmbedder(model=args.text_model)
    image = ImageEmbedder(weights=args.image_weights)
    rows = []

    def measure(name, embedder, frame, device, **extra):
        n_rows = args.gpu_rows if device == "cuda" else args.cpu_rows
        data = tiled(frame, n_rows)
        pretrained = "device" in embedder.get_params()
        if pretrained:
            embedder.set_params(device=device)
        rows_per_s = throughput(embedder, data, repeats=1 if pretrained else 5,
                                fit_rows=8 if pretrained else len(frame))
        rows.append({"embedder": name, "device": device, "rows": n_rows, **extra,
                     "batch": embedder._batch_size(device) if pretrained else None,
                     "rows_per_s": rows_per_s})
        print(rows[-1], file=sys.stderr, flush=True)

    for device in args.devices:
        measure("TextEmbedder (MiniLM-L6)", clone_of(text), reviews, device)
        measure("ImageEmbedder (EfficientNet-Lite0)", clone_of(image), images, device,
                threads=clone_of(image)._threads(device))
        if device == "cuda":
            for threads in args.image_threads:
                measure("ImageEmbedder (EfficientNet-Lite0)", clone_of(image, n_jobs=threads),
                        images, device, threads=threads)
    measure("TfidfTextEncoder", TfidfTextEncoder(), reviews, "cpu")
    table = pd.DataFrame(rows).reindex(
        columns=["embedder", "device", "rows", "batch", "threads", "rows_per_s"])
    for column in ("batch", "threads"):
        table[column] = table[column].map(lambda v: "" if pd.isna(v) else str(int(v)))
    table["rows_per_s"] = table["rows_per_s"].map("{:.1f}".format)
    lines = ["Embedding throughput:", "",
             table.to_markdown(index=False, disable_numparse=True), ""]
    if "cuda" in args.devices:
        lines += [("float16 autocast on the GPU against float32 on the CPU, cosine of the "
                   "embeddings (least, median):"), ""]
        for name, embedder, frame in (("text", text, reviews.head(256)),
                                      ("image", image, images.head(256))):
            least, median = cosine_agreement(embedder, frame)
            lines.append(f"- {name}: {least:.5f}, {median:.5f}")
        lines.append("")
    return lines


def clone_of(embedder, **params):
    from sklearn.base import clone

    return clone(embedder).set_params(**params)


def digit_images(folder):
    from PIL import Image

    digits = load_digits()
    paths = []
    for i, image in enumerate(digits.images):
        path = Path(folder) / f"digit_{i}.png"
        Image.fromarray((image * 16).astype(np.uint8)).save(path)
        paths.append(str(path))
    return pd.DataFrame({"photo": paths}), digits.data, digits.target.astype(str)


def fit_score(frame, y, encoder_kind, score, time_limit):
    X_train, X_test, y_train, y_test = train_test_split(frame, y, test_size=0.25,
                                                        random_state=0, stratify=y)
    model = AutoStackClassifier(presets="medium_quality", time_limit=time_limit,
                                random_state=0)
    if encoder_kind is not None:
        model.set_params(column_types=encoder_kind)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    return {"score": score(model, X_test, y_test), "fit_s": fit_s}


def auc(model, X, y):
    return roc_auc_score(y == "great", model.predict_proba(X)[:, list(model.classes_).index(
        "great")])


def accuracy(model, X, y):
    return accuracy_score(y, model.predict(X))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--throughput-only", action="store_true",
                        help="measure the embedding throughput and stop")
    parser.add_argument("--cpu-rows", type=int, default=512)
    parser.add_argument("--gpu-rows", type=int, default=16384)
    parser.add_argument("--devices", default=None, help="cpu,cuda (default: what torch sees)")
    parser.add_argument("--image-threads", default="1",
                        help="decoding threads of the extra GPU image runs, e.g. 1,4,16")
    parser.add_argument("--text-model", default="auto", help="TextEmbedder(model=)")
    parser.add_argument("--image-weights", default="auto", help="ImageEmbedder(weights=)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    args.devices = args.devices.split(",") if args.devices else devices()
    args.image_threads = [int(n) for n in args.image_threads.split(",") if n]

    _, X_train, X_test, y_train, y_test = load_frame("fine_food_reviews")
    text = pd.concat([X_train, X_test])
    y_text = np.concatenate([y_train, y_test])
    with tempfile.TemporaryDirectory() as folder:
        images, pixels, target = digit_images(folder)
        lines = throughput_table(text[["review"]], images, args)
        print("\n".join(lines), file=sys.stderr, flush=True)
        if not args.throughput_only:
            lines += autostack_table(text, y_text, images, pixels, target, args.time_limit)
    report = "\n".join(lines)
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n")


def autostack_table(text, y_text, images, pixels, target, time_limit):
    """AutoStack with each column treatment, as markdown lines."""
    runs = {
        "text embedder": ("fine_food_reviews", text, y_text, {"review": "text"}, auc),
        "TF-IDF fallback": ("fine_food_reviews", text, y_text, "tfidf", auc),
        "review dropped": ("fine_food_reviews", text, y_text, {"review": "drop"}, auc),
        "image embedder": ("digits", images, target, None, accuracy),
        "pixels as columns": ("digits", pd.DataFrame(pixels).add_prefix("px"), target,
                              None, accuracy),
        "image dropped": ("digits", images.assign(constant=0.0), target,
                          {"photo": "drop"}, accuracy),
    }
    results = []
    for label, (dataset, frame, y, types, score) in runs.items():
        if types == "tfidf":  # the fallback branch, as without the text extra
            result = fit_score_with_encoder(frame, y, score, time_limit)
        else:
            result = fit_score(frame, y, types, score, time_limit)
        results.append({"dataset": dataset, "columns": label, **result})
        print(results[-1], file=sys.stderr, flush=True)
    return [f"AutoStack medium_quality, time_limit={time_limit:g} s, held-out 25% "
            "(fine_food_reviews: ROC AUC; digits: accuracy):", "",
            pd.DataFrame(results).to_markdown(index=False, floatfmt=".4f")]


def fit_score_with_encoder(frame, y, score, time_limit):
    """AutoStack behind the modality encoder with the TF-IDF text branch."""
    from sklearn.pipeline import make_pipeline

    X_train, X_test, y_train, y_test = train_test_split(frame, y, test_size=0.25,
                                                        random_state=0, stratify=y)
    model = make_pipeline(
        make_modality_encoder({"review": "text"}, text=TfidfTextEncoder(random_state=0)),
        AutoStackClassifier(presets="medium_quality", time_limit=time_limit, random_state=0))
    start = time.perf_counter()
    model.fit(X_train, y_train)
    return {"score": score(model, X_test, y_test), "fit_s": time.perf_counter() - start}


if __name__ == "__main__":
    main()
