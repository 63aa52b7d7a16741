"""Data: Omniglot reader (zip and extracted) on a tiny fake copy, caches, errors, splits, glyphs."""

import io
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from metagan_lab.data import (
    ClassImages,
    OmniglotNotFound,
    load_classes,
    load_omniglot,
    make_glyphs,
    meta_split,
    preprocess_png,
)
from metagan_lab.data import omniglot as omniglot_module


def png_bytes(seed: int) -> bytes:
    """A 105×105 1-bit PNG like Omniglot's: white background (1), black strokes (0)."""
    rng = np.random.default_rng(seed)
    img = np.ones((105, 105), dtype=bool)
    r = rng.integers(10, 80)
    img[r : r + 15, 20:85] = False
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


LAYOUT = {"images_background": [("Alpha", 2), ("Beta", 1)], "images_evaluation": [("Gamma", 2)]}


def write_fake(root: Path, as_zip: bool, samples: int = 3) -> None:
    seed = 0
    for part, alphabets in LAYOUT.items():
        files = {}
        for alphabet, n_chars in alphabets:
            for c in range(1, n_chars + 1):
                for s in range(1, samples + 1):
                    name = f"{part}/{alphabet}/character{c:02d}/{c:04d}_{s:02d}.png"
                    files[name] = png_bytes(seed)
                    seed += 1
        if as_zip:
            (root / "omniglot").mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(root / "omniglot" / f"{part}.zip", "w") as zf:
                for name, data in files.items():
                    zf.writestr(name, data)
        else:
            for name, data in files.items():
                path = root / "omniglot-py" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("METAGAN_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("METAGAN_LAB_DATA", raising=False)


@pytest.mark.parametrize("as_zip", [True, False])
def test_reads_zip_and_extracted_layouts_identically(tmp_path, as_zip):
    write_fake(tmp_path / "root", as_zip)
    data = load_omniglot(tmp_path / "root", download=False, progress=False)
    assert data.images.shape == (5, 3, 28, 28) and data.images.dtype == torch.uint8
    assert data.names[0] == "Alpha/character01" and data.names[-1] == "Gamma/character02"
    assert data.meta["background"].tolist() == [True, True, True, False, False]
    ref = torch.from_numpy(preprocess_png(png_bytes(0), "x"))
    assert torch.equal(data.images[0, 0], ref)
    assert Path(data.meta["cache"]).is_file()


def test_preprocess_inverts_and_resizes_with_antialiasing():
    out = preprocess_png(png_bytes(1), "x")
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out[0, 0] == 0 and out.max() == 255                     # background 0, stroke 255
    assert ((out > 0) & (out < 255)).any()                         # antialiased edges


def test_data_root_from_environment_and_cache_reused(tmp_path, monkeypatch):
    write_fake(tmp_path / "root", as_zip=True)
    monkeypatch.setenv("METAGAN_LAB_DATA", str(tmp_path / "root"))
    first = load_omniglot(download=False, progress=False)
    cache = Path(first.meta["cache"])
    stamp = cache.stat().st_mtime_ns
    start = time.perf_counter()
    second = load_omniglot(download=False, progress=False)
    assert time.perf_counter() - start < 2.0
    assert cache.stat().st_mtime_ns == stamp and torch.equal(first.images, second.images)
    assert not [p for p in cache.parent.iterdir() if p.suffix == ".tmp"]   # atomic: no leftovers


def test_damaged_cache_is_rebuilt(tmp_path):
    write_fake(tmp_path / "root", as_zip=True)
    cache = Path(load_omniglot(tmp_path / "root", download=False, progress=False).meta["cache"])
    cache.write_bytes(b"not a torch file")
    again = load_omniglot(tmp_path / "root", download=False, progress=False)
    assert again.images.shape == (5, 3, 28, 28)


def test_not_found_lists_every_path_tried(tmp_path):
    with pytest.raises(OmniglotNotFound) as err:
        load_omniglot(tmp_path / "empty", download=False)
    msg = str(err.value)
    assert str(tmp_path / "empty" / "omniglot-py" / "images_background") in msg
    assert str(tmp_path / "empty" / "omniglot" / "images_evaluation.zip") in msg
    assert "METAGAN_LAB_DATA" in msg


def test_failed_download_lists_paths_and_fix(tmp_path, monkeypatch):
    def offline(root):
        raise OSError("network is unreachable")

    monkeypatch.setattr(omniglot_module, "_download", offline)
    with pytest.raises(OmniglotNotFound, match="network is unreachable") as err:
        load_omniglot(tmp_path / "empty", download=True)
    assert "Paths tried" in str(err.value) and "images_background.zip" in str(err.value)


def test_corrupt_zip_names_the_file(tmp_path):
    write_fake(tmp_path / "root", as_zip=True)
    bad = tmp_path / "root" / "omniglot" / "images_evaluation.zip"
    bad.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(RuntimeError, match="images_evaluation.zip"):
        load_omniglot(tmp_path / "root", download=False, progress=False)


def test_unreadable_png_names_the_file(tmp_path):
    write_fake(tmp_path / "root", as_zip=False)
    victim = tmp_path / "root/omniglot-py/images_background/Beta/character01/0001_02.png"
    victim.write_bytes(b"\x89PNG garbage")
    with pytest.raises(RuntimeError, match="Beta/character01/0001_02.png"):
        load_omniglot(tmp_path / "root", download=False, progress=False)


@pytest.mark.parametrize("member", ["/etc/evil.png", "images_background/../../evil/x/y.png"])
def test_unsafe_zip_members_are_refused(tmp_path, member):
    write_fake(tmp_path / "root", as_zip=True)
    with zipfile.ZipFile(tmp_path / "root" / "omniglot" / "images_background.zip", "a") as zf:
        zf.writestr(member, png_bytes(99))
    with pytest.raises(ValueError, match="refusing unsafe member"):
        load_omniglot(tmp_path / "root", download=False, progress=False)


def fake_classes(n: int, background: int | None = None) -> ClassImages:
    images = torch.arange(n, dtype=torch.int64)[:, None, None, None].expand(n, 2, 2, 2)
    meta = {"background": torch.arange(n) < background} if background else {}
    return ClassImages(images.clone(), tuple(f"c{i}" for i in range(n)), "fake", meta)


def test_standard_split_counts_rotations_and_disjointness():
    split = meta_split(fake_classes(1623), "standard", rotations=False, val_classes=0)
    assert (split.train.n_classes, split.test.n_classes, split.val) == (1200, 423, None)
    train_ids = set(split.train.images[:, 0, 0, 0].tolist())
    assert train_ids.isdisjoint(split.test.images[:, 0, 0, 0].tolist())
    rot = meta_split(fake_classes(1623), "standard", val_classes=100)
    assert (rot.train.n_classes, rot.val.n_classes, rot.test.n_classes) == (4400, 400, 1692)
    same = meta_split(fake_classes(1623), "standard", rotations=False, val_classes=0)
    assert torch.equal(same.train.images, split.train.images)     # fixed seed


def test_lake_split_uses_background_flags():
    split = meta_split(fake_classes(20, background=12), "lake", rotations=False, val_classes=2)
    ids = lambda d: set(d.images[:, 0, 0, 0].tolist())             # noqa: E731
    assert ids(split.train) | ids(split.val) == set(range(12))
    assert ids(split.test) == set(range(12, 20))
    with pytest.raises(ValueError, match="split='lake' needs Omniglot"):
        meta_split(fake_classes(20), "lake")
    with pytest.raises(ValueError, match="split='random'"):
        meta_split(fake_classes(20), "random")


def test_rotations_are_exact_rot90():
    data = ClassImages(torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4), ("a",))
    rot = data.with_rotations()
    assert rot.names == ("a", "a@rot90", "a@rot180", "a@rot270")
    assert torch.equal(rot.images[1, 0], torch.rot90(data.images[0, 0], 1))
    assert torch.equal(rot.images[2, 0], data.images[0, 0].flip(0).flip(1))


def test_glyphs_deterministic_large_and_varied():
    a, b = make_glyphs(n_classes=1000, n_samples=4, seed=3), make_glyphs(1000, 4, seed=3)
    assert a.images.shape == (1000, 4, 28, 28) and torch.equal(a.images, b.images)
    assert not torch.equal(a.images, make_glyphs(1000, 4, seed=4).images)
    ink = a.images.float().mean((2, 3))
    assert (ink > 5).all()                                          # every drawing has strokes
    same = (a.images[:, 0].float() - a.images[:, 1].float()).abs().mean()
    other = (a.images[:-1, 0].float() - a.images[1:, 0].float()).abs().mean()
    assert same < 0.8 * other       # two drawings of a class are closer than two classes


def test_auto_falls_back_to_glyphs_with_a_notice(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("METAGAN_LAB_DATA", str(tmp_path / "nothing"))
    data = load_classes("auto", glyph_classes=50)
    assert data.source == "glyphs" and data.n_classes == 50
    assert "using the embedded 'glyphs'" in capsys.readouterr().err
    with pytest.raises(OmniglotNotFound):
        load_omniglot(download=False)


SHARED = os.environ.get("METAGAN_LAB_DATA", "")


@pytest.mark.slow
@pytest.mark.skipif(not SHARED or not (Path(SHARED) / "omniglot").is_dir(),
                    reason="full Omniglot not found (set METAGAN_LAB_DATA to a folder with "
                           "omniglot/)")
def test_full_omniglot_when_present(monkeypatch):
    monkeypatch.delenv("METAGAN_LAB_CACHE")                        # use the real cache
    load_omniglot(SHARED, download=False, progress=False)          # builds the cache once

    def rebuilt(*args, **kwargs):
        raise AssertionError("the second load decoded the PNGs again instead of the cache")

    monkeypatch.setattr(omniglot_module, "_build", rebuilt)       # not timed: a loaded CI is slow
    data = load_omniglot(SHARED, download=False, progress=False)
    assert data.images.shape == (1623, 20, 28, 28)
    assert int(data.meta["background"].sum()) == 964
    split = meta_split(data)
    assert (split.train.n_classes + split.val.n_classes) // 4 == 1200
