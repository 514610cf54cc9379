"""Read-only dashboard queries: aggregation in SQL, one function per thing a page shows."""
