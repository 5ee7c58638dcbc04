"""A torch multilayer perceptron through skorch, as conformant scikit-learn estimators.

torch and skorch are imported when a model is fitted, never at import time (the ``nn``
extra). Categorical columns reach the network one-hot encoded through the ``mlp`` family's
preprocessing; the estimators themselves take numeric input.
"""

import functools
import threading
import time
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._utils import ScoreMixin

__all__ = ["MLPClassifier", "MLPRegressor"]


def _resolve_device(device):
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _make_module(n_features, n_outputs, hidden_sizes, dropout, seed=0):
    """The network, its weights and dropout drawn from its own generator seeded ``seed``.

    Not from torch's global generator: folds train side by side in threads, and a shared
    generator would make each one's draws depend on the other's.
    """
    import math

    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(int(seed))
    layers, width = [], n_features
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), nn.ReLU(), _Dropout(dropout, generator)]
        width = size
    layers.append(nn.Linear(width, n_outputs))
    for layer in layers:
        if isinstance(layer, nn.Linear):  # torch's default initialisation, seeded
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return nn.Sequential(*layers)


def _dropout_class():
    from torch import nn

    class SeededDropout(nn.Module):
        """Dropout whose masks come from ``generator`` (``nn.Dropout`` uses the global one)."""

        def __init__(self, p, generator):
            super().__init__()
            self.p, self.generator = p, generator

        def forward(self, x):
            if not self.training or self.p == 0:
                return x
            import torch

            keep = torch.rand(x.shape, generator=self.generator) >= self.p
            return x * keep.to(x.device) / (1 - self.p)

    return SeededDropout


def _Dropout(p, generator):  # noqa: N802 - a class, defined once torch is imported
    global _DROPOUT
    if _DROPOUT is None:
        _DROPOUT = _dropout_class()
    return _DROPOUT(p, generator)


_DROPOUT = None


class _BaseMLP(BaseEstimator):
    """Shared fitting of :class:`MLPClassifier` and :class:`MLPRegressor`."""

    _parameter_constraints: dict = {
        "hidden_sizes": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [None, Interval(Real, 0, 1, closed="neither")],
        "device": [str],
        "n_jobs": [None, Integral],
        "max_time": [None, Interval(Real, 0, None, closed="left")],
        "random_state": [None, Interval(Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        hidden_sizes=(256, 128),
        dropout=0.1,
        learning_rate=1e-3,
        weight_decay=1e-5,
        batch_size=256,
        max_epochs=100,
        patience=10,
        validation_fraction=None,
        device="auto",
        n_jobs=None,
        max_time=None,
        random_state=None,
        verbose=0,
    ):
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.n_jobs = n_jobs
        self.max_time = max_time
        self.random_state = random_state
        self.verbose = verbose

    def _encode_y(self, y):  # pragma: no cover - implemented by subclasses
        raise NotImplementedError

    def fit(self, X, y, X_val=None, y_val=None):
        """Train the network, early-stopping on ``(X_val, y_val)`` when given.

        Without a validation set, ``validation_fraction`` of the rows is held out for early
        stopping when set; otherwise all ``max_epochs`` run.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric input.
        y : array-like of shape (n_samples,)
            Target.
        X_val : array-like of shape (n_val, n_features), default=None
            Validation input for early stopping.
        y_val : array-like of shape (n_val,), default=None
            Validation target.

        Returns
        -------
        self : estimator
            The fitted network.
        """
        # The clock starts before the imports: importing torch may take seconds.
        deadline = None if self.max_time is None else time.monotonic() + self.max_time
        import torch
        from skorch.dataset import ValidSplit
        from skorch.helper import predefined_split

        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=not self._classifier)
        y_model = self._encode_y(y)
        seed = 0 if self.random_state is None else int(self.random_state)
        callbacks, train_split = [], None
        if X_val is not None:
            X_val = validate_data(self, X_val, dtype=np.float32, reset=False)
            train_split = predefined_split(_dataset(X_val, self._encode_y(y_val, fitted=True)))
        elif self.validation_fraction is not None and len(y) >= 10:
            train_split = ValidSplit(self.validation_fraction, stratified=self._classifier,
                                     random_state=seed)
        if train_split is not None:
            callbacks.append(("early_stopping", _early_stopping(self.patience)))
        if deadline is not None:
            callbacks.append(("deadline", _deadline_callback(deadline)))
        net = _net_class(self._net)(
            module=_make_module,
            module__n_features=X.shape[1],
            module__n_outputs=self._n_outputs(),
            module__hidden_sizes=tuple(self.hidden_sizes),
            module__dropout=self.dropout,
            module__seed=seed,
            criterion=getattr(torch.nn, self._loss),
            optimizer=_eager_adamw(),
            optimizer__weight_decay=self.weight_decay,
            lr=self.learning_rate,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=train_split,
            callbacks=callbacks,
            device=_resolve_device(self.device),
            iterator_train__shuffle=True,
            iterator_train__generator=torch.Generator().manual_seed(seed + 1),
            verbose=self.verbose,
        )
        self.device_ = net.device
        with _torch_threads(self.n_jobs), _dynamo_left_unloaded(net.optimizer):
            net.fit(X, y_model)
        if getattr(net, "interrupted_", False):
            raise KeyboardInterrupt
        history = net.history
        # An epoch that the deadline cut short has no validation loss.
        losses = [row["valid_loss"] for row in history if "valid_loss" in row]
        if train_split is not None and losses:
            self.best_epoch_ = int(np.argmin(losses)) + 1
        else:
            self.best_epoch_ = len(history)
        self.n_epochs_ = len(history)
        # Only the weights are kept, as NumPy arrays: predicting needs no torch, is fast on
        # single rows, and the fitted model pickles and persists safely (skops).
        self.coefs_, self.intercepts_ = _weights(net.module_)
        return self

    def _forward(self, X):
        """The network's output for validated ``X``: ReLU layers, then the linear output."""
        # float64 makes the result independent of how many BLAS threads run the products.
        hidden = X.astype(np.float64)
        for coef, intercept in zip(self.coefs_[:-1], self.intercepts_[:-1]):
            hidden = np.maximum(hidden @ coef + intercept, 0.0)
        return hidden @ self.coefs_[-1] + self.intercepts_[-1]

    def _predict_input(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=np.float32, reset=False)


def _weights(module):
    """``(coefs, intercepts)`` of the linear layers of a trained module, as NumPy arrays."""
    from torch import nn

    linears = [layer for layer in module.modules() if isinstance(layer, nn.Linear)]
    coefs = [layer.weight.detach().cpu().double().numpy().T.copy() for layer in linears]
    intercepts = [layer.bias.detach().cpu().double().numpy().copy() for layer in linears]
    return coefs, intercepts


def _deadline_callback(deadline):
    """A skorch callback that ends training before ``deadline``.

    Training stops after an epoch when another one would end past the deadline, and within
    an epoch (after a batch) once the deadline has passed: one epoch of a large data set,
    or the seconds that importing torch took, would otherwise overrun it.
    """
    from skorch.callbacks import Callback

    # skorch ends fit quietly on KeyboardInterrupt and still runs on_train_end, where early
    # stopping restores the best weights of the epochs that finished.
    class StopAtDeadline(Callback):
        def on_epoch_begin(self, net, **kwargs):
            self.epoch_start_ = time.monotonic()

        def on_batch_end(self, net, training=False, **kwargs):
            if training and time.monotonic() > deadline:
                raise StopTraining

        def on_epoch_end(self, net, **kwargs):
            now = time.monotonic()
            if now + (now - self.epoch_start_) > deadline:
                raise StopTraining

    return StopAtDeadline()


def _early_stopping(patience):
    """skorch's early stopping on the validation loss (restoring the best epoch's
    weights), ending training with :class:`StopTraining` rather than a bare
    KeyboardInterrupt."""
    from skorch.callbacks import EarlyStopping

    class StopWhenStale(EarlyStopping):
        def on_epoch_end(self, net, **kwargs):
            try:
                super().on_epoch_end(net, **kwargs)
            except KeyboardInterrupt:
                if self.misses_ != self.patience:
                    raise  # a real Ctrl-C during the callback
                raise StopTraining from None

    return StopWhenStale(patience=patience, monitor="valid_loss", load_best=True)


class StopTraining(KeyboardInterrupt):
    """How the deadline and early-stopping callbacks end skorch's training loop (which
    ends on any KeyboardInterrupt): a subclass, so that a real Ctrl-C can be told apart."""


_NETS = {}


def _net_class(name):
    """skorch's ``name`` net, remembering a real Ctrl-C that its ``fit`` swallows.

    skorch ends ``fit`` quietly on KeyboardInterrupt (for interactive use); inside a
    larger fit, Ctrl-C must stop the whole fit. The net records it (``interrupted_``) and
    :meth:`_BaseMLP.fit` raises it again once skorch has finished its epoch's bookkeeping.
    """
    if name not in _NETS:
        import skorch

        class Net(getattr(skorch, name)):
            def fit_loop(self, *args, **kwargs):
                try:
                    return super().fit_loop(*args, **kwargs)
                except StopTraining:
                    raise
                except KeyboardInterrupt:
                    self.interrupted_ = True
                    raise

        Net.__name__ = Net.__qualname__ = name
        _NETS[name] = Net
    return _NETS[name]


@contextmanager
def _torch_threads(n_jobs):
    """Run torch with ``n_jobs`` threads (a process-wide setting), restored afterwards."""
    import torch

    if n_jobs is None or n_jobs < 1:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_jobs)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@functools.cache
def _eager_adamw():
    """``torch.optim.AdamW`` whose ``step`` does not import ``torch._dynamo``.

    torch wraps an optimizer's ``step`` in a function that imports ``torch._dynamo`` on
    every call (to mark graph breaks for ``torch.compile``) and turns gradients off. The
    network is never compiled: the class calls the update itself under ``no_grad``, the
    same arithmetic (its predictions equal those of ``torch.optim.AdamW``). Where a torch
    release has no such wrapper, its ``step`` is used as it is.
    """
    import torch

    base = torch.optim.AdamW
    update = getattr(base.step, "__wrapped__", None)

    class EagerAdamW(base):
        def step(self, closure=None):
            if update is None:
                return super().step(closure)
            with torch.no_grad():
                return update(self, closure)

    EagerAdamW.__name__ = EagerAdamW.__qualname__ = "AdamW"
    return EagerAdamW


_DYNAMO_LOCK = threading.Lock()
_DYNAMO = {"fits": 0, "marks": []}  # fits inside _dynamo_left_unloaded; the marks set


def _dynamo_wrapped(optimizer):
    """The functions that decorators wrap in the classes of ``optimizer`` and in their
    modules (the functional updates): among them, those ``torch._disable_dynamo`` wraps,
    whose wrapper imports ``torch._dynamo`` on its first call unless the function carries
    its disabled version as ``__dynamo_disable``."""
    import sys

    namespaces = []
    for klass in optimizer.__mro__[:-1]:
        if klass.__module__.startswith("torch."):
            namespaces += [vars(klass), vars(sys.modules[klass.__module__])]
    return list({id(fn): fn for namespace in namespaces for value in namespace.values()
                 if callable(fn := getattr(value, "__wrapped__", None))}.values())


@contextmanager
def _dynamo_left_unloaded(optimizer):
    """Train without importing ``torch._dynamo`` when nothing else has.

    torch's optimizers mark their methods as never compiled through a wrapper that
    imports ``torch._dynamo`` on its first call: 144 MB of memory for the process's life
    and 3 s on two cores, for a network that is never compiled. Inside this block the
    wrapped functions carry themselves as their disabled version (the wrapper's cache),
    so the import never happens; the marks are removed afterwards, so that a user's own
    ``torch.compile`` later in the process behaves as torch intends. Where torch works
    otherwise, the import simply happens, as before.
    """
    import sys

    if "torch._dynamo" in sys.modules:
        yield
        return
    with _DYNAMO_LOCK:
        if _DYNAMO["fits"] == 0:  # the first of the fits side by side marks
            _DYNAMO["marks"] = [fn for fn in _dynamo_wrapped(optimizer)
                                if getattr(fn, "__dynamo_disable", None) is None]
            for fn in _DYNAMO["marks"]:
                fn.__dynamo_disable = fn
        _DYNAMO["fits"] += 1
    try:
        yield
    finally:
        with _DYNAMO_LOCK:
            _DYNAMO["fits"] -= 1
            if _DYNAMO["fits"] == 0:  # the last one unmarks
                for fn in _DYNAMO["marks"]:
                    if getattr(fn, "__dynamo_disable", None) is fn:
                        del fn.__dynamo_disable


def _dataset(X, y):
    from skorch.dataset import Dataset

    return Dataset(X, y)


class MLPClassifier(ScoreMixin, ClassifierMixin, _BaseMLP):
    """A torch multilayer perceptron classifier (skorch), seeded and silent by default.

    Fully connected ReLU layers with dropout, AdamW, cross-entropy; labels of any type are
    encoded for the network and decoded again. Early stopping on a validation set: the one
    :meth:`fit` receives (a bagging fold's held-out rows, through
    :class:`~skstack.families.FamilyModel`) or ``validation_fraction`` of the rows; the
    best epoch's weights are kept. Runs on a GPU when ``device="auto"`` finds one.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(256, 128)
        Widths of the hidden layers.
    dropout : float, default=0.1
        Dropout after every hidden layer.
    learning_rate : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=1e-5
        AdamW weight decay.
    batch_size : int, default=256
        Mini-batch size.
    max_epochs : int, default=100
        Maximum number of epochs.
    patience : int, default=10
        Epochs without validation improvement before stopping.
    validation_fraction : float, default=None
        Rows held out for early stopping when :meth:`fit` gets no validation set; None
        trains all ``max_epochs``.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
    n_jobs : int, default=None
        torch threads while fitting; None keeps torch's setting.
    max_time : float, default=None
        Seconds of training after which the epoch under way is the last.
    random_state : int, default=None
        Seed of the weights and batches (None means 0: fits are reproducible).
    verbose : int, default=0
        skorch's epoch log.

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrix of every linear layer, ``(n_in, n_out)``, as NumPy arrays: prediction
        runs without torch.
    intercepts_ : list of ndarray
        Bias of every linear layer.
    device_ : str
        Where the network trained (``"cpu"``, ``"cuda"``...).
    n_epochs_ : int
        Epochs trained.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    best_epoch_ : int
        Epochs kept (the best validation epoch, or all epochs without validation).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skstack.families import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(max_epochs=60, learning_rate=1e-2, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    _classifier = True
    _net, _loss = "NeuralNetClassifier", "CrossEntropyLoss"

    def _encode_y(self, y, fitted=False):
        if not fitted:
            check_classification_targets(y)
            self.classes_, codes = np.unique(y, return_inverse=True)
            return codes.astype(np.int64)
        y = np.asarray(y)
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _n_outputs(self):
        return len(self.classes_)

    def predict_proba(self, X):
        """Class probabilities (softmax of the network output).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric input.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        # In float64: float32 probabilities miss a sum of 1 by more than metrics allow.
        logits = self._forward(self._predict_input(X)).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric input.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Class labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class MLPRegressor(ScoreMixin, RegressorMixin, _BaseMLP):
    """A torch multilayer perceptron regressor (skorch), seeded and silent by default.

    The target is standardised for training and mapped back at predict time. See
    :class:`MLPClassifier` for the network, early stopping and parameters.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(256, 128)
        Widths of the hidden layers.
    dropout : float, default=0.1
        Dropout after every hidden layer.
    learning_rate : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=1e-5
        AdamW weight decay.
    batch_size : int, default=256
        Mini-batch size.
    max_epochs : int, default=100
        Maximum number of epochs.
    patience : int, default=10
        Epochs without validation improvement before stopping.
    validation_fraction : float, default=None
        Rows held out for early stopping when :meth:`fit` gets no validation set.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
    n_jobs : int, default=None
        torch threads while fitting; None keeps torch's setting.
    max_time : float, default=None
        Seconds of training after which the epoch under way is the last.
    random_state : int, default=None
        Seed of the weights and batches (None means 0).
    verbose : int, default=0
        skorch's epoch log.

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrix of every linear layer, ``(n_in, n_out)``, as NumPy arrays: prediction
        runs without torch.
    intercepts_ : list of ndarray
        Bias of every linear layer.
    device_ : str
        Where the network trained (``"cpu"``, ``"cuda"``...).
    n_epochs_ : int
        Epochs trained.
    best_epoch_ : int
        Epochs kept.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skstack.families import MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MLPRegressor(max_epochs=80, learning_rate=1e-2, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.4
    True
    """

    _classifier = False
    _net, _loss = "NeuralNetRegressor", "MSELoss"

    def _encode_y(self, y, fitted=False):
        y = np.asarray(y, dtype=np.float64)
        if not fitted:
            self._y_mean, self._y_scale = y.mean(), y.std() or 1.0
        return ((y - self._y_mean) / self._y_scale).astype(np.float32).reshape(-1, 1)

    def _n_outputs(self):
        return 1

    def predict(self, X):
        """Predicted values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric input.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predictions.
        """
        scaled = self._forward(self._predict_input(X)).ravel()
        return scaled * self._y_scale + self._y_mean
