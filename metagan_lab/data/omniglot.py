"""Omniglot (Lake, Salakhutdinov & Tenenbaum, Science 2015): 1623 characters × 20 drawings.

Reads the official layout, extracted or zipped, under a data root (see ``paths.data_root``):
  <root>/omniglot-py/images_background/<Alphabet>/<characterNN>/*.png   (torchvision's download)
  <root>/omniglot/images_background.zip, images_evaluation.zip        (the official zips)
  <root>/images_background.zip, images_evaluation.zip                 (zips at the root)
Preprocessing, once: invert (stroke = 1, background = 0), antialiased resize to 28×28, stored as
uint8 in a cache file keyed by the source and the settings, written atomically.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from ..io import atomic_save
from .images import ClassImages
from .paths import cache_dir, data_root

PARTS = ("images_background", "images_evaluation")
CACHE_VERSION = 1


class OmniglotNotFound(FileNotFoundError):
    """Raised when no copy of Omniglot is found and it cannot be downloaded."""


def _candidates(root: Path) -> dict[str, list[Path]]:
    return {part: [root / "omniglot-py" / part, root / "omniglot" / part, root / part,
                   root / "omniglot" / f"{part}.zip", root / f"{part}.zip",
                   root / "omniglot-py" / f"{part}.zip"] for part in PARTS}


def find_omniglot(root: Path) -> dict[str, Path] | None:
    """The first existing source (folder or zip) for each of the two parts, or None."""
    found = {}
    for part, paths in _candidates(root).items():
        hit = next((p for p in paths if (p.is_dir() if p.suffix != ".zip" else p.is_file())), None)
        if hit is None:
            return None
        found[part] = hit
    return found


def _safe_member(name: str, zip_path: Path) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith(("/", "\\")) or ":" in name:
        raise ValueError(f"refusing unsafe member {name!r} in {zip_path} (absolute path or '..')")
    return path


def _iter_pngs(source: Path, part: str) -> Iterator[tuple[tuple[str, str], str, bytes]]:
    """Yield ((alphabet, character), file label, png bytes) in sorted order."""
    if source.is_dir():
        for png in sorted(source.glob("*/*/*.png")):
            yield (png.parent.parent.name, png.parent.name), str(png), png.read_bytes()
        return
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise RuntimeError(f"cannot open zip {source}: {exc}. Re-copy or re-download it.") from exc
    with zf:
        members = []
        for info in zf.infolist():
            path = _safe_member(info.filename, source)
            if path.suffix.lower() == ".png" and len(path.parts) >= 3:
                members.append((path.parts[-3], path.parts[-2], info))
        for alphabet, char, info in sorted(members, key=lambda m: m[2].filename):
            try:
                data = zf.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:  # CRC error, truncated
                raise RuntimeError(f"corrupt member {info.filename} in {source}: {exc}") from exc
            yield (alphabet, char), f"{source}:{info.filename}", data


def preprocess_png(data: bytes, label: str, size: int = 28) -> np.ndarray:
    """PNG bytes → uint8 [size, size], stroke 255 on background 0 (antialiased resize)."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:
        raise RuntimeError(f"unreadable PNG {label}: {exc}") from exc
    ink = 255 - np.asarray(img.convert("L"), dtype=np.uint8)      # stroke (black) → 255
    small = Image.fromarray(ink).resize((size, size), Image.Resampling.LANCZOS)
    return np.array(small, dtype=np.uint8)


def _cache_key(sources: dict[str, Path], size: int) -> str:
    parts = [f"v{CACHE_VERSION}", f"size{size}"]
    for part, src in sorted(sources.items()):
        st = src.stat()
        stamp = st.st_size if src.is_file() else sum(1 for _ in src.glob("*/*"))
        parts.append(f"{part}:{src.resolve()}:{stamp}:{int(st.st_mtime)}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _build(sources: dict[str, Path], size: int, progress: bool) -> dict:
    from tqdm.auto import tqdm

    chars: dict[tuple[str, str, str], list[np.ndarray]] = {}
    expected = {"images_background": 19280, "images_evaluation": 13180}
    for part, src in sources.items():
        it = _iter_pngs(src, part)
        for (alphabet, char), label, data in tqdm(it, total=expected[part], disable=not progress,
                                                 desc=f"Omniglot {part} → {size}×{size}"):
            chars.setdefault((part, alphabet, char), []).append(preprocess_png(data, label, size))
    if not chars:
        raise RuntimeError(f"no PNG files found in {sorted(map(str, sources.values()))}")
    n = min(len(v) for v in chars.values())
    keys = sorted(chars)
    images = torch.from_numpy(np.stack([np.stack(chars[k][:n]) for k in keys]))
    return {"images": images, "names": [f"{a}/{c}" for _, a, c in keys],
            "background": torch.tensor([p == "images_background" for p, _, _ in keys]),
            "size": size}


def _download(root: Path) -> dict[str, Path]:
    from torchvision.datasets import Omniglot

    for background in (True, False):
        Omniglot(str(root), background=background, download=True)
    return {part: root / "omniglot-py" / part for part in PARTS}


def load_omniglot(root: str | os.PathLike | None = None, download: bool = True, size: int = 28,
                  progress: bool = True) -> ClassImages:
    """All 1623 Omniglot characters as ClassImages [1623, 20, size, size] (uint8, stroke 255).

    ``meta['background']`` marks the 964 characters of Lake's background set.
    """
    base = data_root(root)
    sources = find_omniglot(base)
    if sources is None and download:
        try:
            sources = _download(base)
        except Exception as exc:  # offline, blocked, or a bad archive
            tried = "\n  ".join(str(p) for ps in _candidates(base).values() for p in ps)
            raise OmniglotNotFound(
                f"Omniglot was not found and the download failed ({type(exc).__name__}: {exc}).\n"
                f"Paths tried:\n  {tried}\nFix: put images_background.zip and "
                f"images_evaluation.zip in {base / 'omniglot'}, or point METAGAN_LAB_DATA at a "
                "folder holding them, or go online so torchvision can download them."
            ) from exc
    if sources is None:
        tried = "\n  ".join(str(p) for ps in _candidates(base).values() for p in ps)
        raise OmniglotNotFound(
            f"Omniglot was not found (download=False). Paths tried:\n  {tried}\n"
            f"Fix: put images_background.zip and images_evaluation.zip in {base / 'omniglot'} "
            "or set METAGAN_LAB_DATA to a folder that has them."
        )
    cache = cache_dir() / f"omniglot_{size}px_{_cache_key(sources, size)}.pt"
    blob = None
    if cache.is_file():
        try:
            blob = torch.load(cache, map_location="cpu", weights_only=True)
        except Exception:  # a damaged cache is rebuilt, never trusted
            blob = None
    if blob is None:
        blob = _build(sources, size, progress)
        atomic_save(blob, cache)
    meta = {"background": blob["background"], "cache": str(cache),
            "sources": {k: str(v) for k, v in sources.items()}}
    return ClassImages(blob["images"], tuple(blob["names"]), "omniglot", meta)
