"""The ``plantpulse`` command line: one module per command group."""
