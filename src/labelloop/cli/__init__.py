"""L4 command line: a thin Typer shell over the services."""
