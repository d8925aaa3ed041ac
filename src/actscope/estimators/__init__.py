"""scikit-learn estimators: an actscope ensemble where scikit-learn expects a classifier
(``Pipeline``, ``GridSearchCV`` over activations, ``cross_val_score``).

``ActscopeClassifier`` trains through the library's one training loop, so its networks are
those an experiment with the same settings and seeds trains. Needs scikit-learn (a core
dependency); importing ``actscope`` does not load it.
"""

from actscope.estimators._classifier import ActscopeClassifier

__all__ = ["ActscopeClassifier"]
