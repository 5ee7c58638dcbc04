"""
After the fit: a threshold, one member, one fast model
======================================================

What users of a fitted :class:`~skstack.AutoStackClassifier` commonly need next (see
:ref:`after-fit`): a decision threshold tuned for a label metric on an imbalanced task,
one member of the ensemble as an ordinary estimator, and the ensemble distilled into one
fast model. None of these refits a model the fit trained.

Run it with ``.venv/bin/python examples/plot_after_fit.py``.
"""

# %%
# An imbalanced task
# ------------------
# A synthetic binary task where one row in ten is positive.
from time import perf_counter

from sklearn.datasets import make_classification
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import train_test_split

from skstack import AutoStackClassifier

X, y = make_classification(
    n_samples=3000, n_features=20, n_informative=6, weights=[0.9], flip_y=0.02, random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# A threshold tuned for F1
# ------------------------
# ``decision_threshold="auto"`` picks the threshold on the ensemble's out-of-fold
# probabilities, rows that no model of the ensemble saw, so it costs no extra fit.
# ``predict_proba`` is unchanged; ``predict`` applies the threshold.
clf = AutoStackClassifier(
    presets="best_quality",
    time_limit=30,
    excluded_families=["mlp"],
    decision_threshold="auto",
    threshold_scoring="f1",
    prune=False,
    random_state=0,
).fit(X_train, y_train)
proba = clf.predict_proba(X_test)[:, 1]
print(f"tuned threshold: {clf.decision_threshold_:.3f}")
print(f"test F1 at 0.5: {f1_score(y_test, proba > 0.5):.3f}")
print(f"test F1 at the tuned threshold: {f1_score(y_test, clf.predict(X_test)):.3f}")

# %%
# One member as a Pipeline
# ------------------------
# :meth:`~skstack.AutoStackClassifier.get_model` returns one model of the ensemble with
# the column encoder in front (and the levels below it, for a stacked model). It predicts
# on the same raw input; ``prune=False`` above kept the models the ensemble does not use.
lightgbm = clf.get_model("lightgbm")
print(list(lightgbm.named_steps))
member_proba = lightgbm.predict_proba(X_test)[:, 1]
print(f"LightGBM bag alone, test ROC AUC: {roc_auc_score(y_test, member_proba):.4f}")
print(f"whole ensemble, test ROC AUC:     {roc_auc_score(y_test, proba):.4f}")

# %%
# One fast model: distillation
# ----------------------------
# :meth:`~skstack.AutoStackClassifier.distill` trains one LightGBM on the ensemble's
# out-of-fold probabilities and reports, on a held-out fifth of the training rows, the
# student's score next to the ensemble's and that of the same model trained on the labels.
student = clf.distill(X_train, y_train, family="lightgbm", time_limit=15, random_state=0)
report = clf.distillation_
print({key: round(value, 4) for key, value in report.items() if key.endswith("score")})
print(f"student, test ROC AUC: {roc_auc_score(y_test, student.predict_proba(X_test)[:, 1]):.4f}")


# %%
# The student is one model behind the encoder, so it predicts a row far faster.
def seconds_per_call(model, rows, calls=20):
    start = perf_counter()
    for _ in range(calls):
        model.predict_proba(rows)
    return (perf_counter() - start) / calls


one_row = X_test[:1]
print(f"one row: ensemble {1000 * seconds_per_call(clf, one_row):.1f} ms, "
      f"student {1000 * seconds_per_call(student, one_row):.1f} ms")
