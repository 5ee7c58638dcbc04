"""What users do after the first fit: the decision threshold, class weights, one model out."""

import numpy as np
import pytest
from _models import TINY
from sklearn.datasets import make_classification
from sklearn.metrics import f1_score, log_loss, make_scorer, recall_score
from sklearn.model_selection import train_test_split

from skstack import AutoStackClassifier


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(n_samples=3000, n_features=8, n_informative=4,
                               weights=[0.9, 0.1], flip_y=0.05, random_state=0)
    return train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)


def _fit(X, y, sample_weight=None, **params):
    params = {"presets": "best_quality", "portfolio": TINY, "n_folds": 5,
              "random_state": 0, **params}
    return AutoStackClassifier(**params).fit(X, y, sample_weight=sample_weight)


def test_a_tuned_threshold_raises_f1_without_refitting(imbalanced):
    X_train, X_test, y_train, y_test = imbalanced
    plain = _fit(X_train, y_train)
    tuned = _fit(X_train, y_train, decision_threshold="auto")
    assert plain.decision_threshold_ is None
    assert 0.0 < tuned.decision_threshold_ < 0.5  # the rare class needs a lower bar
    # The same ensemble: probabilities unchanged, only the labels move.
    np.testing.assert_allclose(tuned.predict_proba(X_test), plain.predict_proba(X_test))
    np.testing.assert_array_equal(plain.predict(X_test),
                                  plain.classes_[plain.predict_proba(X_test).argmax(1)])
    assert f1_score(y_test, tuned.predict(X_test)) > f1_score(y_test, plain.predict(X_test))


def test_a_fixed_threshold_and_other_label_metrics(imbalanced):
    X_train, X_test, y_train, y_test = imbalanced
    clf = _fit(X_train, y_train, decision_threshold=0.3)
    proba = clf.predict_proba(X_test)[:, 1]
    assert clf.decision_threshold_ == 0.3
    np.testing.assert_array_equal(clf.predict(X_test), (proba > 0.3).astype(int))
    # String labels, with a scorer told the positive one. Recall alone is best when
    # every out-of-fold positive is above the threshold: a low one.
    labels = np.array(["no", "yes"])
    recall = make_scorer(recall_score, pos_label="yes")
    clf = _fit(X_train, labels[y_train], decision_threshold="auto", threshold_scoring=recall)
    assert clf.decision_threshold_ < 0.1
    assert recall_score(labels[y_test], clf.predict(X_test), pos_label="yes") > 0.95


def test_threshold_errors_come_before_the_fit(imbalanced):
    X_train, _, y_train, _ = imbalanced
    with pytest.raises(ValueError, match="binary classification; y has 3 classes"):
        _fit(X_train, np.arange(len(y_train)) % 3, decision_threshold="auto")
    with pytest.raises(ValueError, match="does not change"):
        _fit(X_train, y_train, decision_threshold="auto", threshold_scoring="roc_auc")
    with pytest.raises(ValueError, match=r"cannot score the labels \['no', 'yes'\]"):
        _fit(X_train, np.array(["no", "yes"])[y_train], decision_threshold="auto")
    with pytest.raises(ValueError, match="decision_threshold"):
        _fit(X_train, y_train, decision_threshold=1.5)


def test_balanced_class_weight_raises_the_minority_recall(imbalanced):
    X_train, X_test, y_train, y_test = imbalanced
    plain = _fit(X_train, y_train)
    balanced = _fit(X_train, y_train, class_weight="balanced")
    assert (recall_score(y_test, balanced.predict(X_test))
            > recall_score(y_test, plain.predict(X_test)) + 0.05)


def test_class_weight_is_a_sample_weight_per_class(imbalanced):
    X_train, X_test, y_train, _ = imbalanced
    weighted = _fit(X_train, y_train, class_weight={0: 1.0, 1: 4.0})
    by_rows = _fit(X_train, y_train, sample_weight=np.where(y_train == 1, 4.0, 1.0))
    np.testing.assert_allclose(weighted.predict_proba(X_test), by_rows.predict_proba(X_test))
    # With sample_weight, the two multiply.
    both = _fit(X_train, y_train, sample_weight=np.where(y_train == 1, 2.0, 1.0),
                class_weight={0: 1.0, 1: 2.0})
    np.testing.assert_allclose(both.predict_proba(X_test), weighted.predict_proba(X_test))
    plain = _fit(X_train, y_train)
    assert not np.allclose(plain.predict_proba(X_test), weighted.predict_proba(X_test))


def test_one_model_out_predicts_like_its_leaderboard_row(mixed_frame):
    X, y = mixed_frame  # a frame of mixed columns: the member needs the encoder too
    clf = AutoStackClassifier(presets="best_quality", portfolio=TINY, n_folds=3,
                              n_stack_levels=1, dynamic_stacking=False, prune=False,
                              random_state=0).fit(X, y)
    board = clf.leaderboard(X, y).set_index(["level", "model"])
    assert {1, 2} <= set(board.index.get_level_values("level"))
    for (level, name), row in board.drop(index=[(3, "ensemble")]).iterrows():
        assert row["status"] == "ok"
        member = clf.get_model(name)
        assert member.steps[-1][0] == name and len(member.steps) == level + 1
        proba = member.predict_proba(X)
        assert proba.shape == (len(X), len(clf.classes_))
        assert set(member.predict(X)) <= set(clf.classes_)
        np.testing.assert_allclose(-log_loss(y, proba, labels=clf.classes_),
                                   row["test_score"], rtol=1e-9)
    with pytest.raises(ValueError, match=r"No model named 'nope'; the leaderboard's"):
        clf.get_model("nope")


def test_a_pruned_model_says_why_it_is_absent(imbalanced):
    X_train, _, y_train, _ = imbalanced
    clf = _fit(X_train, y_train, n_stack_levels=0)
    board = clf.leaderboard()
    unused = board[(board["weight"] == 0) & (board["model"] != "ensemble")]["model"]
    for name in unused:
        with pytest.raises(ValueError, match="pruned"):
            clf.get_model(name)
    used = board[board["weight"] > 0]["model"].iloc[0]
    np.testing.assert_array_equal(clf.get_model(used).predict(X_train).shape,
                                  (len(X_train),))
