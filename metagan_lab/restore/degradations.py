"""Degradations as task families: each is a pure function of the clean image and one setting.

A *task* is one degradation setting (a noise level, a blur kernel, a mask fraction, a scale
factor). Meta-training draws settings from the training ranges below; meta-testing uses settings
outside them (unseen σ, unseen kernels, a larger mask fraction, ×4 instead of ×2).

symbol                      code name
x  (clean image)            x        [B, C, H, W] in [0, 1]
y = A_s(x) (+ noise)        degrade(x, setting, generator).degraded
σ (noise std)               Setting("noise", sigma)
k_w (Gaussian, width w)     gaussian_kernel(w);   y = k_w * x           (blur)
k_L,φ (motion, length L)    motion_kernel(L, φ);  y = k_L,φ * x         (motion)
m (1 = observed pixel)      random_mask(...);     y = m ⊙ x            (inpaint)
↓s then ↑s (bicubic)        downsample(x, s);     y = upsample(↓s x)   (downsample)
g (gain), γ (gamma)         exposure(x, g, γ);    y = Q₈(clip(g·x^γ, 0, 1))   (exposure)
N shots of one image        burst(x, s, N);  y = Σ_n m_n y_n / Σ_n m_n  (fuse_burst: the mean)

Q₈(v) = round(255·v)/255 is the 8-bit quantisation of a camera: a dark exposure (g < 1, γ > 1)
keeps fewer grey levels, so brightening it back shows banding — no exact inverse exists.
``exposure`` is an extra kind (``KINDS``), not in the default family ``DEGRADATIONS``.

Explained in ``notebooks/08_meta_restoration.ipynb``, §1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

DEGRADATIONS = ("noise", "blur", "motion", "inpaint", "downsample")   # the default family
KINDS = DEGRADATIONS + ("exposure",)                                   # every kind degrade knows
STRENGTH_NAMES = {"noise": "sigma", "blur": "kernel width", "motion": "kernel length",
                  "inpaint": "fraction missing", "downsample": "factor", "exposure": "gain"}


class Setting(NamedTuple):
    """One degradation task: ``kind`` in KINDS, ``strength`` (σ, width, length, fraction
    missing, factor or exposure gain g), ``angle`` in degrees (motion blur only), ``gamma``
    γ (exposure only)."""

    kind: str
    strength: float
    angle: float = 0.0
    gamma: float = 1.0

    def label(self) -> str:
        extra = (f", {self.angle:g}°" if self.kind == "motion"
                 else f", γ={self.gamma:g}" if self.kind == "exposure" else "")
        return f"{self.kind} {STRENGTH_NAMES.get(self.kind, 'strength')}={self.strength:g}{extra}"


class Observation(NamedTuple):
    """degraded [B, C, H, W] (same size as x, the restorer's input); known [B, 1, H, W] bool,
    False where pixels are missing (inpainting), True elsewhere."""

    degraded: Tensor
    known: Tensor


def check_images(x: Tensor, channels: int | None = None, name: str = "images") -> Tensor:
    """Images must be a float tensor [B, C, H, W]; ``channels`` pins C when given."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor [B, C, H, W], got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have rank 4 [B, C, H, W], got rank {x.dim()} with shape "
                         f"{tuple(x.shape)}; add axes with x[None] or x[:, None]")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} have {x.shape[1]} channels, expected {channels} "
                         f"(shape {tuple(x.shape)}); convert to grayscale or change channels")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be floating point in [0, 1], got {x.dtype}; "
                         "use metagan_lab.data.to_float")
    return x


def check_setting(setting: Setting) -> Setting:
    """Validate a setting's kind and strength; errors name the value and the allowed range."""
    kind, s = setting.kind, float(setting.strength)
    if kind not in KINDS:
        raise ValueError(f"unknown degradation {kind!r}; allowed: {', '.join(KINDS)}")
    if not math.isfinite(s):
        raise ValueError(f"{kind} strength must be finite, got {s}")
    if kind == "noise" and s < 0:
        raise ValueError(f"noise sigma={s} is negative; allowed range is sigma >= 0")
    if kind == "blur" and s <= 0:
        raise ValueError(f"blur kernel width={s} must be > 0 (pixels)")
    if kind == "motion" and (s < 1 or s != int(s)):
        raise ValueError(f"motion kernel length={s} must be a whole number >= 1 (pixels)")
    if kind == "inpaint" and not 0 <= s < 1:
        raise ValueError(f"inpaint fraction missing={s} is outside the allowed range [0, 1)")
    if kind == "downsample" and (s < 1 or s != int(s)):
        raise ValueError(f"downsample factor={s} must be a whole number >= 1 (e.g. 2 or 4)")
    if kind == "exposure" and not (s > 0 and math.isfinite(setting.gamma) and setting.gamma > 0):
        raise ValueError(f"exposure gain={s} and gamma={setting.gamma} must both be > 0 "
                         "(gain 1, gamma 1 is the unchanged image)")
    return setting


def _rng_device(generator: torch.Generator | None, device) -> torch.device:
    """Draw random numbers where the generator lives (then move them), so a CPU generator can
    seed degradations of images on the GPU."""
    return generator.device if generator is not None else torch.device(device or "cpu")


def add_noise(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """y = x + σ n,  n ~ N(0, I)."""
    check_images(x)
    check_setting(Setting("noise", sigma))
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype,
                        device=_rng_device(generator, x.device))    # a CPU generator works on GPU
    return x + sigma * noise.to(x.device)


def gaussian_kernel(width: float, radius: int | None = None, dtype=torch.float32) -> Tensor:
    """k(i, j) = exp(−(i² + j²) / 2w²) / Σ exp(·), for |i|, |j| ≤ r = ⌈3w⌉. Returns [2r+1, 2r+1]."""
    check_setting(Setting("blur", width))
    r = math.ceil(3 * width) if radius is None else radius
    t = torch.arange(-r, r + 1, dtype=dtype)
    g = torch.exp(-t.square() / (2 * width**2))                           # [2r+1]
    k = g[:, None] * g[None, :]                                           # separable, [2r+1, 2r+1]
    return k / k.sum()


def motion_kernel(length: int, angle: float = 0.0, dtype=torch.float32) -> Tensor:
    """A straight motion path of ``length`` pixels at ``angle`` degrees, bilinearly drawn and
    normalised to sum 1. Returns [L', L'] with L' = length rounded up to an odd size."""
    check_setting(Setting("motion", length))
    size = int(length) + (1 - int(length) % 2)                           # odd, centred
    c = (size - 1) / 2
    t = torch.linspace(-(length - 1) / 2, (length - 1) / 2, 8 * int(length), dtype=torch.float64)
    phi = math.radians(angle)
    px, py = c + t * math.cos(phi), c - t * math.sin(phi)                 # path points, [8L]
    k = torch.zeros(size, size, dtype=torch.float64)
    x0, y0 = px.floor(), py.floor()
    for dx in (0, 1):                                                     # bilinear splatting
        for dy in (0, 1):
            w = (1 - (px - x0 - dx).abs()) * (1 - (py - y0 - dy).abs())
            xi, yi = (x0 + dx).long(), (y0 + dy).long()
            ok = (xi >= 0) & (xi < size) & (yi >= 0) & (yi < size)
            k.index_put_((yi[ok], xi[ok]), w[ok], accumulate=True)
    return (k / k.sum()).to(dtype)


def blur(x: Tensor, kernel: Tensor) -> Tensor:
    """y = k * x per channel, with reflect padding so the output keeps x's size.

    (Correlation with k; the kernels here are symmetric under 180° rotation, so it equals
    convolution.)
    """
    check_images(x)
    r = kernel.shape[-1] // 2
    if r >= min(x.shape[-2:]):
        raise ValueError(f"blur kernel radius {r} must be smaller than the image side "
                         f"{min(x.shape[-2:])}; use a smaller width/length or larger images")
    c = x.shape[1]
    weight = kernel.to(x)[None, None].expand(c, 1, -1, -1)                # [C, 1, k, k]
    padded = F.pad(x, (r, r, r, r), mode="reflect")                      # [B, C, H+2r, W+2r]
    return F.conv2d(padded, weight, groups=c)                             # [B, C, H, W]


def random_mask(shape: tuple[int, ...], fraction: float,
                generator: torch.Generator | None = None, device=None) -> Tensor:
    """m ∈ {0, 1}^{B×1×H×W} with exactly round(fraction·H·W) zeros (missing) per image."""
    check_setting(Setting("inpaint", fraction))
    b, _, h, w = shape
    n_missing = round(fraction * h * w)
    scores = torch.rand(b, h * w, generator=generator, device=_rng_device(generator, device))
    order = scores.to(device).argsort(dim=1)                              # a random permutation
    known = torch.ones(b, h * w, dtype=torch.bool, device=device)
    known.scatter_(1, order[:, :n_missing], False)
    return known.view(b, 1, h, w)


def downsample(x: Tensor, factor: int) -> Tensor:
    """↓s x: the mean of each s×s block. [B, C, H, W] → [B, C, H/s, W/s]."""
    check_images(x)
    check_setting(Setting("downsample", factor))
    s = int(factor)
    if x.shape[-1] % s or x.shape[-2] % s:
        raise ValueError(f"downsample factor={s} must divide the image size {tuple(x.shape[-2:])}")
    return F.avg_pool2d(x, s)


def upsample(x: Tensor, size: tuple[int, int]) -> Tensor:
    """↑ bicubic interpolation back to ``size`` (the restorer's input for super-resolution)."""
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False)


def quantize8(v: Tensor) -> Tensor:
    """Q₈(v) = round(255·v) / 255: an 8-bit camera's grey levels."""
    return torch.round(255 * v) / 255


def exposure(x: Tensor, gain: float, gamma: float = 1.0) -> Tensor:
    """y = Q₈(clip(g · x^γ, 0, 1)): a lighting / exposure change (g < 1 darker, γ > 1 darker
    mid-tones), clipped and quantised as a camera would record it."""
    check_images(x)
    check_setting(Setting("exposure", gain, gamma=gamma))
    return quantize8((gain * x.clamp_min(0) ** gamma).clamp(0, 1))


def degrade(x: Tensor, setting: Setting, generator: torch.Generator | None = None) -> Observation:
    """y = A_s(x): apply one degradation setting to a batch of clean images x [B, C, H, W]."""
    check_images(x)
    kind, s = check_setting(setting)[:2]
    known = torch.ones(x.shape[0], 1, *x.shape[-2:], dtype=torch.bool, device=x.device)
    if kind == "noise":
        return Observation(add_noise(x, s, generator), known)
    if kind == "blur":
        return Observation(blur(x, gaussian_kernel(s, dtype=x.dtype)), known)
    if kind == "motion":
        return Observation(blur(x, motion_kernel(int(s), setting.angle, dtype=x.dtype)), known)
    if kind == "inpaint":
        known = random_mask(x.shape, s, generator, x.device)
        return Observation(x * known, known)
    if kind == "exposure":
        return Observation(exposure(x, s, setting.gamma), known)
    return Observation(upsample(downsample(x, int(s)), tuple(x.shape[-2:])), known)


def burst(x: Tensor, setting: Setting, n_shots: int,
          generator: torch.Generator | None = None) -> list[Observation]:
    """N shots y_n = A_s(x) of the same images, each with fresh noise / mask (blur, exposure and
    down-sampling are deterministic here, so their shots are identical)."""
    if not isinstance(n_shots, int) or n_shots < 1:
        raise ValueError(f"n_shots={n_shots!r} must be a whole number >= 1 (1 = a single shot)")
    return [degrade(x, setting, generator) for _ in range(n_shots)]


def fuse_burst(shots: list[Observation]) -> Observation:
    """The burst's per-pixel mean over the shots that observed the pixel:
    y = Σ_n m_n ⊙ y_n / max(Σ_n m_n, 1), known = ∨_n m_n. Averaging N independent noisy shots
    divides the noise std by √N; for masks it keeps every pixel some shot saw."""
    if not shots:
        raise ValueError("fuse_burst needs at least one shot")
    m = torch.stack([s.known for s in shots]).to(shots[0].degraded.dtype)  # [N, B, 1, H, W]
    y = torch.stack([s.degraded for s in shots])                           # [N, B, C, H, W]
    fused = (m * y).sum(0) / m.sum(0).clamp_min(1.0)                       # [B, C, H, W]
    return Observation(fused, m.sum(0) > 0)


def degrade_burst(x: Tensor, setting: Setting, n_shots: int = 1,
                  generator: torch.Generator | None = None) -> Observation:
    """y = fuse_burst(N shots of A_s(x)); ``n_shots=1`` is ``degrade`` itself."""
    if n_shots == 1:
        return degrade(x, setting, generator)
    return fuse_burst(burst(x, setting, n_shots, generator))


def kernel_of(setting: Setting, dtype=torch.float64) -> Tensor | None:
    """The blur kernel of a blur/motion setting (None for the others)."""
    if setting.kind == "blur":
        return gaussian_kernel(setting.strength, dtype=dtype)
    if setting.kind == "motion":
        return motion_kernel(int(setting.strength), setting.angle, dtype=dtype)
    return None


# Task families: training ranges and unseen test settings -----------------------------------

TRAIN_RANGES: dict[str, tuple[float, float]] = {
    "noise": (0.02, 0.15),       # σ ~ U[0.02, 0.15]
    "blur": (0.6, 1.4),          # Gaussian width ~ U[0.6, 1.4] px
    "motion": (3, 5),            # length ∈ {3, 5} px, angle ~ U[0°, 180°)
    "inpaint": (0.1, 0.5),       # fraction missing ~ U[0.1, 0.5]
    "downsample": (2, 2),        # ×2 only
    "exposure": (0.6, 1.4),      # gain g ~ U[0.6, 1.4], γ ~ U[EXPOSURE_GAMMA_RANGE]
}
EXPOSURE_GAMMA_RANGE = (0.8, 1.25)
TEST_SETTINGS: tuple[Setting, ...] = (
    Setting("noise", 0.25),           # stronger noise than any seen
    Setting("blur", 2.0),             # wider kernel than any seen
    Setting("motion", 7, 30.0),       # longer motion path
    Setting("inpaint", 0.7),          # more pixels missing
    Setting("downsample", 4),         # ×4 when only ×2 was seen
    Setting("exposure", 0.3, gamma=1.6),  # much darker than any seen (an under-exposed shot)
)


@dataclass(frozen=True)
class TaskFamily:
    """Which degradations a meta-learner sees, and where their settings are drawn from."""

    kinds: tuple[str, ...] = DEGRADATIONS
    ranges: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(TRAIN_RANGES))
    test: tuple[Setting, ...] = TEST_SETTINGS

    def __post_init__(self) -> None:
        if not self.kinds:
            raise ValueError(f"a task family needs at least one degradation of {DEGRADATIONS}")
        for kind in self.kinds:
            check_setting(Setting(kind, 1 if kind in ("motion", "downsample") else 0.1))
            if kind not in self.ranges:
                raise ValueError(f"no training range for {kind!r}; give ranges[{kind!r}] = "
                                 "(lo, hi)")

    def sample(self, generator: torch.Generator | None = None) -> Setting:
        """A training setting: a kind uniformly, then its strength from its training range."""
        kind = self.kinds[int(torch.randint(len(self.kinds), (1,), generator=generator))]
        lo, hi = self.ranges[kind]
        u = float(torch.rand((), generator=generator))
        if kind == "motion":
            lengths = list(range(int(lo), int(hi) + 1, 2))
            length = lengths[int(u * len(lengths)) % len(lengths)]
            angle = 180.0 * float(torch.rand((), generator=generator))
            return Setting(kind, length, angle)
        if kind == "downsample":
            return Setting(kind, int(lo) if u < 0.5 else int(hi))
        if kind == "exposure":
            g_lo, g_hi = EXPOSURE_GAMMA_RANGE
            gamma = g_lo + (g_hi - g_lo) * float(torch.rand((), generator=generator))
            return Setting(kind, lo + (hi - lo) * u, gamma=gamma)
        return Setting(kind, lo + (hi - lo) * u)

    def test_settings(self) -> tuple[Setting, ...]:
        """The unseen settings of the kinds in this family."""
        return tuple(s for s in self.test if s.kind in self.kinds)

    def in_training_range(self, setting: Setting) -> bool:
        lo, hi = self.ranges[setting.kind]
        if setting.kind == "exposure":
            g_lo, g_hi = EXPOSURE_GAMMA_RANGE
            return lo <= setting.strength <= hi and g_lo <= setting.gamma <= g_hi
        return lo <= setting.strength <= hi


def parse_kinds(text: str) -> tuple[str, ...]:
    """'noise,blur' → ('noise', 'blur'); 'all' → the default family DEGRADATIONS (add extra kinds
    such as 'exposure' by name); unknown names are errors."""
    if text.strip() == "all":
        return DEGRADATIONS
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    for k in kinds:
        check_setting(Setting(k, 1 if k in ("motion", "downsample") else 0.1))
    return kinds
