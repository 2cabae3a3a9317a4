"""Engines: photo in, frames out. Only this package imports torch and diffusers (lazily)."""
