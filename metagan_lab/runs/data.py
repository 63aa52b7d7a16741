"""The class data a run trains or is evaluated on: one loader, and the checks done before training.

``load_split(DataOptions(...))`` is the one call every command uses (it was the CLI's
``load_split(args)``); ``check_fits`` refuses an episode shape the split cannot give (``--ways``
above its class count, shots + queries above its samples) in the first seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..data import ClassImages, MetaSplit, load_classes, meta_split


@dataclass(frozen=True)
class DataOptions:
    """Which data: ``dataset`` auto | omniglot | glyphs, ``root`` (default $METAGAN_LAB_DATA,
    else data/), ``download`` Omniglot if missing, ``split`` standard | lake, ``rotations`` to add
    the 90/180/270° classes, ``progress`` bars while preprocessing Omniglot."""

    dataset: str = "auto"
    root: str | os.PathLike | None = None
    download: bool = False
    split: str = "standard"
    rotations: bool = True
    progress: bool = False


def load_split(options: DataOptions) -> tuple[ClassImages, MetaSplit]:
    """(all classes, their meta-train / validation / meta-test split) as ``options`` say."""
    data = load_classes(options.dataset, options.root, download=options.download,
                        progress=options.progress)
    return data, meta_split(data, options.split, rotations=options.rotations)


def for_checkpoint(options: DataOptions, recorded: str | None) -> DataOptions:
    """``dataset='auto'`` and a model trained on the glyphs → the glyphs (Omniglot is not looked
    for); any other case keeps ``options`` (an explicit --dataset always wins)."""
    if options.dataset == "auto" and recorded == "glyphs":
        return DataOptions("glyphs", options.root, options.download, options.split,
                           options.rotations, options.progress)
    return options


def describe_part(part: ClassImages, name: str) -> str:
    """'the test split of omniglot' for error messages."""
    return f"the {name} split" + (f" of {part.source}" if part.source else "")


def check_fits(part: ClassImages, name: str, ways: int, shots: int, queries: int,
               ways_flag: str = "--ways", queries_flag: str = "--queries") -> None:
    """Raise ``ValueError`` (one line) unless ``ways``-way episodes with ``shots`` + ``queries``
    images per class can be drawn from ``part`` (the ``name`` split); the flags name the options
    in the message."""
    if ways > part.n_classes:
        raise ValueError(f"{ways_flag} {ways}: {describe_part(part, name)} has only "
                         f"{part.n_classes} classes; use {ways_flag} <= {part.n_classes}")
    if shots + queries > part.n_samples:
        raise ValueError(f"--shots + {queries_flag}: {shots} + {queries} = {shots + queries} is "
                         f"more than the {part.n_samples} samples per class of the {name} "
                         f"split; lower --shots or {queries_flag}")
