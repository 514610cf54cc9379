"""Batch scoring: latest windows -> predictions -> alerts."""
