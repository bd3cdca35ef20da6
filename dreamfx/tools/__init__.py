"""Tools for maintainers: the reference documentation generated from the code, and the
measures tests and figures use."""
