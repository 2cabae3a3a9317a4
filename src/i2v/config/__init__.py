"""Settings and video defaults, read once at program start and passed down."""

from i2v.config.settings import Settings, default_data_dir, load_settings
from i2v.config.video import VideoConfig

__all__ = ["Settings", "VideoConfig", "default_data_dir", "load_settings"]
