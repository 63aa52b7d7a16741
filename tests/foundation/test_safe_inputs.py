"""Bad input fails in one line naming the value and the fix: interrupted writes, unsafe or broken
checkpoints, changed or unbalanced Omniglot copies, rescaled images, mismatched shapes."""

import io
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from metagan_lab.data import ClassImages, load_omniglot
from metagan_lab.fewshot import (
    accuracy,
    protonet_episode_logits,
    protonet_logits,
    protonet_loss,
    prototypes,
    squared_distances,
)
from metagan_lab.io import (
    UnsafeCheckpoint,
    _atomic_write,
    _host_tag,
    atomic_save,
    atomic_write_json,
    safe_load,
)
from metagan_lab.tasks import EpisodeSampler, sample_episode, split_support_query

ROOT = Path(__file__).resolve().parents[2]


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, f"not one line: {msg!r}"
    return msg


# ---------------------------------------------------------------- 1. interrupted atomic writes

def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_temp_files_of_dead_writers_are_removed_live_ones_kept(tmp_path, live_pid):
    host = _host_tag()
    other_host = "ffffffff" if host != "ffffffff" else "00000000"
    dead = dead_pid()
    names = {
        "dead": f".ckpt.pt.{dead}-{host}.abcd1234.tmp",
        "live": f".ckpt.pt.{live_pid}-{host}.efgh5678.tmp",
        "mine": f".ckpt.pt.{os.getpid()}-{host}.ijkl9012.tmp",        # another thread of ours
        "other_host": f".ckpt.pt.{dead}-{other_host}.mnop3456.tmp",   # pids mean nothing there
        "other_target": f".other.pt.{dead}-{host}.qrst7890.tmp",
        "legacy_old": ".ckpt.pt.uvwx1234.tmp",                         # no pid: dead after a day
        "legacy_new": ".ckpt.pt.yzab5678.tmp",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x" * 1000)
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(tmp_path / names["legacy_old"], (two_days_ago, two_days_ago))
    atomic_save({"w": torch.ones(2)}, tmp_path / "ckpt.pt")
    left = {p.name for p in tmp_path.iterdir()}
    assert names["dead"] not in left and names["legacy_old"] not in left
    kept = ("live", "mine", "other_host", "other_target", "legacy_new")
    assert {names[k] for k in kept} <= left
    assert torch.equal(safe_load(tmp_path / "ckpt.pt")["w"], torch.ones(2))


def test_temp_file_names_carry_the_writers_pid(tmp_path):
    seen = []

    def write(f):
        f.write(b"data")
        seen.extend(p.name for p in tmp_path.iterdir())

    _atomic_write(tmp_path / "out.json", write)
    assert len(seen) == 1 and seen[0].startswith(f".out.json.{os.getpid()}-{_host_tag()}.")
    assert seen[0].endswith(".tmp") and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_writer_killed_mid_write_leaves_nothing_after_the_next_save(tmp_path):
    target = tmp_path / "ckpt.pt"
    code = ("import sys, time; from pathlib import Path; from metagan_lab.io import _atomic_write\n"
            "def write(f):\n"
            "    f.write(b'x' * 100000); f.flush(); print('writing', flush=True); time.sleep(60)\n"
            f"_atomic_write(Path({str(target)!r}), write)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.kill()                                                    # kill -9, mid-write
    finally:
        proc.wait()
    leftovers = [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    assert len(leftovers) == 1 and f".{proc.pid}-" in leftovers[0].name
    atomic_save({"w": torch.zeros(1)}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_written_files_get_the_usual_mode(tmp_path, mask):
    old = os.umask(mask)
    try:
        a = atomic_save({"w": torch.ones(1)}, tmp_path / "a.pt")
        b = atomic_write_json({"x": 1}, tmp_path / "b.json")
    finally:
        os.umask(old)
    for path in (a, b):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_overwriting_keeps_the_files_mode(tmp_path):
    path = atomic_save({"w": torch.ones(1)}, tmp_path / "a.pt")
    path.chmod(0o640)
    atomic_save({"w": torch.zeros(1)}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# ----------------------------------------------------------------------------- 2. safe_load

class Gadget:
    """A class defined in a test: loading it would need pickle to import and run code."""


def test_pickled_objects_are_refused_without_suggesting_weights_only_false(tmp_path):
    path = tmp_path / "gadget.pt"
    torch.save({"w": torch.ones(2), "obj": Gadget()}, path)
    with pytest.raises(UnsafeCheckpoint) as err:
        safe_load(path)
    msg = one_line(err)
    assert str(path) in msg and "Gadget" in msg
    assert "contains pickled code/objects" in msg and "metagan_lab will not run" in msg
    assert "metagan-lab" in msg and "a file you trust by your own means" in msg
    assert "weights_only" not in msg and "add_safe_globals" not in msg
    assert isinstance(err.value, RuntimeError)                        # the CLI catches these


def test_truncated_and_empty_checkpoints_are_one_line_naming_the_file(tmp_path):
    good = atomic_save({"w": torch.randn(1000)}, tmp_path / "good.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(RuntimeError, match="truncated, corrupt or not a metagan_lab") as err:
        safe_load(cut)
    assert str(cut) in one_line(err) and "weights_only" not in str(err.value)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(RuntimeError, match="is empty") as err:
        safe_load(empty)
    assert str(empty) in one_line(err)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00 not a checkpoint")
    with pytest.raises(RuntimeError) as err:
        safe_load(garbage)
    assert str(garbage) in one_line(err) and "weights_only" not in str(err.value)


def test_cli_eval_of_a_pickled_object_is_one_line_without_traceback(tmp_path):
    path = tmp_path / "gadget.pt"
    torch.save({"kind": "protonet", "obj": Gadget()}, path)
    env = {**os.environ, "METAGAN_LAB_DATA": str(tmp_path / "none"),
           "METAGAN_LAB_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "metagan_lab", "eval", str(path), "--dataset",
                           "glyphs", "--device", "cpu"], capture_output=True, text=True,
                          cwd=ROOT, env=env)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "gadget.pt" in line]
    assert len(lines) == 1 and "pickled code/objects" in lines[0]
    assert "weights_only" not in proc.stderr


# ------------------------------------------------------------------------------ 3. Omniglot

def png_bytes(seed: int) -> bytes:
    img = np.ones((105, 105), dtype=bool)
    r = 10 + seed % 60
    img[r : r + 15, 20:85] = False
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


PARTS = {"images_background": ["Alpha/character01", "Alpha/character02"],
         "images_evaluation": ["Gamma/character01"]}


def fake_files(samples: int = 3) -> dict[str, dict[str, bytes]]:
    seed, out = 0, {}
    for part, chars in PARTS.items():
        out[part] = {}
        for char in chars:
            for s in range(1, samples + 1):
                out[part][f"{part}/{char}/{seed:04d}_{s:02d}.png"] = png_bytes(seed)
                seed += 1
    return out


def write_folders(root: Path, samples: int = 3) -> Path:
    for files in fake_files(samples).values():
        for name, data in files.items():
            path = root / "omniglot-py" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return root / "omniglot-py"


def write_zips(root: Path, compression=zipfile.ZIP_STORED) -> Path:
    (root / "omniglot").mkdir(parents=True, exist_ok=True)
    for part, files in fake_files().items():
        with zipfile.ZipFile(root / "omniglot" / f"{part}.zip", "w", compression) as zf:
            for name, data in files.items():
                zf.writestr(name, data)
    return root / "omniglot"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("METAGAN_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("METAGAN_LAB_DATA", raising=False)
    return tmp_path / "cache"


def load(root: Path):
    return load_omniglot(root, download=False, progress=False)


def test_pngs_added_to_existing_folders_rebuild_the_cache(tmp_path, cache):
    base = write_folders(tmp_path / "root")
    first = load(tmp_path / "root")
    assert first.images.shape == (3, 3, 28, 28)
    for part, chars in PARTS.items():                 # a 4th drawing in every existing folder
        for i, char in enumerate(chars):
            (base / part / char / f"extra_{i}.png").write_bytes(png_bytes(40 + i))
    second = load(tmp_path / "root")
    assert second.images.shape == (3, 4, 28, 28)
    assert second.meta["cache"] != first.meta["cache"]


def test_a_character_with_an_extra_or_a_missing_drawing_is_named(tmp_path, cache):
    base = write_folders(tmp_path / "root")
    (base / "images_background/Alpha/character02/extra.png").write_bytes(png_bytes(50))
    with pytest.raises(RuntimeError, match="unbalanced") as err:
        load(tmp_path / "root")
    msg = one_line(err)
    assert "1 of 3 characters" in msg and "have 3 drawings" in msg
    assert "images_background/Alpha/character02 has 4" in msg
    (base / "images_background/Alpha/character02/extra.png").unlink()
    next((base / "images_evaluation/Gamma/character01").glob("*.png")).unlink()
    with pytest.raises(RuntimeError, match="images_evaluation/Gamma/character01 has 2") as err:
        load(tmp_path / "root")
    one_line(err)


def test_an_empty_character_folder_is_named(tmp_path, cache):
    base = write_folders(tmp_path / "root")
    (base / "images_background/Alpha/character03").mkdir()
    with pytest.raises(RuntimeError, match="images_background/Alpha/character03 has 0") as err:
        load(tmp_path / "root")
    one_line(err)


def corrupt_member(zip_path: Path, member: str) -> None:
    """Overwrite the first bytes of a member's data (0xFF: an invalid deflate block / bad CRC)."""
    with zipfile.ZipFile(zip_path) as zf:
        info = zf.getinfo(member)
    raw = bytearray(zip_path.read_bytes())
    name_len, extra_len = (int.from_bytes(raw[info.header_offset + o : info.header_offset + o + 2],
                                          "little") for o in (26, 28))
    start = info.header_offset + 30 + name_len + extra_len
    raw[start : start + 8] = b"\xff" * 8
    zip_path.write_bytes(bytes(raw))


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_corrupt_zip_member_is_one_line_naming_it(tmp_path, cache, compression):
    folder = write_zips(tmp_path / "root", compression)
    member = "images_background/Alpha/character02/0004_02.png"
    corrupt_member(folder / "images_background.zip", member)
    with pytest.raises(RuntimeError) as err:
        load(tmp_path / "root")
    msg = one_line(err)
    assert member in msg and "images_background.zip" in msg
    assert err.value.__cause__ is None and err.value.__suppress_context__


@pytest.mark.parametrize("content", [{"images": torch.zeros(2, 2)},
                                     {"images": torch.zeros(3, 3, 28, 28, dtype=torch.uint8),
                                      "names": ["a"], "background": torch.ones(3), "size": 28},
                                     {"obj": Gadget()}])
def test_a_malformed_cache_names_itself_and_says_deleting_rebuilds_it(tmp_path, cache, content):
    write_folders(tmp_path / "root")
    path = Path(load(tmp_path / "root").meta["cache"])
    torch.save(content, path)
    with pytest.raises(RuntimeError, match="is malformed") as err:
        load(tmp_path / "root")
    msg = one_line(err)
    assert str(path) in msg and "delete it and the next load rebuilds it" in msg
    path.unlink()
    assert load(tmp_path / "root").images.shape == (3, 3, 28, 28)


def test_a_truncated_cache_is_rebuilt_with_a_warning(tmp_path, cache):
    write_folders(tmp_path / "root")
    path = Path(load(tmp_path / "root").meta["cache"])
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="could not be read .*rebuilding it"):
        again = load(tmp_path / "root")
    assert again.images.shape == (3, 3, 28, 28)
    assert safe_load(path)["images"].shape == (3, 3, 28, 28)


def test_the_cache_is_written_atomically_with_the_usual_mode(tmp_path, cache):
    write_folders(tmp_path / "root")
    old = os.umask(0o022)
    try:
        path = Path(load(tmp_path / "root").meta["cache"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in cache.iterdir()] == [path.name]


# ----------------------------------------------------------------------- 4. image scale

def uint8_data(n_classes: int = 6, n_samples: int = 5) -> ClassImages:
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(n_classes, n_samples, 4, 4, generator=g) * 255).round().to(torch.uint8)
    images[:, :, 0, 0] = 255                                          # every image has a stroke
    return ClassImages(images, tuple(map(str, range(n_classes))))


def test_float_images_already_in_unit_range_are_refused():
    data = uint8_data()
    scaled = data.images.float() / 255
    with pytest.raises(ValueError, match=r"torch.float32 with values in \[[\d.]+, 1\] \(already "
                                         r"scaled to \[0, 1\]\).*uint8") as err:
        sample_episode(scaled, 3, 1, 2)
    one_line(err)
    with pytest.raises(ValueError, match="already scaled"):
        next(EpisodeSampler(scaled, 3, 1, 2))
    noisy = data.images.double() + 0.5
    with pytest.raises(ValueError, match="torch.float64 .*not whole numbers"):
        sample_episode(noisy, 3, 1, 2)
    with pytest.raises(ValueError, match="torch.bool"):
        sample_episode(data.images > 100, 3, 1, 2)


def test_float_images_on_the_uint8_scale_are_taken_like_uint8():
    data = uint8_data()
    a = sample_episode(data, 3, 1, 2, 2, torch.Generator().manual_seed(1))
    b = sample_episode(data.images.float(), 3, 1, 2, 2, torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert a.support_x.max() <= 1


def test_episode_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\[classes, samples, H, W\], got shape \(6, 4, 4\)"):
        sample_episode(uint8_data().images[:, 0], 3, 1, 1)
    with pytest.raises(ValueError, match="n_tasks must be a positive integer, got 0"):
        EpisodeSampler(uint8_data(), 3, 1, 1, n_tasks=0)
    with pytest.raises(ValueError, match=r"x has shape \(2, 3, 4\).*k_shot=4"):
        split_support_query(torch.zeros(2, 3, 4), 4)
    with pytest.raises(ValueError, match="n_way must be a positive integer, got True"):
        sample_episode(uint8_data(), True, 1, 1)


# ----------------------------------------------------------------------------- 5. ProtoNet

def test_prototype_labels_out_of_range_name_the_range():
    emb = torch.randn(4, 2)
    with pytest.raises(ValueError, match=r"support_y run from 0 to 3 but must lie in \[0, 3\)"):
        prototypes(emb, torch.tensor([0, 1, 2, 3]), n_way=3)
    with pytest.raises(ValueError, match="run from -1 to 1"):
        prototypes(emb, torch.tensor([-1, 0, 1, 1]), n_way=2)
    with pytest.raises(ValueError, match="integer class indices, got torch.float32"):
        prototypes(emb, torch.tensor([0.0, 1.0, 0.0, 1.0]), n_way=2)
    with pytest.raises(ValueError, match="n_way must be an integer >= 1, got 0"):
        prototypes(emb, torch.tensor([0, 0, 0, 0]), n_way=0)


def test_prototype_length_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"support_emb \(4, 2\) and support_y \(3,\)") as err:
        prototypes(torch.randn(4, 2), torch.tensor([0, 1, 0]), n_way=2)
    one_line(err)
    with pytest.raises(ValueError, match=r"\(2, 4, 2\) and support_y \(3, 4\)"):
        prototypes(torch.randn(2, 4, 2), torch.zeros(3, 4, dtype=torch.long), n_way=1)


def test_distance_loss_and_accuracy_shapes_are_named():
    with pytest.raises(ValueError, match=r"queries z \(5, 3\) and prototypes c \(2, 4\)"):
        squared_distances(torch.randn(5, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"cosine_similarity: queries z \(5, 3\)"):
        protonet_logits(torch.randn(5, 3), torch.randn(2, 4), "cosine")
    with pytest.raises(ValueError, match=r"protonet_loss: logits \(6, 3\) and labels \(5,\)"):
        protonet_loss(torch.randn(6, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"query_y run from 0 to 3 but must lie in \[0, 3\)"):
        protonet_loss(torch.randn(4, 3), torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"accuracy: logits \(2, 6, 3\) and labels \(2, 5\)"):
        accuracy(torch.randn(2, 6, 3), torch.zeros(2, 5, dtype=torch.long))


def test_episode_logits_check_support_and_query_sizes():
    encoder = lambda x: x.flatten(1)                                   # noqa: E731
    sx, qx = torch.randn(2, 4, 1, 3, 3), torch.randn(3, 6, 1, 3, 3)
    sy = torch.arange(2).repeat_interleave(2).expand(2, -1)
    with pytest.raises(ValueError, match=r"support_x \(2, 4, 1, 3, 3\).*query_x \(3, 6, 1, 3, 3\)"):
        protonet_episode_logits(encoder, sx, sy, qx, 2)
    with pytest.raises(ValueError, match=r"support_y \(2, 3\)"):
        protonet_episode_logits(encoder, sx, sy[:, :3], qx[:2], 2)
    assert protonet_episode_logits(encoder, sx, sy, qx[:2], 2).shape == (2, 6, 2)
