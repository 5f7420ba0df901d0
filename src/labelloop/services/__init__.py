"""L3 use cases that own transactions: ingest, export, demo, projects."""
