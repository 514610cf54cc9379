"""The OPC-UA simulator: a server that replays real data, with history and security."""
