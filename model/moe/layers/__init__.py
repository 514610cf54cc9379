"""The network's building blocks, one small module each."""
