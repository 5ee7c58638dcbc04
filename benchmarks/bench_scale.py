"""AutoStack's time limit and memory from 10,000 rows to 5 million, and on wide tables.

Each cell (table x preset x time limit) fits in a process of its own, which this script
watches: the fit's seconds against the limit, the peak resident memory of the whole process
tree (sampled every 0.2 s with psutil), and the test score, next to LightGBM's defaults fitted
on the same rows (in a process of their own, once per table) and the table's size in memory.
The targets (not timed tests: they need an idle machine): every fit within
``limit x 1.02 + 2 s``, also with a second process keeping one core busy (``--load``); peak
memory within ``4 x the table + 1.5 GB``; best_quality scoring at least LightGBM's defaults
wherever those fit within the limit; a model from a 5-million-row table at 300 s.

Tables (deterministic, from a seed):

- ``synthetic_<rows>``: the shape a user brings, ten numeric columns and two string columns
  of 50 and 6 levels, a binary target with a known signal (main effects, an interaction,
  the string levels' effects) and logistic noise; 100,000 test rows from the same generator;
- ``diamonds_<rows>``: the shared ``diamonds`` table (regression) repeated to that many rows
  with 1% noise on its numbers and shuffled categories kept, tested on the original's
  held-out quarter;
- ``wide_numeric``: 500 rows of 3,000 numeric columns (five informative), tested on
  2,000 more;
- ``wide_strings``: 20,000 rows of 50 string columns of 10,000 levels (two informative).

Usage::

    python benchmarks/bench_scale.py [--tables synthetic_10000,...] [--presets ...]
        [--limits 30,60,300] [--load] [--csv benchmarks/results/scale.csv]
        [--out benchmarks/results/scale.md] [--raw CSV]

Rows are appended to the CSV one cell at a time (a long run can be split); ``--raw`` only
summarises a CSV into the markdown table.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DEFAULT_TABLES = ["synthetic_10000", "synthetic_100000", "synthetic_1000000",
                  "synthetic_5000000", "diamonds_1000000", "wide_numeric", "wide_strings"]
TEST_ROWS = 100_000
COLUMNS = ["table", "rows", "columns", "task", "table_mb", "preset", "limit", "load",
           "fit_seconds", "peak_tree_mb", "score", "models_ok", "n_levels", "bagging",
           "n_folds", "error"]


# ---- the tables ----------------------------------------------------------------------------


def synthetic(n_rows, seed):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n_rows, 10)), columns=[f"x{i}" for i in range(10)])
    levels = np.array([f"c{i}" for i in range(50)], dtype=object)
    X["s50"] = levels[rng.integers(0, 50, n_rows)]
    X["s6"] = np.array(list("abcdef"), dtype=object)[rng.integers(0, 6, n_rows)]
    effects = dict(zip(levels, np.random.default_rng(0).normal(size=50)))
    logit = (X["x0"] - 0.5 * X["x1"] + X["x2"] * X["x3"] + X["s50"].map(effects)
             + (X["s6"] == "a"))
    y = (logit + rng.logistic(size=n_rows) > 0).astype(int).to_numpy()
    return X, y


def diamonds(n_rows, seed):
    from _data import load_frame

    _, X_train, X_test, y_train, y_test = load_frame("diamonds")
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(X_train), n_rows)
    X = X_train.iloc[rows].reset_index(drop=True)
    numeric = X.select_dtypes("number").columns
    X[numeric] = X[numeric] * (1 + 0.01 * rng.normal(size=(n_rows, len(numeric))))
    y = y_train[rows] * (1 + 0.01 * rng.normal(size=n_rows))
    return (X, y), (X_test.reset_index(drop=True), y_test)


def wide_numeric(seed):
    rng = np.random.default_rng(seed)
    # 2,000 test rows: the AUC of 100 would move by several points between runs.
    X = pd.DataFrame(rng.normal(size=(2500, 3000)), columns=[f"f{i}" for i in range(3000)])
    y = (X.iloc[:, :5].sum(axis=1) + rng.normal(size=2500) > 0).astype(int).to_numpy()
    return (X.iloc[:500], y[:500]), (X.iloc[500:].reset_index(drop=True), y[500:])


def wide_strings(seed):
    rng = np.random.default_rng(seed)
    n_rows = 25_000
    codes = rng.integers(0, 10_000, size=(n_rows, 50))
    X = pd.DataFrame({f"s{j}": pd.Series(codes[:, j]).map("v{}".format).astype(object)
                      for j in range(50)})
    effects = np.random.default_rng(0).normal(size=10_000)
    y = (effects[codes[:, 0]] + effects[codes[:, 1]] + rng.normal(size=n_rows) > 0)
    y = y.astype(int)
    return (X.iloc[:20_000], y[:20_000]), (X.iloc[20_000:].reset_index(drop=True), y[20_000:])


def table(name):
    """``(X_train, y_train), (X_test, y_test), task`` of a table name."""
    kind, _, size = name.rpartition("_")
    if name == "wide_numeric":
        return (*wide_numeric(0), "binary")
    if name == "wide_strings":
        return (*wide_strings(0), "binary")
    if kind == "synthetic":
        return synthetic(int(size), 0), synthetic(TEST_ROWS, 1), "binary"
    if kind == "diamonds":
        return (*diamonds(int(size), 0), "regression")
    raise ValueError(f"Unknown table {name!r}")


def score(task, y, prediction):
    from sklearn.metrics import mean_squared_error, roc_auc_score

    if task == "regression":
        return float(np.sqrt(mean_squared_error(y, prediction)))
    return float(roc_auc_score(y, prediction))


# ---- one cell, in its own process ----------------------------------------------------------


def run_cell(name, preset, limit):
    """Fit one cell and return its record (run in a child process)."""
    (X, y), (X_test, y_test), task = table(name)
    record = {"table": name, "rows": len(X), "columns": X.shape[1], "task": task,
              "table_mb": X.memory_usage(deep=True).sum() / 2**20}
    start = time.monotonic()
    if preset == "lightgbm":
        import lightgbm

        cats = {c: pd.CategoricalDtype(pd.unique(X[c].dropna())) for c in
                X.select_dtypes(exclude="number").columns}

        def native(frame):
            return frame.astype(cats) if cats else frame

        cls = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
        model = cls(n_jobs=2, verbose=-1, random_state=0).fit(native(X), y)
        fit = time.monotonic() - start
        predict = (model.predict if task == "regression"
                   else lambda frame: model.predict_proba(frame)[:, 1])
        record.update(fit_seconds=fit, score=score(task, y_test, predict(native(X_test))))
        return record
    from skstack import AutoStackClassifier, AutoStackRegressor

    cls = AutoStackRegressor if task == "regression" else AutoStackClassifier
    scoring = "neg_root_mean_squared_error" if task == "regression" else "roc_auc"
    model = cls(presets=preset, time_limit=limit, scoring=scoring, random_state=0, n_jobs=2)
    model.fit(X, y)
    fit = time.monotonic() - start
    prediction = (model.predict(X_test) if task == "regression"
                  else model.predict_proba(X_test)[:, 1])
    summary = model.fit_summary()
    record.update(fit_seconds=fit, score=score(task, y_test, prediction),
                  models_ok=summary["models"].get("ok", 0), n_levels=summary["n_levels"],
                  bagging=summary["settings"]["bagging"],
                  n_folds=summary["settings"].get("n_folds", "auto"))
    return record


def _tree_rss(process):
    import psutil

    total = 0
    for member in [process] + process.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a child that has just ended
            total += member.memory_info().rss
    return total


def run_in_process(name, preset, limit, hard_limit):
    """Run one cell in a child process; its record with the tree's peak memory."""
    import psutil

    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_scale_{os.getpid()}.json"
    command = [sys.executable, __file__, "--_cell", name, preset, str(limit), str(out)]
    child = subprocess.Popen(command, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    watched, peak, start = psutil.Process(child.pid), 0, time.monotonic()
    while child.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, _tree_rss(watched))
        if time.monotonic() - start > hard_limit:
            child.kill()
            break
        time.sleep(0.2)
    child.wait()
    record = {"table": name, "error": f"no result (exit {child.returncode})"}
    if out.exists():
        record = json.loads(out.read_text())
        out.unlink()
    record.update(preset=preset, limit=limit, peak_tree_mb=peak / 2**20)
    return record


# ---- load: a second process keeping one core busy --------------------------------------------


def start_load():
    code = "import time\nwhile True: sum(range(10**6))"
    return subprocess.Popen([sys.executable, "-c", code])


# ---- the summary -------------------------------------------------------------------------


def summarise(frame):
    """The markdown table: one row per cell, LightGBM's score and time beside it."""
    base = frame[frame["preset"] == "lightgbm"].set_index("table")
    cells = frame[frame["preset"] != "lightgbm"].copy()
    cells["fit/limit"] = cells["fit_seconds"] / cells["limit"]
    cells["within"] = cells["fit_seconds"] <= cells["limit"] * 1.02 + 2
    cells["memory target MB"] = 4 * cells["table_mb"] + 1536
    cells["memory ok"] = cells["peak_tree_mb"] <= cells["memory target MB"]
    cells["lightgbm"] = cells["table"].map(base["score"])
    cells["lightgbm fit s"] = cells["table"].map(base["fit_seconds"])
    higher = cells["task"] != "regression"
    cells["vs lightgbm"] = np.where(higher, cells["score"] - cells["lightgbm"],
                                    cells["lightgbm"] - cells["score"])
    columns = ["table", "rows", "columns", "preset", "limit", "load", "fit_seconds",
               "fit/limit", "within", "peak_tree_mb", "memory target MB", "memory ok",
               "score", "lightgbm", "lightgbm fit s", "vs lightgbm", "bagging", "n_folds",
               "models_ok"]
    cells = cells[[c for c in columns if c in cells]]
    lines = ["| " + " | ".join(cells.columns) + " |",
             "|" + "---|" * len(cells.columns)]
    for _, row in cells.iterrows():
        lines.append("| " + " | ".join(_fmt(v, c in ("within", "memory ok"))
                                       for c, v in row.items()) + " |")
    fits = cells.dropna(subset=["fit_seconds"])
    best = fits[fits["preset"] == "best_quality"]
    comparable = best[best["lightgbm fit s"] <= best["limit"]]
    notes = [
        f"- Fits within limit x 1.02 + 2 s: {int(fits['within'].sum())} of {len(fits)}; "
        f"largest fit/limit {fits['fit/limit'].max():.3f}.",
        f"- Peak memory of the process tree within 4 x table + 1.5 GB: "
        f"{int(fits['memory ok'].sum())} of {len(fits)}.",
        f"- best_quality at least LightGBM's defaults where those fit within the limit: "
        f"{int((comparable['vs lightgbm'] >= 0).sum())} of {len(comparable)}.",
    ]
    errors = frame[frame["error"].notna()] if "error" in frame else frame.iloc[:0]
    if len(errors):
        notes.append(f"- Cells without a result: {len(errors)} "
                     f"({', '.join(errors['table'] + ' ' + errors['preset'].astype(str))}).")
    return "\n".join(lines + [""] + notes) + "\n"


def _fmt(value, target=False):
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else ("**no**" if target else "no")
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", default=",".join(DEFAULT_TABLES))
    parser.add_argument("--presets", default="medium_quality,best_quality")
    parser.add_argument("--limits", default="30,60,300")
    parser.add_argument("--load", action="store_true",
                        help="keep one core busy with a second process during the fits")
    parser.add_argument("--csv", default=str(HERE / "results" / "scale.csv"))
    parser.add_argument("--out", default=str(HERE / "results" / "scale.md"))
    parser.add_argument("--raw", default=None, help="only summarise this CSV")
    parser.add_argument("--_cell", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._cell:
        name, preset, limit, out = args._cell
        Path(out).write_text(json.dumps(run_cell(name, preset, float(limit))))
        return 0
    if args.raw is None:
        csv = Path(args.csv)
        for name in args.tables.split(","):
            cells = [("lightgbm", 0.0)] + [(preset, float(limit))
                                           for preset in args.presets.split(",")
                                           for limit in args.limits.split(",")]
            for preset, limit in cells:
                load = start_load() if args.load and preset != "lightgbm" else None
                try:
                    record = run_in_process(name, preset, limit, 3 * max(limit, 600) + 120)
                finally:
                    if load is not None:
                        load.kill()
                record["load"] = bool(load)
                print(json.dumps(record), flush=True)
                pd.DataFrame([record]).reindex(columns=COLUMNS).to_csv(
                    csv, mode="a", header=not csv.exists(), index=False)
    frame = pd.read_csv(args.raw or args.csv)
    frame = frame.drop_duplicates(subset=["table", "preset", "limit", "load"], keep="last")
    # The CSV may hold several runs' cells (a long grid split over runs): the last of each.
    header = ("# AutoStack at scale\n\nThe latest row of each cell of "
              f"`{Path(args.raw or args.csv).name}`, appended by runs of "
              "`python benchmarks/bench_scale.py [--tables ...] [--presets ...] "
              "[--limits ...]` (2 cores, one cell at a time); this summary written by: "
              "`python benchmarks/bench_scale.py " + " ".join(argv or sys.argv[1:]) + "`.\n\n")
    Path(args.out).write_text(header + summarise(frame))
    print(Path(args.out).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
