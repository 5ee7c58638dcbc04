"""Where a fitted AutoStack spends its prediction time: one row, a batch, and by part.

For each shared table, a preset is fitted on 75% of the rows within a time limit (the
same split as ``bench_auto.py``), then its predictions are timed on the held-out rows:

- one row: the median of 50 calls of ``predict_proba`` (``predict`` for regression), each
  on another test row, as a model server sees them;
- a batch: the whole test set in one call, the best of three, in rows per second;
- the parts of one row's time: the column encoder, each level's shared preprocessing, the
  bags of each family (all their fold models), the selector, each timed alone on the
  rows it receives (:class:`skstack.auto._deployment.InferenceCosts`), as shares of their
  sum.

With ``--onnx``, the fitted model is also exported (:func:`skstack.export.export_onnx`)
and the same rows are timed through onnxruntime, on inputs built beforehand (a model
server receives arrays); the largest difference from ``predict_proba`` (``predict``) on
the test rows is reported. Ensembles with members that do not convert (CatBoost on
categorical columns) are fitted without those families: ``--exclude catboost``.

Targets (issue "Fast predictions"): one row under 10 ms and a batch at 20,000 rows/s for
best_quality. The machine must be otherwise idle.

Usage::

    python benchmarks/bench_predict.py [--datasets churn,...] [--preset best_quality]
        [--limit 60] [--models DIR] [--before CSV] [--csv benchmarks/results/predict.csv]
        [--out benchmarks/results/predict.md] [--onnx] [--exclude catboost]

``--models DIR`` keeps the fitted models (``DIR/<dataset>.joblib``) and times those found
there instead of fitting again: the same models timed under two versions of the code
(the older one on ``PYTHONPATH``) give a before/after comparison, which ``--before`` (the
older run's CSV) adds to the table.
"""

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _data import load_frame  # noqa: E402

from skstack import AutoStackClassifier, AutoStackRegressor  # noqa: E402
from skstack.auto._deployment import InferenceCosts  # noqa: E402
from skstack.auto._members import family_name  # noqa: E402

DEFAULT_DATASETS = ["churn", "credit_data", "letter", "wine_quality", "hotel_rates"]
ONE_ROW_CALLS = 50


def _method(model):
    return model.predict_proba if hasattr(model, "predict_proba") else model.predict


def one_row_ms(model, X):
    """Median milliseconds of one-row calls, each on another row (the first call warms)."""
    method = _method(model)
    method(X.iloc[:1])
    times = []
    for i in range(ONE_ROW_CALLS):
        row = X.iloc[[i % len(X)]]
        start = time.perf_counter()
        method(row)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def batch_rows_per_second(model, X):
    method = _method(model)
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        method(X)
        best = min(best, time.perf_counter() - start)
    return len(X) / best


def parts(model, X):
    """Seconds per row of each part of one row's prediction: ``{part: seconds}``."""
    pipeline = model.pipeline_
    row = X.iloc[:1]
    shares = defaultdict(float)
    features = row
    encoder = pipeline["encoder"]
    for index, (step, layer) in enumerate(pipeline.steps[1:-1], start=1):
        costs = InferenceCosts(encoder if index == 1 else "passthrough", layer, features)
        if index == 1:
            shares["encoder"] += costs.encoder
            features = encoder.transform(row) if encoder != "passthrough" else row
        for seconds in costs.preprocessing.values():
            shares[f"{step} preprocessing"] += seconds
        for name, seconds in costs.models.items():
            bag = layer.named_estimators_[name]
            shares[f"{step} {family_name(bag.estimator)}"] += seconds
        features = layer.transform(features)
    selector = pipeline[-1]
    method = selector.predict_proba if hasattr(selector, "predict_proba") else selector.predict
    start = time.perf_counter()
    for _ in range(20):
        method(features)
    shares["selector"] = (time.perf_counter() - start) / 20
    return dict(shares)


def onnx_timings(model, X):
    """One-row milliseconds, batch rows/s and the largest gap from ``model`` of its ONNX
    export, through onnxruntime on inputs built beforehand."""
    import onnxruntime

    from skstack.export import onnx_inputs

    exported = model.export_onnx()
    session = onnxruntime.InferenceSession(exported.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    output = "probabilities" if hasattr(model, "predict_proba") else "prediction"
    rows = [onnx_inputs(exported, X.iloc[[i % len(X)]]) for i in range(ONE_ROW_CALLS)]
    session.run([output], rows[0])
    times = []
    for feed in rows:
        start = time.perf_counter()
        session.run([output], feed)
        times.append(time.perf_counter() - start)
    batch = onnx_inputs(exported, X)
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        got = session.run([output], batch)[0]
        best = min(best, time.perf_counter() - start)
    gap = float(np.max(np.abs(np.asarray(_method(model)(X), dtype=np.float64) - got)))
    return {"onnx_one_row_ms": 1000 * float(np.median(times)),
            "onnx_batch_rows_per_s": len(X) / best, "onnx_max_gap": gap}


def fitted(name, preset, limit, models, exclude=None):
    """The fitted model of ``name`` (from ``models`` when saved there) and its test rows."""
    import joblib

    info, X_train, X_test, y_train, y_test = load_frame(name)
    path = None if models is None else Path(models) / f"{name}.joblib"
    if path is not None and path.exists():
        return info, joblib.load(path), X_test
    cls = AutoStackRegressor if info.task == "regression" else AutoStackClassifier
    model = cls(presets=preset, time_limit=limit, excluded_families=exclude,
                random_state=0).fit(X_train, y_train)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, path)
    return info, model, X_test


def run(name, preset, limit, models=None, exclude=None, onnx=False):
    info, model, X_test = fitted(name, preset, limit, models, exclude)
    layers = [layer for _, layer in model.pipeline_.steps[1:-1]]
    fold_models = sum(len(bag._models()) for layer in layers for bag in layer.estimators_)
    split = parts(model, X_test)
    total = sum(split.values())
    top = sorted(split.items(), key=lambda item: -item[1])[:4]
    return {
        "dataset": name, "task": info.task, "test_rows": len(X_test),
        "levels": len(layers), "bags": sum(len(layer.estimators_) for layer in layers),
        "fold_models": fold_models,
        "one_row_ms": one_row_ms(model, X_test),
        "batch_rows_per_s": batch_rows_per_second(model, X_test),
        "parts": ", ".join(f"{part} {seconds / total:.0%}" for part, seconds in top),
        **(onnx_timings(model, X_test) if onnx else {}),
    }


def write(frame, path, preset, limit, before=None, exclude=None):
    compared = before is not None
    exported = "onnx_one_row_ms" in frame
    if compared:
        old = before.set_index("dataset")
        frame = frame.assign(
            before_ms=frame.dataset.map(old.one_row_ms),
            before_rows=frame.dataset.map(old.batch_rows_per_s))
    lines = [
        f"# Prediction time of {preset} (fitted at {limit:g} s)",
        "",
        "One row: median of 50 single-row calls; batch: the whole test set in one call. "
        "Parts: the largest shares of one row's time, each part timed alone. Targets: one "
        "row under 10 ms, a batch at 20,000 rows/s."
        + (" Before: the same fitted models timed with the code before the lean "
           "prediction path." if compared else "")
        + (f" Fitted without the families {exclude}." if exclude else "")
        + (" ONNX: the exported model through onnxruntime (inputs built beforehand); gap: "
           "its largest difference from the model's own predictions of the test rows."
           if exported else ""),
        "",
        "| dataset | task | test rows | levels | bags | fold models | one row (ms) "
        + ("| before (ms) " if compared else "") + "| batch (rows/s) "
        + ("| before (rows/s) " if compared else "") + "| largest parts of one row |"
        + ("ONNX one row (ms) | ONNX batch (rows/s) | ONNX gap |" if exported else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|---|" if compared else "")
        + ("---|---|---|" if exported else ""),
    ]
    for row in frame.itertuples():
        lines.append(
            f"| {row.dataset} | {row.task} | {row.test_rows} | {row.levels} | {row.bags} "
            f"| {row.fold_models} | {row.one_row_ms:.1f} "
            + (f"| {row.before_ms:.1f} " if compared else "")
            + f"| {row.batch_rows_per_s:,.0f} "
            + (f"| {row.before_rows:,.0f} " if compared else "") + f"| {row.parts} |"
            + (f" {row.onnx_one_row_ms:.2f} | {row.onnx_batch_rows_per_s:,.0f} "
               f"| {row.onnx_max_gap:.1e} |" if exported else ""))
    lines += ["", f"Median one row: {frame.one_row_ms.median():.1f} ms"
                  + (f" (before: {frame.before_ms.median():.1f} ms)" if compared else "")
                  + f"; median batch: {frame.batch_rows_per_s.median():,.0f} rows/s"
                  + (f" (before: {frame.before_rows.median():,.0f})" if compared else "")
                  + "."
                  + (f" ONNX: median one row {frame.onnx_one_row_ms.median():.2f} ms, median "
                     f"batch {frame.onnx_batch_rows_per_s.median():,.0f} rows/s."
                     if exported else ""), "",
              f"Written by `python benchmarks/bench_predict.py --preset {preset} "
              f"--limit {limit:g}" + (" --models DIR --before CSV" if compared else "")
              + (" --onnx" if exported else "")
              + (f" --exclude {','.join(exclude)}" if exclude else "") + "`."]
    Path(path).write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS))
    parser.add_argument("--preset", default="best_quality")
    parser.add_argument("--limit", type=float, default=60)
    parser.add_argument("--models", default=None)
    parser.add_argument("--before", default=None)
    parser.add_argument("--csv", default=str(HERE / "results" / "predict.csv"))
    parser.add_argument("--out", default=str(HERE / "results" / "predict.md"))
    parser.add_argument("--onnx", action="store_true")
    parser.add_argument("--exclude", default=None, help="families to fit without")
    args = parser.parse_args()
    exclude = None if args.exclude is None else args.exclude.split(",")
    rows = []
    for name in args.datasets.split(","):
        rows.append(run(name, args.preset, args.limit, args.models, exclude, args.onnx))
        print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(args.csv, index=False)
    before = None if args.before is None else pd.read_csv(args.before)
    write(frame, args.out, args.preset, args.limit, before, exclude)


if __name__ == "__main__":
    main()
