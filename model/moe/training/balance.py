"""Keeping tasks in balance during multi-task training.

- **Temperature sampling**: a step holds ``len(tasks)`` batch slots; each slot goes to task i with
  probability ∝ n_i^(1/T) (n_i its training samples). T = 1 samples by size, T → ∞ uniformly; a
  task drawn twice in a step gets a double batch. Large tasks thus get more steps without drowning
  small ones.
- **Loss normalisation**: each task's loss is divided by its own running mean (detached), so every
  task's gradient has the scale of d log L whatever its loss's units — a classification
  cross-entropy of 2.3 and a CRPS of 0.05 pull alike on the shared parameters.
- **Class weights**: ``(n / (K · n_c)) ** power`` per class (power 1 = scikit-learn's "balanced",
  0.5 = its square root, the default: rare classes count more without one rare sample dominating
  a batch); multilabel heads get ``pos_weight = (negatives / positives) ** power`` per label.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from plantpulse.model.moe.config import TaskSpec


def task_probabilities(sizes: Sequence[int], temperature: float) -> np.ndarray:
    """(T,) sampling probabilities ∝ size^(1/temperature)."""
    weights = np.asarray(sizes, dtype=np.float64).clip(min=1) ** (1.0 / temperature)
    return weights / weights.sum()


def draw_slots(probs: np.ndarray, slots: int, rng: np.random.Generator) -> np.ndarray:
    """(T,) how many of ``slots`` batch slots each task gets this step."""
    return np.bincount(rng.choice(len(probs), size=slots, p=probs), minlength=len(probs))


class LossNormalizer:
    """Divides each task's loss by an exponential running mean of its detached value."""

    def __init__(self, momentum: float = 0.9) -> None:
        self.momentum = momentum
        self.mean: dict[str, float] = {}

    def __call__(self, name: str, loss: torch.Tensor) -> torch.Tensor:
        value = float(loss.detach())
        previous = self.mean.get(name)
        self.mean[name] = value if previous is None else self.momentum * previous + (1 - self.momentum) * value
        return loss / max(self.mean[name], 1e-8)

    def state_dict(self) -> dict[str, float]:
        return dict(self.mean)

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.mean = {str(k): float(v) for k, v in state.items()}


def class_weights(task: TaskSpec, targets: np.ndarray, power: float) -> torch.Tensor | None:
    """Per-class (classification) or per-label positive (multilabel) weights, or None."""
    if power <= 0 or task.kind not in ("classification", "multilabel"):
        return None
    y = np.asarray(targets)
    k = len(task.classes)
    if task.kind == "classification":
        counts = np.bincount(y.astype(np.int64), minlength=k).astype(np.float64)
        weights = (len(y) / (k * counts.clip(min=1))) ** power
        weights[counts == 0] = 0.0
        return torch.tensor(weights / weights[counts > 0].mean(), dtype=torch.float32)
    positives = y.reshape(len(y), k).sum(0).astype(np.float64)
    return torch.tensor(((len(y) - positives).clip(min=1) / positives.clip(min=1)) ** power, dtype=torch.float32)
