"""Honest evaluation on the public PHM datasets: ``plantpulse evaluate`` -> docs/RESULTS.md.

One module per protocol (``cmapss``, ``cwru``, ``azure``, ``maintnet``, ``ai4i``, ``weld``, and
``routing`` for the expert-load heatmaps), looked up by name in :data:`~.protocols.PROTOCOLS`.
Every protocol scores, on the *same* leakage-free test split, the MoE teacher and distilled
student (trained by the project's training job, :mod:`.moe`), the baselines (gradient boosting on
engineered features :mod:`.gbm`/:mod:`.features`, a plain CNN of the student's size
:mod:`.nets`, lifelines models :mod:`.survival`) and, where known, published figures
(:mod:`.published`). :mod:`.metrics` holds the metric functions; :mod:`.report` writes the
Markdown and JSON from the typed records of :mod:`.records`.
"""
