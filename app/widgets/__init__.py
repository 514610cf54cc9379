"""Building blocks the pages share: charts, components, view helpers, formatting."""
