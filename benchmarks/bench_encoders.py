"""Text and image columns: embedding throughput, and AutoStack with and without them.

- Throughput (rows/s) of :class:`~skstack.encoders.TextEmbedder` (all-MiniLM-L6-v2) on the
  reviews of ``fine_food_reviews`` and of :class:`~skstack.encoders.ImageEmbedder`
  (EfficientNet-Lite0) on scikit-learn's handwritten digits written out as PNG files, on the
  CPU and, when torch sees one, on the GPU.
- AutoStack (``medium_quality``) on ``fine_food_reviews`` (held-out 25%, ROC AUC) with the
  text embedder, with the TF-IDF fallback, and with the review column dropped; on the digits
  (accuracy) from image paths, against the 64 pixels as numeric columns and against no image.

Run alone (2 cores: parallel runs corrupt timings)::

    python benchmarks/bench_encoders.py --out benchmarks/results/encoders.md
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


def throughput(embedder, frame, repeats=1):
    embedder.fit(frame.head(8))  # loads the network: not counted
    start = time.perf_counter()
    for _ in range(repeats):
        embedder.transform(frame)
    return repeats * len(frame) / (time.perf_counter() - start)


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
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    lines = []

    _, X_train, X_test, y_train, y_test = load_frame("fine_food_reviews")
    reviews = pd.concat([X_train, X_test])[["review"]].head(512)
    with tempfile.TemporaryDirectory() as folder:
        images, pixels, target = digit_images(folder)
        rows = []
        for device in devices():
            rows.append({"embedder": "TextEmbedder (MiniLM-L6)", "device": device,
                         "rows_per_s": throughput(TextEmbedder(device=device), reviews)})
            rows.append({"embedder": "ImageEmbedder (EfficientNet-Lite0)", "device": device,
                         "rows_per_s": throughput(ImageEmbedder(device=device),
                                                  images.head(256))})
        rows.append({"embedder": "TfidfTextEncoder", "device": "cpu",
                     "rows_per_s": throughput(TfidfTextEncoder(), reviews, repeats=5)})
        lines += ["Embedding throughput:", "", pd.DataFrame(rows).to_markdown(
            index=False, floatfmt=".1f"), ""]
        print(lines[-2], file=sys.stderr, flush=True)

        text = pd.concat([X_train, X_test])
        y_text = np.concatenate([y_train, y_test])
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
                result = fit_score_with_encoder(frame, y, score, args.time_limit)
            else:
                result = fit_score(frame, y, types, score, args.time_limit)
            results.append({"dataset": dataset, "columns": label, **result})
            print(results[-1], file=sys.stderr, flush=True)
    lines += [f"AutoStack medium_quality, time_limit={args.time_limit:g} s, held-out 25% "
              "(fine_food_reviews: ROC AUC; digits: accuracy):", "",
              pd.DataFrame(results).to_markdown(index=False, floatfmt=".4f")]
    report = "\n".join(lines)
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n")


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
