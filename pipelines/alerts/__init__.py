"""Alert rules, the weld reject p-chart and work orders."""
