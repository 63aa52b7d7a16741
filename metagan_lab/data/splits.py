"""Meta-training / meta-testing class splits and the one-call data loader.

Splits (documented in data/README.md):
* ``standard`` — the MAML/ProtoNet convention (Vinyals et al. 2016; Finn et al. 2017; Snell et
  al. 2017): 1200 characters for meta-training chosen irrespective of alphabet with a fixed seed
  (of which ``val_classes`` are held out for validation), the remaining 423 for meta-testing.
  Rotations by 90/180/270° add classes (×4), on by default, as in both papers.
* ``lake`` — Lake et al.'s split: the 964 background characters for meta-training, the 659
  evaluation characters for meta-testing (alphabets do not overlap).
Glyphs use the standard proportions: 1200/(1623) of the classes for training.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

import torch

from .glyphs import make_glyphs
from .images import ClassImages
from .omniglot import OmniglotNotFound, load_omniglot

SPLITS = ("standard", "lake")
DATASETS = ("auto", "omniglot", "glyphs")
STANDARD_TRAIN = 1200
SPLIT_SEED = 1623


class MetaSplit(NamedTuple):
    train: ClassImages
    val: ClassImages | None
    test: ClassImages


def load_classes(dataset: str = "auto", root: str | os.PathLike | None = None,
                 download: bool = False, glyph_classes: int = 1623, quiet: bool = False,
                 progress: bool = True) -> ClassImages:
    """Omniglot when found (or downloadable), else the embedded glyphs with a one-line notice.

    ``dataset='omniglot'`` insists on Omniglot (an error lists the paths tried);
    ``dataset='glyphs'`` never looks for Omniglot.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset={dataset!r}; choose one of {DATASETS}")
    if dataset == "glyphs":
        return make_glyphs(n_classes=glyph_classes)
    try:
        return load_omniglot(root, download=download or dataset == "omniglot",
                             progress=progress)
    except OmniglotNotFound:
        if dataset == "omniglot":
            raise
    if not quiet:
        print("metagan_lab: Omniglot not found; using the embedded 'glyphs' data set "
              "(see data/README.md to add Omniglot).", file=sys.stderr)
    return make_glyphs(n_classes=glyph_classes)


def meta_split(data: ClassImages, split: str = "standard", rotations: bool = True,
               rotate_test: bool = True, val_classes: int = 100,
               seed: int = SPLIT_SEED) -> MetaSplit:
    """Split classes into meta-train / validation / meta-test, then add rotated classes."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r}; choose one of {SPLITS}")
    n = data.n_classes
    if split == "lake":
        if "background" not in data.meta:
            raise ValueError("split='lake' needs Omniglot (background/evaluation); "
                             "use split='standard' for glyphs")
        bg = torch.as_tensor(data.meta["background"], dtype=torch.bool)
        train_idx, test_idx = bg.nonzero().flatten(), (~bg).nonzero().flatten()
        train_idx = train_idx[torch.randperm(len(train_idx),
                                             generator=torch.Generator().manual_seed(seed))]
    else:
        n_train = round(n * STANDARD_TRAIN / 1623) if n != 1623 else STANDARD_TRAIN
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        train_idx, test_idx = perm[:n_train], perm[n_train:].sort().values
    if not 0 <= val_classes < len(train_idx):
        raise ValueError(f"val_classes={val_classes} must be in [0, {len(train_idx)})")
    val_idx = train_idx[len(train_idx) - val_classes:] if val_classes else None
    train_idx = train_idx[: len(train_idx) - val_classes].sort().values
    train, test = data.subset(train_idx), data.subset(test_idx)
    val = data.subset(val_idx.sort().values) if val_idx is not None else None
    if rotations:
        train = train.with_rotations()
        val = val.with_rotations() if val is not None else None
        test = test.with_rotations() if rotate_test else test
    return MetaSplit(train, val, test)
