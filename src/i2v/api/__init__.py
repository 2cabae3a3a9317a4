"""The HTTP API and web page: a thin front end over the job store (``create_app``)."""

from i2v.api.app import create_app

__all__ = ["create_app"]
