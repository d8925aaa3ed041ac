"""`ActscopeClassifier`: an actscope ensemble as a scikit-learn classifier.

``fit`` trains through the library's one training loop (`actscope.training.fit`) on any
engine, so the networks are the ones an experiment with the same activation, architecture,
optimiser and seeds trains; ``predict_proba`` is the mean of the members' probabilities.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from actscope.data.generators import Dataset
from actscope.engines import get_engine
from actscope.estimators import _settings as st
from actscope.experiment.arms import make_engine
from actscope.nn.params import as_numpy
from actscope.training import fit


class _Training(Dataset):
    """The data of one ``fit``: the training split alone (no test split to evaluate)."""

    @property
    def splits(self) -> list[str]:
        return ["train"]


class ActscopeClassifier(ClassifierMixin, BaseEstimator):
    """An ensemble of small networks with any actscope activation, as a scikit-learn classifier.

    Parameters
    ----------
    activation : str or sequence of str, default="relu"
        A registered name (``actscope.list_activations()``), a parameterised one
        (``"leaky_relu(0.1)"``), a formula in ``x`` (``"x * tanh(log(1 + exp(x)))"`` or
        ``"f(x) = ..."``), or one of these per hidden layer.
    hidden : int or sequence of int, default=(8, 8)
        The widths of the hidden layers.
    n_members : int, default=5
        Networks in the ensemble, trained in lock-step from seeds ``random_state``,
        ``random_state + 1``, ...; ``predict_proba`` is their mean.
    optimizer : str, default="adam"
        ``"sgd"``, ``"momentum"``, ``"nesterov"`` or ``"adam"`` (``actscope.training.OPTIMIZERS``).
    lr : float, default=0.01
        The learning rate.
    epochs : int, default=200
        Passes over the training data (every member has its own batch order).
    batch_size : int, default=32
        Minibatch size (the whole set when it is larger).
    l2 : float, default=0.0
        L2 penalty ``l2 / 2 * sum W**2`` on the weights.
    init : str, default="auto"
        The init scheme (``"auto"``: He for the ReLU family, Xavier otherwise).
    engine : str, default="numpy"
        The engine that trains (``actscope.list_engines()``); predictions are computed by
        the NumPy engine, in float64, from the trained parameters.
    random_state : int, RandomState instance or None, default=None
        The first member's seed (see ``n_members``); None draws it.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        The column names, when ``X`` had string column names.
    network_ : actscope.MLPSpec
        The architecture (canonical activation names).
    params_ : list of actscope.Layer
        The trained parameters, ``W`` of shape (n_members, fan_in, fan_out), float64.
    seeds_ : list of int
        One seed per member.
    diverged_ : ndarray of shape (n_members,)
        Members whose loss stopped being finite (left out of the predictions).
    loss_curve_ : ndarray of shape (epochs,)
        Per epoch, the mean over the kept members of their running training loss.
    history_ : actscope.training.History
        Every per-epoch record of the fit, per member.
    n_iter_ : int
        The epochs trained.
    """

    _parameter_constraints: dict = {
        "activation": [str, list, tuple],
        "hidden": ["array-like", Interval(Integral, 1, None, closed="left")],
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [str],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "l2": [Interval(Real, 0, None, closed="left")],
        "init": [str],
        "engine": [str],
        "random_state": ["random_state"],
    }

    def __init__(self, activation="relu", hidden=(8, 8), n_members=5, optimizer="adam", lr=0.01,
                 epochs=200, batch_size=32, l2=0.0, init="auto", engine="numpy", random_state=None):
        self.activation = activation
        self.hidden = hidden
        self.n_members = n_members
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.l2 = l2
        self.init = init
        self.engine = engine
        self.random_state = random_state

    def fit(self, X, y):
        """Train the ensemble on ``X`` (n_samples, n_features) and labels ``y``.

        Raises
        ------
        ValueError
            A parameter out of its range, a name no registry knows (one line naming the
            parameter, its value and what is allowed), fewer than two classes, or an
            ensemble whose every member diverged.
        """
        self._validate_params()
        owner = type(self).__name__
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"{owner}: y has 1 class ({classes[0]!r}); a classifier needs at least 2")
        params = self.get_params()
        mlp = st.network(owner, params, X.shape[1], len(classes))
        train = st.train_spec(owner, params)
        seeds = st.member_seeds(owner, self.random_state, int(self.n_members))
        engine = make_engine(train)
        codes = codes.astype(np.int64)
        data = _Training(name="fit", X_train=X, y_train=codes, X_test=X, y_test=codes, n_classes=len(classes))
        trained, history = fit(engine, mlp, engine.init(mlp, seeds, rng=train.rng), data, train, seeds)
        diverged = np.asarray(history.diverged, dtype=bool)
        if diverged.all():
            raise ValueError(f"{owner}: lr = {self.lr!r}: every member diverged (its loss stopped being "
                             f"finite by epoch {int(history.diverged_epoch.max()) + 1}); lower lr")
        self.classes_, self.network_, self.seeds_ = classes, mlp, seeds
        self.params_ = [type(layer)(as_numpy(layer.W), as_numpy(layer.b)) for layer in trained]
        history.params = None  # params_ holds them, as NumPy (a torch engine's tensors are not kept)
        self.diverged_, self.history_ = diverged, history
        self.loss_curve_ = history.stat("train/running_loss", "mean")[:train.epochs]
        self.n_iter_ = train.epochs
        return self

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes): the mean over the ensemble's
        members that did not diverge."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        kept = ~self.diverged_
        params = [type(layer)(layer.W[kept], layer.b[kept]) for layer in self.params_]
        prob = get_engine("numpy").forward(self.network_, params, X).prob.mean(axis=0)
        return np.column_stack([1.0 - prob, prob]) if prob.ndim == 1 else prob

    def predict(self, X):
        """The most probable class of each row (ensemble mean)."""
        proba = self.predict_proba(X)  # first: it checks that the estimator is fitted
        return self.classes_[np.argmax(proba, axis=1)]
