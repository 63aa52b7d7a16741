"""Few-shot generation by meta-learning: a Reptile-trained GAN in the spirit of FIGR
(Clouâtre & Demers 2019), and the baselines it must beat.

paper symbol                         code name
θ = (θ_G, θ_D)                       theta_g, theta_d  (explicit Params dicts)
task τ = one character class         GANClassTask(G, D, images of the class, …)
k inner steps (1 D + 1 G step each)  InnerLoop(lr=α, steps=k) = cfg.inner()
φ̃ = weights after k steps on τ       adapt_gan_task(task, θ_G, θ_D, inner) → (φ_G, φ_D)
θ ← θ + ε (mean_τ φ̃_τ − θ)            ``meta.reptile.reptile_update`` on the joint dict (θ_G, θ_D)
K shots of an unseen class           shots [K, 1, 28, 28]; adapt_gan(...)

A GAN's class is a task with a loss per player. Each of its k inner steps is a D step, then a G
step through the just-updated D; each half-step is the core's ``meta.task.adapt_task`` (one step,
first order: Reptile never differentiates through the inner loop) on a one-player ``Task``:
``GANClassTask.discriminator_task(φ_G, batch)`` (L_D, G's samples held constant) and
``GANClassTask.generator_task(φ_D, batch)`` (L_G through D_φD). Meta-training runs on the library's
one loop (``training.run_loop``). Explained in ``notebooks/07_few_shot_generation.ipynb``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..checks import finite_params, non_negative_number, positive_int, unit_interval
from ..meta.functional import InnerLoop
from ..meta.reptile import EPSILON_HINT, reptile_update
from ..meta.task import adapt_task
from ..models import params_of
from ..training import LoopSpec, StepResult, run_loop
from ..types import Params
from .hypergrad import check_lr
from .losses import get_losses
from .models import DCDiscriminator, DCGenerator


@dataclass(frozen=True)
class FewShotGANConfig:
    loss: str = "nonsaturating"   # see gan.losses.LOSSES (WGAN-GP's penalty is not used here)
    inner_lr: float = 0.05        # α of the inner SGD steps (meta-training and adaptation)
    inner_steps: int = 5          # k: (D step, G step) pairs per task
    epsilon: float = 0.1          # ε, Reptile's outer step size
    meta_batch: int = 4           # classes (tasks) per meta-iteration
    task_batch: int = 10          # images of the class used in each inner step
    z_dim: int = 32
    width: int = 32
    seed: int = 0

    def inner(self, steps: int | None = None, inner_lr: float | None = None) -> InnerLoop:
        """The inner loop of a class task: α, k (D step + G step pairs), first order."""
        lr = self.inner_lr if inner_lr is None else inner_lr
        check_lr("inner_lr (α)", lr)
        return InnerLoop(lr=lr, steps=self.inner_steps if steps is None else steps,
                         first_order=True)


def check_fewshot_config(cfg: FewShotGANConfig) -> FewShotGANConfig:
    """Raise ValueError naming the first bad value of a meta-training configuration."""
    get_losses(cfg.loss)
    check_lr("inner_lr (α)", cfg.inner_lr)
    positive_int("inner_steps", cfg.inner_steps, minimum=0)
    unit_interval("epsilon (ε)", cfg.epsilon, EPSILON_HINT)
    for name in ("meta_batch", "task_batch", "z_dim", "width"):
        positive_int(name, getattr(cfg, name))
    return cfg


def check_k_shot(k_shot: int, n_available: int) -> int:
    """Raise ValueError unless 1 ≤ K ≤ the images available for the class."""
    if not isinstance(k_shot, int) or not 1 <= k_shot <= n_available:
        raise ValueError(f"k_shot must be an integer in [1, {n_available}], got {k_shot!r}")
    return k_shot


def make_gan(cfg: FewShotGANConfig, device: str | torch.device = "cpu",
             seed: int | None = None) -> tuple[DCGenerator, DCDiscriminator]:
    """A fresh unconditional DCGAN pair, initialised from ``seed`` (default cfg.seed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed if seed is None else seed)
        return (DCGenerator(cfg.z_dim, cfg.width).to(device),
                DCDiscriminator(cfg.width).to(device))


def _leaf(params: Params) -> Params:
    return {k: v.detach().requires_grad_(True) for k, v in params.items()}


@dataclass(frozen=True)
class PlayerTask:
    """One player's loss at the other player's current weights, as a ``meta.task.Task``: a GAN
    has no held-out query set inside its inner loop, so the query loss is the support loss."""

    loss: Callable[[Params], Tensor]

    def support_loss(self, params: Params) -> Tensor:
        return self.loss(params)

    def query_loss(self, params: Params) -> Tensor:
        return self.loss(params)


@dataclass(frozen=True)
class GANClassTask:
    """One class τ of the few-shot GAN: a two-player task (the small extension of
    ``meta.task.Task`` a GAN needs; ``adapt_gan_task`` is its ``adapt_task``).

    sample()                                  x [b, 1, 28, 28], z_D [b, z], z_G [b, z]: a fresh
                                              batch for one inner step (``batch_size`` images drawn
                                              with replacement; None: all N images every step)
    discriminator_task(φ_G, x, z_D).support_loss(φ_D) = L_D(D_φD(x), D_φD(G_φG(z_D)))
                                              (G's samples are constants of D's step)
    generator_task(φ_D, z_G).support_loss(φ_G) = L_G(D_φD(G_φG(z_G)))
    """

    G: nn.Module
    D: nn.Module
    images: Tensor                       # [N, 1, 28, 28], on the models' device
    loss: str = "nonsaturating"
    batch_size: int | None = None
    rng: torch.Generator | None = None

    def sample(self) -> tuple[Tensor, Tensor, Tensor]:
        images, device = self.images, self.images.device
        n = images.shape[0]
        if self.batch_size is None:
            x, b = images, n
        else:
            idx = torch.randint(0, n, (self.batch_size,), generator=self.rng)
            x, b = images[idx.to(device)], self.batch_size
        z_d = torch.randn(b, self.G.z_dim, generator=self.rng, dtype=images.dtype).to(device)
        z_g = torch.randn(b, self.G.z_dim, generator=self.rng, dtype=images.dtype).to(device)
        return x, z_d, z_g

    def discriminator_task(self, phi_g: Params, x: Tensor, z: Tensor) -> PlayerTask:
        d_loss_fn, _ = get_losses(self.loss)
        with torch.no_grad():
            fake = functional_call(self.G, phi_g, (z,))                    # [b, 1, 28, 28]
        both, b = torch.cat([x, fake]), x.shape[0]

        def loss(phi_d: Params) -> Tensor:
            logits = functional_call(self.D, phi_d, (both,))               # one pass: [2b, 1]
            return d_loss_fn(logits[:b], logits[b:])

        return PlayerTask(loss)

    def generator_task(self, phi_d: Params, z: Tensor) -> PlayerTask:
        _, g_loss_fn = get_losses(self.loss)
        phi_d = {k: v.detach() for k, v in phi_d.items()}
        return PlayerTask(lambda phi_g: g_loss_fn(
            functional_call(self.D, phi_d, (functional_call(self.G, phi_g, (z,)),))))


def adapt_gan_task(task: GANClassTask, theta_g: Params, theta_d: Params,
                   inner: InnerLoop) -> tuple[Params, Params]:
    """(φ_G, φ_D) after ``inner.steps`` alternating steps on one class:
    φ_D ← φ_D − α ∇L_D(x, G_φG(z)),  then  φ_G ← φ_G − α ∇L_G(D_φD(G_φG(z'))).
    Each half-step is ``adapt_task`` with one first-order step; θ is not mutated."""
    one = dataclasses.replace(inner, steps=1, first_order=True)
    phi_g, phi_d = _leaf(theta_g), _leaf(theta_d)
    for _ in range(inner.steps):
        x, z_d, z_g = task.sample()
        phi_d = _leaf(adapt_task(task.discriminator_task(phi_g, x, z_d), phi_d, one))
        phi_g = _leaf(adapt_task(task.generator_task(phi_d, z_g), phi_g, one))
    return ({k: v.detach() for k, v in phi_g.items()}, {k: v.detach() for k, v in phi_d.items()})


def gan_inner_loop(G: nn.Module, D: nn.Module, theta_g: Params, theta_d: Params, images: Tensor,
                   inner_steps: int, inner_lr: float, loss: str = "nonsaturating",
                   batch_size: int | None = None,
                   rng: torch.Generator | None = None) -> tuple[Params, Params]:
    """k alternating SGD steps of D then G on one class's images [N, 1, 28, 28] → (φ_G, φ_D):
    ``adapt_gan_task`` on ``GANClassTask(G, D, images, loss, batch_size, rng)``."""
    check_lr("inner_lr (α)", inner_lr)
    inner = InnerLoop(lr=inner_lr, steps=inner_steps, first_order=True)
    return adapt_gan_task(GANClassTask(G, D, images, loss, batch_size, rng), theta_g, theta_d,
                          inner)


def joint(theta_g: Params, theta_d: Params) -> Params:
    """(θ_G, θ_D) as one dict {"G.<name>": …, "D.<name>": …} (what Reptile moves)."""
    return {**{f"G.{k}": v for k, v in theta_g.items()},
            **{f"D.{k}": v for k, v in theta_d.items()}}


def split_joint(theta: Params) -> tuple[Params, Params]:
    """The inverse of ``joint``."""
    return ({k[2:]: v for k, v in theta.items() if k.startswith("G.")},
            {k[2:]: v for k, v in theta.items() if k.startswith("D.")})


def reptile_gan_step(G: nn.Module, D: nn.Module, theta_g: Params, theta_d: Params,
                     class_images: Tensor, cfg: FewShotGANConfig,
                     rng: torch.Generator) -> tuple[Params, Params]:
    """One meta-iteration: meta_batch random classes, k inner steps each, then
    θ ← θ + ε (mean_τ φ̃_τ − θ) (``meta.reptile.reptile_update``) on (θ_G, θ_D) together.
    Returns the new (θ_G, θ_D); the inputs are not mutated.

    class_images: float [C, S, 1, 28, 28] on the models' device.
    """
    classes = torch.randperm(class_images.shape[0], generator=rng)[:cfg.meta_batch]
    inner = cfg.inner()
    phis = [adapt_gan_task(GANClassTask(G, D, class_images[c], cfg.loss, cfg.task_batch, rng),
                           theta_g, theta_d, inner) for c in classes.tolist()]
    with torch.no_grad():
        new = reptile_update(joint(theta_g, theta_d), [joint(*p) for p in phis], cfg.epsilon)
    return split_joint(new)


def meta_train_gan(class_images: Tensor, cfg: FewShotGANConfig, iterations: int,
                   device: str | torch.device = "cpu", progress: bool = False,
                   init: tuple[Params, Params] | None = None, *,
                   checkpoint: str | Path | None = None, max_seconds: float | None = None,
                   val_every: int = 50
                   ) -> tuple[DCGenerator, DCDiscriminator, Params, Params]:
    """Reptile meta-training over classes: uint8 [C, S, 28, 28] → (G, D, θ_G, θ_D).

    Runs on the library's one loop (``training.run_loop``): weights that become NaN, infinite or
    exploded stop it with ``checks.TrainingDiverged`` (naming the iteration and what to try);
    with ``checkpoint`` set, every ``val_every`` iterations a checkpoint with finite weights is
    written there; ``max_seconds`` stops it early.
    """
    check_fewshot_config(cfg)
    positive_int("iterations", iterations, minimum=0)
    if max_seconds is not None:
        non_negative_number("max_seconds", max_seconds)
    G, D = make_gan(cfg, device)
    theta_g, theta_d = init if init is not None else (params_of(G, False), params_of(D, False))
    images = (class_images.unsqueeze(2).float() / 255.0).to(device)          # [C, S, 1, 28, 28]
    rng = torch.Generator().manual_seed(cfg.seed)
    fix = f"lower inner_lr (now {cfg.inner_lr:g}) or epsilon (now {cfg.epsilon:g})"
    current = {"g": theta_g, "d": theta_d}

    def step(it: int) -> StepResult:
        new_g, new_d = reptile_gan_step(G, D, current["g"], current["d"], images, cfg, rng)
        finite_params("the Reptile GAN step", joint(new_g, new_d), fix)
        current["g"], current["d"] = new_g, new_d
        return StepResult(None)

    def state(it: int) -> dict:
        cpu = lambda d: {k: v.detach().cpu() for k, v in d.items()}  # noqa: E731
        return {"kind": "fewshot_gan_meta", "config": dataclasses.asdict(cfg), "iteration": it,
                "theta_g": cpu(current["g"]), "theta_d": cpu(current["d"])}

    run_loop(step, LoopSpec(iterations=iterations, params=lambda: joint(current["g"], current["d"]),
                            state=state, val_every=val_every,
                            checkpoint=Path(checkpoint) if checkpoint is not None else None,
                            max_seconds=max_seconds, desc="Reptile GAN", fix=fix,
                            progress=progress))
    return G, D, current["g"], current["d"]


def adapt_gan(G: nn.Module, D: nn.Module, theta_g: Params, theta_d: Params, shots: Tensor,
              inner_steps: int, inner_lr: float, loss: str = "nonsaturating",
              seed: int = 0) -> tuple[Params, Params]:
    """Adapt (θ_G, θ_D) to an unseen class from its K shots [K, 1, 28, 28] in k steps."""
    check_k_shot(shots.shape[0], shots.shape[0])
    positive_int("inner_steps", inner_steps, minimum=0)
    rng = torch.Generator().manual_seed(seed)
    return gan_inner_loop(G, D, theta_g, theta_d, shots, inner_steps, inner_lr, loss, None, rng)


def generate(G: nn.Module, theta_g: Params, n: int, seed: int = 0) -> Tensor:
    """n samples G_θ(z) [n, 1, 28, 28] from fixed noise (same z for every method compared)."""
    ref = next(iter(theta_g.values()))
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed), dtype=ref.dtype)
    with torch.no_grad():
        return functional_call(G, theta_g, (z.to(ref.device),))


def evaluate_fewshot(G: nn.Module, D: nn.Module, inits: dict[str, tuple[Params, Params]],
                     test_images: Tensor, feature: nn.Module, k_shot: int, inner_steps: int,
                     inner_lr: float | dict[str, float], n_classes: int = 10, n_fake: int = 100,
                     seed: int = 0,
                     loss: str = "nonsaturating", adapt_methods: tuple[str, ...] | None = None,
                     ) -> dict[str, list[float]]:
    """Fréchet distance per unseen class for each initialisation in ``inits``.

    test_images: uint8 [C, S, 28, 28]. For each of ``n_classes`` classes, K shots are drawn; each
    init in ``adapt_methods`` (default: all) is adapted on them for k steps, the others are used
    as they are; ``n_fake`` samples are compared with the class's S − K remaining images.
    ``inner_lr`` may be one α for all, or a dict method → α. A method whose adaptation diverges
    (non-finite samples) scores FD = inf for that class.
    """
    check_k_shot(k_shot, test_images.shape[1] - 2)
    adapt_methods = tuple(inits) if adapt_methods is None else adapt_methods
    gen = torch.Generator().manual_seed(seed)
    device = next(iter(next(iter(inits.values()))[0].values())).device
    classes = torch.randperm(test_images.shape[0], generator=gen)[:n_classes]
    out: dict[str, list[float]] = {name: [] for name in inits}
    from .metrics import frechet_distance

    for c in classes.tolist():
        order = torch.randperm(test_images.shape[1], generator=gen)
        imgs = (test_images[c, order].unsqueeze(1).float() / 255.0).to(device)  # [S, 1, 28, 28]
        shots, held_out = imgs[:k_shot], imgs[k_shot:]
        for name, (tg, td) in inits.items():
            if name in adapt_methods:
                lr = inner_lr[name] if isinstance(inner_lr, dict) else inner_lr
                tg, _ = adapt_gan(G, D, tg, td, shots, inner_steps, lr, loss, seed=c)
            fake = generate(G, tg, n_fake, seed=c)
            out[name].append(frechet_distance(held_out, fake, feature)
                             if torch.isfinite(fake).all() else math.inf)
    return out


def pretrain_gan(class_images: Tensor, cfg: FewShotGANConfig, steps: int, batch_size: int = 64,
                 lr: float = 2e-4, device: str | torch.device = "cpu",
                 progress: bool = False) -> tuple[Params, Params]:
    """Baseline (c): one DCGAN trained with Adam on the images of all training classes pooled
    (uint8 [C, S, 28, 28]); its weights are then fine-tuned like the meta-initialisation."""
    from .train import GANConfig, image_sampler, make_gan_state, train_steps

    G, D = make_gan(cfg, device)
    gan_cfg = GANConfig(loss=cfg.loss, lr_g=lr, lr_d=lr, batch_size=batch_size, seed=cfg.seed,
                        check_every=max(steps, 1))
    state = make_gan_state(G, D, image_sampler(class_images), gan_cfg, device)
    train_steps(state, steps, progress=progress)
    return params_of(G, False), params_of(D, False)


def select_inner_lr(G: nn.Module, D: nn.Module, inits: dict[str, tuple[Params, Params]],
                    val_images: Tensor, feature: nn.Module, k_shot: int, inner_steps: int,
                    candidates: tuple[float, ...] = (0.05, 0.01, 0.002), n_classes: int = 5,
                    n_fake: int = 100, seed: int = 0, loss: str = "nonsaturating",
                    ) -> dict[str, float]:
    """Each method's adaptation α chosen by mean FD on validation classes (never test classes),
    so that every baseline gets its best learning rate."""
    best: dict[str, tuple[float, float]] = {}
    for lr in candidates:
        fd = evaluate_fewshot(G, D, inits, val_images, feature, k_shot, inner_steps, lr,
                              n_classes, n_fake, seed, loss)
        for name, values in fd.items():
            score = sum(values) / len(values)
            if name not in best or score < best[name][1]:
                best[name] = (lr, score)
    return {name: lr for name, (lr, _) in best.items()}
