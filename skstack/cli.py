"""The ``skstack`` command line: fit, predict and leaderboard on CSV or parquet files.

::

    skstack fit train.csv --label target --preset best_quality --time-limit 300 -o model.skops
    skstack predict model.skops test.csv -o predictions.csv [--proba]
    skstack leaderboard model.skops [test.csv --label target]
"""

import argparse
import sys
from pathlib import Path

import pandas as pd
from pandas.api import types

__all__ = ["main"]

_MAX_CLASSES_OF_INTEGERS = 20


def read_table(path):
    """A CSV or parquet file as a DataFrame (by suffix)."""
    path = Path(path)
    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix in (".csv", ".txt"):
        return pd.read_csv(path)
    raise ValueError(f"{path}: expected a .csv or .parquet file.")


def write_table(frame, path):
    path = Path(path)
    if path.suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def infer_task(y):
    """Classification for text, boolean, categorical or few-valued integer labels."""
    if not types.is_numeric_dtype(y.dtype) or types.is_bool_dtype(y.dtype):
        return "classification"
    if types.is_integer_dtype(y.dtype) and y.nunique() <= _MAX_CLASSES_OF_INTEGERS:
        return "classification"
    return "regression"


def _split_label(frame, label):
    if label not in frame.columns:
        raise SystemExit(f"error: no column {label!r}; columns are {list(frame.columns)}")
    return frame.drop(columns=[label]), frame[label]


def _fit(args):
    from .auto import AutoStackClassifier, AutoStackRegressor

    X, y = _split_label(read_table(args.train), args.label)
    task = infer_task(y) if args.task == "auto" else args.task
    estimator = AutoStackClassifier if task == "classification" else AutoStackRegressor
    model = estimator(presets=args.preset, time_limit=args.time_limit, scoring=args.scoring,
                      random_state=args.seed, verbose=args.verbose)
    model.fit(X, y)
    model.save(args.output)
    print(f"{task} model ({args.preset}) fitted in {model.fit_time_:.1f} s, saved to "
          f"{args.output}")
    print(model.leaderboard().to_string(index=False))


def _load(path, trust):
    from .io import load

    return load(path, trusted=trust)


def _predict(args):
    model = _load(args.model, args.trust)
    X = read_table(args.data)
    if args.label and args.label in X.columns:
        X = X.drop(columns=[args.label])
    if args.proba:
        proba = model.predict_proba(X)
        out = pd.DataFrame(proba, columns=[f"proba_{c}" for c in model.classes_])
    else:
        out = pd.DataFrame({"prediction": model.predict(X)})
    write_table(out, args.output)
    print(f"{len(out)} predictions written to {args.output}")


def _leaderboard(args):
    model = _load(args.model, args.trust)
    if args.data is None:
        board = model.leaderboard()
    else:
        if not args.label:
            raise SystemExit("error: scoring DATA needs --label")
        X, y = _split_label(read_table(args.data), args.label)
        board = model.leaderboard(X, y)
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_colwidth", 60):
        print(board.to_string(index=False))


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skstack", description="Stack-ensembling AutoML with scikit-learn estimators.")
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="fit an AutoStack model on a table")
    fit.add_argument("train", help="training data, .csv or .parquet")
    fit.add_argument("--label", required=True, help="the target column")
    fit.add_argument("--preset", default="medium_quality",
                     choices=["medium_quality", "good_quality", "high_quality", "best_quality"])
    fit.add_argument("--time-limit", type=float, default=None, help="seconds for the fit")
    fit.add_argument("--scoring", default=None, help="a scikit-learn scorer name")
    fit.add_argument("--task", default="auto", choices=["auto", "classification", "regression"])
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--verbose", type=int, default=1)
    fit.add_argument("-o", "--output", required=True,
                     help="model file: .skops (safe to load) or any other suffix (joblib)")
    fit.set_defaults(run=_fit)

    predict = commands.add_parser("predict", help="predict a table with a saved model")
    predict.add_argument("model")
    predict.add_argument("data")
    predict.add_argument("-o", "--output", required=True, help=".csv or .parquet")
    predict.add_argument("--proba", action="store_true", help="class probabilities")
    predict.add_argument("--label", default=None, help="a target column to leave out")
    predict.set_defaults(run=_predict)

    board = commands.add_parser("leaderboard", help="show a saved model's leaderboard")
    board.add_argument("model")
    board.add_argument("data", nargs="?", default=None, help="test data to score on")
    board.add_argument("--label", default=None, help="the target column of DATA")
    board.set_defaults(run=_leaderboard)

    for command in (predict, board):
        command.add_argument("--trust", action="append", default=None, metavar="TYPE",
                             help="a type to trust when loading a .skops file (repeatable)")
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``)."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
