"""L4 built web assets served by the API."""
