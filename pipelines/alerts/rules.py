"""Alert rules: turn predictions (and weld inspections) into findings a person should act on.

Per-prediction rules live in ``PREDICTION_RULES`` (name -> function); each returns a
:class:`Finding` or None. A finding's ``dedupe_key`` names the rule and the asset, so while an
alert is open (or acknowledged) further findings refresh it instead of opening another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plantpulse.data.core.config.jobs import AlertSettings
from plantpulse.data.core.records import PredictionRow
from plantpulse.data.core.registry import Registry


@dataclass(frozen=True, slots=True)
class Finding:
    """What an alert says: which rule fired, on what, why (evidence) and what to do."""

    rule: str
    severity: str
    asset_id: int | None
    asset: str
    message: str
    recommended_action: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        return f"{self.rule}:{self.asset_id if self.asset_id is not None else self.asset}"


@dataclass(frozen=True, slots=True)
class Scored:
    """One stored prediction with what the rules need to word a finding."""

    row: PredictionRow
    asset: str
    asset_type: str
    model: str  # "name vN"
    predictor_kind: str


Rule = Callable[[Scored, AlertSettings], Finding | None]
PREDICTION_RULES: Registry[Rule] = Registry("alert rule")


def _evidence(s: Scored, **extra: Any) -> dict[str, Any]:
    return {"model": s.model, "window_end": s.row.window_end.isoformat(), **extra}


@PREDICTION_RULES.register("rul_low")
def rul_low(s: Scored, cfg: AlertSettings) -> Finding | None:
    """RUL interval reaches below the threshold."""
    r = s.row.prediction
    if r.rul_mean is None:
        return None
    lower = r.rul_lower if r.rul_lower is not None else r.rul_mean
    if (lower if cfg.rul_basis == "lower" else r.rul_mean) >= cfg.rul_threshold:
        return None
    upper = r.rul_upper if r.rul_upper is not None else r.rul_mean
    severity = "critical" if r.rul_mean < cfg.rul_critical else "warning"
    return Finding(
        "rul_low", severity, s.row.asset_id, s.asset,
        f"{s.asset}: remaining useful life {r.rul_mean:.0f} (80 % interval {lower:.0f}-{upper:.0f}), "
        f"below the threshold of {cfg.rul_threshold:g}.",
        f"Plan maintenance of {s.asset} within {max(lower, 0):.0f}-{max(r.rul_mean, 0):.0f} cycles/hours: "
        "book the slot, order the parts of the degrading module, and inspect at the next stop.",
        _evidence(s, rul_mean=r.rul_mean, rul_interval=[lower, upper], threshold=cfg.rul_threshold,
                  basis=cfg.rul_basis, quantiles=r.rul_quantiles))


@PREDICTION_RULES.register("fault_probable")
def fault_probable(s: Scored, cfg: AlertSettings) -> Finding | None:
    """A fault is at least this likely. When the model has a normal class, that is the probability
    of not being normal: faults that share the mass add up (two components failing together, two
    sizes of one bearing fault), so a machine 91 % sure to fail is not let off because no single
    component reaches the threshold. Without a normal class, the likeliest class's probability."""
    probs = s.row.prediction.fault_probs
    faults = {k: float(v) for k, v in probs.items() if k.lower() not in cfg.normal_classes}
    if not faults:
        return None
    any_fault = len(faults) < len(probs)
    ranked = sorted(faults, key=faults.__getitem__, reverse=True)
    prob = min(sum(faults.values()), 1.0) if any_fault else faults[ranked[0]]
    if prob < cfg.fault_prob_threshold:
        return None
    name = ranked[0]
    likely = ", ".join(f"'{k}' {faults[k]:.2f}" for k in ranked[:3] if k == name or faults[k] >= 0.05)
    what = f"a fault with probability {prob:.2f}, most likely {likely}" if any_fault else \
        f"fault '{name}' with probability {prob:.2f}"
    return Finding(
        "fault_probable", "critical" if prob >= 0.95 else "warning", s.row.asset_id, s.asset,
        f"{s.asset}: {what} (threshold {cfg.fault_prob_threshold:g}).",
        f"Inspect {s.asset} for '{name}' at the next opportunity; confirm with a manual measurement "
        "before replacing parts.",
        _evidence(s, fault=name, probability=prob, basis="not normal" if any_fault else "likeliest class",
                  fault_probs=dict(probs), threshold=cfg.fault_prob_threshold))


@PREDICTION_RULES.register("anomaly_high")
def anomaly_high(s: Scored, cfg: AlertSettings) -> Finding | None:
    """The anomaly score is above the level set for this kind of model."""
    score = s.row.prediction.anomaly_score
    limit = cfg.anomaly_limit(s.predictor_kind)
    if score is None or score <= limit:
        return None
    return Finding(
        "anomaly_high", "warning", s.row.asset_id, s.asset,
        f"{s.asset}: anomaly score {score:.2f} above {limit:g}: its recent behaviour is unlike normal operation.",
        f"Review the last sensor trends of {s.asset} with the line's engineer; check for sensor faults "
        "before acting on the machine.",
        _evidence(s, anomaly_score=score, threshold=limit))


def evaluate(scored: list[Scored], cfg: AlertSettings) -> list[Finding]:
    """Every finding of every registered rule, in a stable order."""
    return [f for s in scored for name in PREDICTION_RULES.names()
            if (f := PREDICTION_RULES.get(name)(s, cfg)) is not None]
