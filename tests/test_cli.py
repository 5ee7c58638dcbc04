"""The command line (skstack.cli)."""


import pandas as pd


def test_command_line(tmp_path, mixed_frame, capsys):
    from skstack.cli import infer_task, main

    X, y = mixed_frame
    frame = X.drop(columns=["when"]).assign(label=y)
    frame.iloc[:250].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[250:].to_parquet(tmp_path / "test.parquet")
    model = tmp_path / "model.skops"
    assert main(["fit", str(tmp_path / "train.csv"), "--label", "label", "--time-limit", "30",
                 "--verbose", "0", "-o", str(model)]) == 0
    assert "classification model (medium_quality)" in capsys.readouterr().out
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(tmp_path / "test.parquet"), "--label", "label",
                 "--proba", "-o", str(out)]) == 0
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["proba_no", "proba_yes"] and len(predictions) == 50
    capsys.readouterr()
    assert main(["leaderboard", str(model), str(tmp_path / "test.parquet"), "--label",
                 "label"]) == 0
    assert "test_score" in capsys.readouterr().out
    assert main(["predict", str(tmp_path / "missing.skops"), str(out), "-o", str(out)]) == 1
    assert infer_task(pd.Series([1.5, 2.0])) == "regression"
    assert infer_task(pd.Series([0, 1, 1])) == "classification"
    assert infer_task(pd.Series(["a", "b"])) == "classification"
