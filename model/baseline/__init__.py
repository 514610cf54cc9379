"""Plain baselines that serve as models too (the quantile-MLP RUL model)."""
