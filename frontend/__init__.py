"""Web pages: dispatcher console, mobile reporter, layer viewer, evaluation dashboard."""
