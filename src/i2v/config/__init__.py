"""Settings and video defaults, read once at program start and passed down.

The names below are imported on first use, so :mod:`i2v.config.essentials` (the few
settings `i2v jobs` needs, read without pydantic) starts without pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from i2v.lazy import lazy_names

if TYPE_CHECKING:
    from i2v.config.essentials import default_data_dir
    from i2v.config.settings import Settings, load_settings
    from i2v.config.video import VideoConfig

__all__ = ["Settings", "VideoConfig", "default_data_dir", "load_settings"]

#: Where each re-exported name lives.
_HOMES = {
    "Settings": "i2v.config.settings",
    "load_settings": "i2v.config.settings",
    "default_data_dir": "i2v.config.essentials",
    "VideoConfig": "i2v.config.video",
}

__getattr__ = lazy_names(__name__, _HOMES)
