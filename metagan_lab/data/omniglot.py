"""Omniglot (Lake, Salakhutdinov & Tenenbaum, Science 2015): 1623 characters × 20 drawings.

Reads the official layout, extracted or zipped, under a data root (see ``paths.data_root``):
  <root>/omniglot-py/images_background/<Alphabet>/<characterNN>/*.png   (torchvision's download)
  <root>/omniglot/images_background.zip, images_evaluation.zip        (the official zips)
  <root>/images_background.zip, images_evaluation.zip                 (zips at the root)
Preprocessing, once: invert (stroke = 1, background = 0), antialiased resize to 28×28, stored as
uint8 in a cache file written atomically. The cache is keyed on the settings and the file list
(relative paths, sizes and times of the PNGs; names, sizes and CRCs of zip members), so adding,
removing or replacing a drawing rebuilds it. Every character must have the same number of
drawings (20 in the official release); an unbalanced copy is an error naming the characters.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from ..io import UnsafeCheckpoint, atomic_save, error_summary, safe_load
from .images import ClassImages
from .paths import cache_dir, data_root

PARTS = ("images_background", "images_evaluation")
CACHE_VERSION = 2        # 2: keyed on the file list (was: the folder count)


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


def _open_zip(source: Path) -> zipfile.ZipFile:
    """Open an Omniglot zip; a damaged one is a one-line error naming it."""
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise RuntimeError(f"cannot open zip {source} ({error_summary(exc)}); re-copy or "
                           "re-download it") from None


def _png_members(zf: zipfile.ZipFile, source: Path) -> list[tuple[str, str, zipfile.ZipInfo]]:
    """(alphabet, character, info) of every PNG in the zip, sorted by member name."""
    members = []
    for info in zf.infolist():
        path = _safe_member(info.filename, source)
        if path.suffix.lower() == ".png" and len(path.parts) >= 3:
            members.append((path.parts[-3], path.parts[-2], info))
    return sorted(members, key=lambda m: m[2].filename)


def _read_png_file(png: Path) -> bytes:
    try:
        return png.read_bytes()
    except OSError as exc:
        raise RuntimeError(f"cannot read {png} ({exc.strerror or exc}); check that it exists "
                           "and is readable") from None


def _iter_pngs(source: Path, part: str) -> Iterator[tuple[tuple[str, str], str, bytes]]:
    """Yield ((alphabet, character), file label, png bytes) in sorted order."""
    if source.is_dir():
        for png in sorted(source.glob("*/*/*.png")):
            yield (png.parent.parent.name, png.parent.name), str(png), _read_png_file(png)
        return
    with _open_zip(source) as zf:
        for alphabet, char, info in _png_members(zf, source):
            try:
                data = zf.read(info)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError,
                    RuntimeError) as exc:  # CRC error, truncated, bad deflate data, encrypted
                raise RuntimeError(f"corrupt member {info.filename} in {source} "
                                   f"({error_summary(exc)}); re-copy or re-download "
                                   f"{source.name}") from None
            yield (alphabet, char), f"{source}:{info.filename}", data


def preprocess_png(data: bytes, label: str, size: int = 28) -> np.ndarray:
    """PNG bytes → uint8 [size, size], stroke 255 on background 0 (antialiased resize)."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:
        reason = re.sub(r"\s*<[^>]*>", "", error_summary(exc))   # drop '<_io.BytesIO at 0x…>'
        raise RuntimeError(f"unreadable PNG {label} ({reason}); replace it with a good copy "
                           "(re-extract or re-download the Omniglot zip)") from None
    ink = 255 - np.asarray(img.convert("L"), dtype=np.uint8)      # stroke (black) → 255
    small = Image.fromarray(ink).resize((size, size), Image.Resampling.LANCZOS)
    return np.array(small, dtype=np.uint8)


def file_list(source: Path) -> list[str]:
    """What the cache depends on, one entry per PNG, sorted.

    A folder: ``relative/path.png:size:mtime`` (whole seconds); a zip: ``member:size:crc32``.
    """
    if source.is_dir():
        entries = []
        for png in source.glob("*/*/*.png"):
            st = png.stat()
            entries.append(f"{png.relative_to(source).as_posix()}:{st.st_size}:{int(st.st_mtime)}")
        return sorted(entries)
    with _open_zip(source) as zf:
        return [f"{i.filename}:{i.file_size}:{i.CRC:08x}" for _, _, i in _png_members(zf, source)]


def _cache_key(sources: dict[str, Path], size: int) -> str:
    """sha256 of the cache version, the size and every part's file list (first 16 hex digits)."""
    h = hashlib.sha256(f"v{CACHE_VERSION}|size{size}".encode())
    for part, src in sorted(sources.items()):
        h.update(f"|{part}|{'dir' if src.is_dir() else 'zip'}|".encode())
        h.update("\n".join(file_list(src)).encode())
    return h.hexdigest()[:16]


def check_balanced(counts: dict[str, int], where: str, limit: int = 5) -> int:
    """The common number of drawings per character; an error naming those that differ."""
    values = sorted(counts.values())
    common = max(set(values), key=lambda v: (values.count(v), v))
    odd = [f"{name} has {n}" for name, n in sorted(counts.items()) if n != common]
    if odd:
        more = f" … and {len(odd) - limit} more" if len(odd) > limit else ""
        raise RuntimeError(
            f"Omniglot in {where} is unbalanced: {len(odd)} of {len(counts)} characters do not "
            f"have {common} drawings like the others ({'; '.join(odd[:limit])}{more}); restore "
            "the missing PNGs or remove the extra ones (e.g. re-extract the official zips)")
    return common


def _build(sources: dict[str, Path], size: int, progress: bool) -> dict:
    from tqdm.auto import tqdm

    chars: dict[tuple[str, str, str], list[np.ndarray]] = {}
    expected = {"images_background": 19280, "images_evaluation": 13180}
    for part, src in sources.items():
        it = _iter_pngs(src, part)
        for (alphabet, char), label, data in tqdm(it, total=expected[part], disable=not progress,
                                                 desc=f"Omniglot {part} → {size}×{size}"):
            chars.setdefault((part, alphabet, char), []).append(preprocess_png(data, label, size))
        if src.is_dir():   # a character folder with no drawing at all is reported too
            for folder in (d for d in src.glob("*/*") if d.is_dir()):
                chars.setdefault((part, folder.parent.name, folder.name), [])
    if not any(chars.values()):
        raise RuntimeError(f"no PNG files found in {sorted(map(str, sources.values()))}; "
                           "expected <Alphabet>/<characterNN>/*.png inside each")
    check_balanced({"/".join(k): len(v) for k, v in chars.items()},
                   ", ".join(str(s) for s in sources.values()))
    keys = sorted(chars)
    images = torch.from_numpy(np.stack([np.stack(chars[k]) for k in keys]))
    return {"images": images, "names": [f"{a}/{c}" for _, a, c in keys],
            "background": torch.tensor([p == "images_background" for p, _, _ in keys]),
            "size": size}


def _malformed(blob: object, size: int) -> str | None:
    """What is wrong with a loaded cache dict, or None if it has the layout ``_build`` writes."""
    if not isinstance(blob, dict):
        return f"a {type(blob).__name__}, not a dict"
    missing = {"images", "names", "background", "size"} - set(blob)
    if missing:
        return f"missing {sorted(missing)}"
    images, names, background = blob["images"], blob["names"], blob["background"]
    if not (isinstance(images, torch.Tensor) and images.dtype == torch.uint8 and images.dim() == 4
            and tuple(images.shape[2:]) == (size, size)):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        return f"images {shape} are not uint8 [characters, drawings, {size}, {size}]"
    if not (isinstance(names, (list, tuple)) and len(names) == images.shape[0]):
        return f"names do not match the {images.shape[0]} characters"
    if not (isinstance(background, torch.Tensor) and background.shape == (images.shape[0],)):
        return f"background flags do not match the {images.shape[0]} characters"
    return None


def _read_cache(cache: Path, size: int) -> dict | None:
    """A cache that cannot be read is rebuilt (with a warning); a malformed one is an error."""
    blob, problem = None, "it holds pickled objects, not only tensors"
    try:
        blob = safe_load(cache)
        problem = _malformed(blob, size)
    except UnsafeCheckpoint:
        pass
    except (RuntimeError, OSError) as exc:   # truncated, corrupt, half-copied: never trusted
        why = exc.strerror if isinstance(exc, OSError) else "truncated or corrupt"
        warnings.warn(f"Omniglot cache {cache} could not be read ({why}); rebuilding it",
                      stacklevel=3)
        return None
    if problem:
        raise RuntimeError(f"Omniglot cache {cache} is malformed ({problem}); delete it and the "
                           "next load rebuilds it from the PNGs")
    return blob


def _write_cache(blob: dict, cache: Path) -> None:
    """Save the cache atomically; if its folder is not writable, warn and go on without it."""
    try:
        atomic_save(blob, cache)
    except OSError as exc:
        warnings.warn(f"could not write the Omniglot cache {cache} ({exc.strerror or exc}); "
                      "continuing without it: set METAGAN_LAB_CACHE to a writable folder",
                      stacklevel=3)


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
    blob = _read_cache(cache, size) if cache.is_file() else None
    if blob is None:
        blob = _build(sources, size, progress)
        _write_cache(blob, cache)
    meta = {"background": blob["background"], "cache": str(cache),
            "sources": {k: str(v) for k, v in sources.items()}}
    return ClassImages(blob["images"], tuple(blob["names"]), "omniglot", meta)
