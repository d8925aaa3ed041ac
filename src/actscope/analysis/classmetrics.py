"""Per-class metrics of an ensemble on a split: precision, recall, F1, support, confusion.

Pure functions of parameters and data (inference only), one entry per member.
"""

from __future__ import annotations

import numpy as np

from actscope.nn.model import MLPSpec, Params


def predictions(engine, spec: MLPSpec, params: Params, X: np.ndarray) -> np.ndarray:
    """Predicted class per member and point: (K, N) int64 (binary: probability >= 0.5)."""
    prob = engine.to_host(engine.forward(spec, params, X).prob)
    if prob.ndim == 2:
        return (prob >= 0.5).astype(np.int64)
    return prob.argmax(axis=-1).astype(np.int64)


def confusion(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix (true class in rows, predicted in columns)."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y, dtype=np.int64), pred), 1)
    return cm


def class_report(cm: np.ndarray) -> dict:
    """Precision, recall, F1 and support per class, macro F1 and balanced accuracy from a
    confusion matrix (a class never predicted has precision 0, as scikit-learn's zero_division=0)."""
    tp = np.diag(cm).astype(np.float64)
    pred_n, true_n = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(pred_n > 0, tp / pred_n, 0.0)
        recall = np.where(true_n > 0, tp / true_n, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = true_n > 0
    return {
        "precision": [float(v) for v in precision], "recall": [float(v) for v in recall],
        "f1": [float(v) for v in f1], "support": [int(v) for v in true_n],
        "confusion": cm.tolist(),
        "macro_f1": float(f1[present].mean()) if present.any() else None,
        "balanced_accuracy": float(recall[present].mean()) if present.any() else None,
    }


def per_member_reports(engine, spec: MLPSpec, params: Params, X: np.ndarray, y: np.ndarray,
                       n_classes: int) -> list[dict]:
    """class_report of every member of the ensemble on (X, y)."""
    pred = predictions(engine, spec, params, X)
    return [class_report(confusion(y, p, n_classes)) for p in pred]
