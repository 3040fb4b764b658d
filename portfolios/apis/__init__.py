"""API views of the portfolios app, one module per area."""
