"""Data: Omniglot (zip or extracted), the embedded glyphs, splits, and where data lives."""

from .glyphs import make_glyphs, render_strokes
from .images import ClassImages, to_float
from .omniglot import OmniglotNotFound, find_omniglot, load_omniglot, preprocess_png
from .paths import ENV_VAR, cache_dir, data_root
from .splits import DATASETS, SPLITS, MetaSplit, load_classes, meta_split

__all__ = ["DATASETS", "ENV_VAR", "SPLITS", "ClassImages", "MetaSplit", "OmniglotNotFound",
           "cache_dir", "data_root", "find_omniglot", "load_classes", "load_omniglot",
           "make_glyphs", "meta_split", "preprocess_png", "render_strokes", "to_float"]
