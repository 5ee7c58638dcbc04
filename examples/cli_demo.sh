#!/usr/bin/env bash
# The skstack command line on scikit-learn's breast-cancer data (run by `make demo`):
# fit an AutoStack model within a time limit, predict a held-out file, show the leaderboard.
set -euo pipefail
BIN=${BIN:-.venv/bin}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$BIN/python" - "$WORK" <<'PY'
import sys
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

frame = load_breast_cancer(as_frame=True).frame
frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
train, test = train_test_split(frame, test_size=0.3, stratify=frame["target"], random_state=0)
train.to_csv(f"{sys.argv[1]}/train.csv", index=False)
test.to_parquet(f"{sys.argv[1]}/test.parquet")
print(f"breast cancer: {len(train)} training rows, {len(test)} test rows in {sys.argv[1]}")
PY

echo "\$ skstack fit train.csv --label target --preset high_quality --time-limit 60 -o model.skops"
"$BIN/skstack" fit "$WORK/train.csv" --label target --preset high_quality --time-limit 60 \
    --verbose 0 -o "$WORK/model.skops"
echo
echo "\$ skstack predict model.skops test.parquet --proba -o predictions.csv"
"$BIN/skstack" predict "$WORK/model.skops" "$WORK/test.parquet" --label target --proba \
    -o "$WORK/predictions.csv"
head -4 "$WORK/predictions.csv"
echo
echo "\$ skstack leaderboard model.skops test.parquet --label target"
"$BIN/skstack" leaderboard "$WORK/model.skops" "$WORK/test.parquet" --label target
