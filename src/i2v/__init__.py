"""i2v: self-hosted photo-to-video over a durable job queue."""

__version__ = "0.1.0"
