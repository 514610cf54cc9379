"""Weld inspection jobs: inspect, store, review, retrain, report."""
