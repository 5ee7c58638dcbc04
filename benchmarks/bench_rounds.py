"""How many boosting rounds x learning rate early stopping keeps: the data behind
``skstack.families._base._RATE_UNITS``.

For every tabular dataset of ``../shared/datasets/`` (training part of the usual 75/25
split, ordinal-encoded): LightGBM at learning rate 0.05 (the portfolio's rate) and 0.2,
up to 10,000 rounds, early-stopped with patience 300 on a stratified 1/8 of the rows (one
bagging fold's holdout). Reported: the rounds kept, rounds x rate ("units"), the holdout
log loss or L2 and the fit time; the summary gives the units' quantiles at rate 0.05. A
fit under ``max_time`` whose time affords fewer units than the upper quartile trains at a
higher rate. Usage::

    python benchmarks/bench_rounds.py [--out benchmarks/results/rounds.md]
"""

import argparse
import sys
import warnings
from pathlib import Path
from time import perf_counter

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import load, manifest  # noqa: E402

RATES = (0.05, 0.2)


def early_stopped(name, info, rate):
    from lightgbm import LGBMClassifier, LGBMRegressor, early_stopping

    _, X, _, y, _ = load(name)
    classification = info.task != "regression"
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=1 / 8, random_state=0, stratify=y if classification else None)
    model = (LGBMClassifier if classification else LGBMRegressor)(
        learning_rate=rate, n_estimators=10_000, verbose=-1)
    start = perf_counter()
    model.fit(X_fit, y_fit, eval_set=[(X_val, y_val)],
              callbacks=[early_stopping(300, verbose=False)])
    seconds = perf_counter() - start
    (metric, value), = model.best_score_["valid_0"].items()
    return {"dataset": name, "rate": rate, "rounds": model.best_iteration_,
            "units": model.best_iteration_ * rate, metric: value, "fit_s": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    for name, info in manifest().iterrows():
        if info.n_text:  # text columns need an encoder; not a plain boosting table
            continue
        for rate in RATES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows.append(early_stopped(name, info, rate))
            print(rows[-1], file=sys.stderr, flush=True)
    frame = pd.DataFrame(rows)
    units = frame.loc[frame["rate"] == RATES[0], "units"]
    quantiles = units.quantile([0.25, 0.5, 0.75, 0.9])
    summary = (f"Rounds x rate kept by early stopping at rate {RATES[0]} over {len(units)} "
               "datasets: " + ", ".join(f"{int(q * 100)}% {v:.1f}" for q, v in quantiles.items()))
    text = frame.round(4).to_markdown(index=False) + "\n\n- " + summary + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return np.asarray(units)


if __name__ == "__main__":
    main()
