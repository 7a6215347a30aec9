"""Entry points of the istio-runbooks project (python -m istio_runbooks.run)."""
