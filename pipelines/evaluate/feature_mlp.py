"""A one-hidden-layer MLP (scikit-learn) on a baseline's engineered features, its epoch chosen on
validation: the bar for an MoE whose structured-feature path reads the same features, so that a
gain of the MoE is not a gain of the features alone."""

from __future__ import annotations

import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def mlp_probabilities(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                      x_tests: tuple[np.ndarray, ...], n_classes: int, seed: int, width: int = 128,
                      epochs: int = 60) -> list[np.ndarray]:
    """(N, n_classes) probabilities for each of ``x_tests`` at the epoch of best validation
    accuracy (the earliest on ties). Features are standardised on the training rows; validation
    rows of classes absent from training (an unseen fault size) are ignored for the choice."""
    scaler = StandardScaler().fit(x)
    x, x_val = scaler.transform(x), scaler.transform(x_val)
    tests = [scaler.transform(t) for t in x_tests]
    seen = np.isin(y_val, np.unique(y))
    net = MLPClassifier(hidden_layer_sizes=(width,), batch_size=64, learning_rate_init=1e-3, random_state=seed)
    classes = np.arange(n_classes)
    best, probs = -1.0, [np.full((len(t), n_classes), 1.0 / n_classes) for t in tests]
    for _ in range(epochs):
        net.partial_fit(x, y, classes=classes)
        accuracy = float((net.predict(x_val[seen]) == y_val[seen]).mean()) if seen.any() else 0.0
        if accuracy > best:
            best, probs = accuracy, [net.predict_proba(t) for t in tests]
    return probs
