"""``scripts/restore_results.py``'s verdict on issue #12's three checks, on hand-made rows
(reference: the numbers worked out by hand in each assertion's comment)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("restore_results",
                                                  ROOT / "scripts/restore_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(setting: str, psnr: dict[tuple[str, int], float]) -> list[dict]:
    return [{"setting": setting, "method": m, "steps": k, "psnr": v} for (m, k), v in psnr.items()]


def _table(meta_10: float, pretrained_0: float) -> list[dict]:
    noise = {("scratch", 0): 13.0, ("scratch", 10): 14.0, ("classical (skimage)", 10): 24.0,
             ("pretrained on all", 0): 22.0, ("pretrained on all", 10): 24.5,
             ("meta-learned init", 0): 22.0, ("meta-learned init", 10): 25.6}
    sr = {("scratch", 0): 28.77, ("scratch", 10): 28.77, ("classical (skimage)", 10): 28.77,
          ("pretrained on all", 0): pretrained_0, ("pretrained on all", 10): 28.5,
          ("meta-learned init", 0): 28.5, ("meta-learned init", 10): meta_10}
    return _script().summary(_rows("noise σ=0.25", noise) + _rows("×4", sr), (0, 10))


def test_a_learned_net_above_the_degraded_input_by_any_margin_passes():
    m = _script()
    table = _table(meta_10=28.6, pretrained_0=28.96)     # ×4: best learned 28.96 > 28.77
    assert [s["best_learned"] for s in table] == [25.6, 28.96]
    verdict = m.checks(table)
    assert verdict["learned beats degraded everywhere"]
    assert verdict["learned beats classical on noise"]              # 25.6 > 24.0
    # noise: 25.6 − max(14.0, 24.5) = 1.1; ×4: 28.6 − max(28.77, 28.5) = −0.17
    assert not verdict["meta beats both baselines by >= 1 dB everywhere"]
    assert abs(table[1]["meta_minus_best_baseline"][10] + 0.17) < 1e-9


def test_no_learned_net_above_the_degraded_input_fails_and_a_1_db_meta_win_passes():
    m = _script()
    assert not m.checks(_table(meta_10=28.7, pretrained_0=28.6))[
        "learned beats degraded everywhere"]                        # ×4: 28.7 < 28.77
    verdict = m.checks(_table(meta_10=29.8, pretrained_0=28.6))    # ×4: 29.8 − 28.77 = 1.03
    assert verdict["learned beats degraded everywhere"]
    assert verdict["meta beats both baselines by >= 1 dB everywhere"]
