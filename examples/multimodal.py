"""
AutoStack on images, text and numbers in one frame
==================================================

Run with ``.venv/bin/python examples/multimodal.py``. Writes 600 of scikit-learn's
handwritten digits as PNG files, describes each one in a sentence of text, adds a number, and
fits ``AutoStackClassifier`` to tell small digits (0-4) from large ones. The column encoder
types the columns itself: the paths become EfficientNet-Lite0 features, the sentences
all-MiniLM-L6-v2 embeddings (both from local weights, with the image and text extras), or
TF-IDF components without them.
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skstack import AutoStackClassifier
from skstack.encoders import column_types

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def make_frame(folder, n=600, seed=0):
    rng = np.random.RandomState(seed)
    digits = load_digits()
    rows = []
    for i in range(n):
        path = Path(folder) / f"digit_{i}.png"
        Image.fromarray((digits.images[i] * 16).astype(np.uint8)).save(path)
        # A noisy description: the right number word two times in three.
        said = digits.target[i] if rng.rand() < 0.67 else rng.randint(10)
        rows.append({"scan": str(path),
                     "note": f"the clerk thinks this form shows a {WORDS[said]} written "
                             f"in {rng.choice(['blue', 'black'])} ink",
                     "ink_density": float(digits.images[i].mean() + rng.normal(0, 0.5))})
    return pd.DataFrame(rows), np.where(digits.target[:n] < 5, "small", "large")


def main():
    with tempfile.TemporaryDirectory() as folder:
        X, y = make_frame(folder)
        print("column types:", column_types(X))
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3,
                                                            random_state=0, stratify=y)
        clf = AutoStackClassifier(presets="medium_quality", time_limit=120, random_state=0)
        clf.fit(X_train, y_train)
        encoder = clf.pipeline_["encoder"]
        print("encoder branches:", [(name, cols) for name, _, cols in encoder.transformers_
                                    if len(cols)])
        print(f"held-out accuracy: {clf.score(X_test, y_test):.3f}")
        print(clf.leaderboard(X_test, y_test).head(6).to_string())


if __name__ == "__main__":
    main()
