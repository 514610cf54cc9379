"""``plantpulse fit``: train and compare models for one asset type from the plant's own data.

spec.py (what to train, from a TOML file and CLI options), windows.py (per-asset readings ->
a regular grid -> windows), labels.py (targets from failure events, threshold rules, end times,
label columns/files, event codes, normal periods), split.py (by asset, else by time with a gap),
learners.py (gradient boosting / isolation forest baseline and the MoE), survival.py (for RUL a
Weibull AFT model that keeps censored windows), state.py (what a fit finished, for --resume), job.py
(the run: validation choice, test metrics, report, registration, promotion).
"""
