"""Few-shot generation with a meta-learned VAE: Reptile over character classes, each class a task
whose loss is the negative ELBO of its images (the VAE of ``gan/vae.py``).

paper symbol                           code name
θ (encoder and decoder weights)        theta (explicit Params of a ``gan.vae.VAE``)
task τ = one character class           VAEClassTask(model, images of the class, batch_size, rng)
ε_z ~ N(0, I) of z = μ + σ ⊙ ε_z       noise [b, z_dim] (drawn by the task's generator)
L_τ(θ) = −ELBO(θ; x ∈ τ)               negative_elbo(model, θ, x, noise)
φ̃_τ = k inner steps on L_τ from θ      meta.task.adapt_task(task, θ, cfg.inner())
θ ← θ + ε (mean_τ φ̃_τ − θ)              reptile_vae_step (``meta.task.reptile_task_step``)
K shots of an unseen class             adapt_vae(model, θ, shots, inner, seed) → φ
x ~ p_φ(x|z), z ~ N(0, I)              vae_generate(model, φ, n, seed) (Bernoulli means)

``vae_adapter`` wraps adaptation and sampling as the ``adapt_and_generate(shots, n, seed)`` of
``gan.fewshot_eval.fd_per_class``, so the meta-VAE is measured exactly like the few-shot GANs.
Explained in ``notebooks/07_few_shot_generation.ipynb``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.func import functional_call

from ..checks import choice, finite_params, non_negative_number, positive_int, unit_interval
from ..meta.functional import INNER_OPTIMIZERS, InnerLoop
from ..meta.reptile import EPSILON_HINT
from ..meta.task import adapt_task, reptile_task_step
from ..models import params_of
from ..training import LoopSpec, StepResult, run_loop
from ..types import Params
from .fewshot import Adapter, check_k_shot
from .hypergrad import check_lr
from .vae import VAE, kl_divergence, reconstruction_loss


@dataclass(frozen=True)
class MetaVAEConfig:
    inner_lr: float = 1e-3          # α of the inner steps (Reptile's Omniglot Adam step)
    inner_steps: int = 5            # k steps on a class per meta-iteration
    inner_optimizer: str = "adam"   # "adam" (β1 = 0, as Reptile's experiments) or "sgd"
    epsilon: float = 1.0            # ε, Reptile's outer step (its Omniglot start value)
    meta_batch: int = 4             # classes (tasks) per meta-iteration
    task_batch: int = 10            # images of the class in each inner step
    z_dim: int = 16
    hidden: int = 256
    seed: int = 0

    def inner(self, steps: int | None = None, inner_lr: float | None = None) -> InnerLoop:
        """The inner loop of a class: α, k, the optimiser; first order (Reptile)."""
        return InnerLoop(lr=self.inner_lr if inner_lr is None else inner_lr,
                         steps=self.inner_steps if steps is None else steps, first_order=True,
                         optimizer=self.inner_optimizer)


def check_meta_vae_config(cfg: MetaVAEConfig) -> MetaVAEConfig:
    """Raise ValueError naming the first bad value of a meta-VAE configuration."""
    check_lr("inner_lr (α)", cfg.inner_lr)
    positive_int("inner_steps", cfg.inner_steps, minimum=0)
    choice("inner_optimizer", cfg.inner_optimizer, INNER_OPTIMIZERS)
    unit_interval("epsilon (ε)", cfg.epsilon, EPSILON_HINT)
    for name in ("meta_batch", "task_batch", "z_dim", "hidden"):
        positive_int(name, getattr(cfg, name))
    return cfg


def make_vae(cfg: MetaVAEConfig, device: str | torch.device = "cpu",
             seed: int | None = None) -> VAE:
    """A fresh ``gan.vae.VAE`` of the configured sizes, initialised from ``seed`` (cfg.seed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed if seed is None else seed)
        return VAE(cfg.z_dim, cfg.hidden).to(device)


def negative_elbo(model: VAE, params: Params, x: Tensor, noise: Tensor) -> Tensor:
    """−ELBO(θ; x) = −log p_θ(x|z) + KL(q_θ(z|x) ‖ N(0, I)), z = μ + σ ⊙ noise, batch mean.

    x [b, 1, 28, 28] in [0, 1], noise [b, z_dim]; the VAE runs on the explicit weights θ."""
    logits, mu, logvar = functional_call(model, params, (x, noise))    # [b, 1, 28, 28], [b, z]
    return reconstruction_loss(x, logits) + kl_divergence(mu, logvar)


@dataclass(frozen=True)
class VAEClassTask:
    """One class τ as a ``meta.task.Task``: every call of ``support_loss`` draws a fresh batch
    (``batch_size`` images with replacement; None: all N) and fresh noise, so k inner steps are
    k stochastic steps on −ELBO of the class. A VAE has no held-out set in its inner loop, so the
    query loss is the support loss."""

    model: VAE
    images: Tensor                        # [N, 1, 28, 28] in [0, 1], on the model's device
    batch_size: int | None = None
    rng: torch.Generator | None = None

    def sample(self) -> tuple[Tensor, Tensor]:
        """x [b, 1, 28, 28] and noise [b, z_dim] for one step."""
        n, device = self.images.shape[0], self.images.device
        if self.batch_size is None:
            x = self.images
        else:
            x = self.images[torch.randint(0, n, (self.batch_size,), generator=self.rng)
                            .to(device)]
        noise = torch.randn(x.shape[0], self.model.z_dim, generator=self.rng,
                            dtype=x.dtype).to(device)
        return x, noise

    def support_loss(self, params: Params) -> Tensor:
        return negative_elbo(self.model, params, *self.sample())

    def query_loss(self, params: Params) -> Tensor:
        return self.support_loss(params)


def reptile_vae_step(model: VAE, theta: Params, class_images: Tensor, cfg: MetaVAEConfig,
                     rng: torch.Generator) -> Params:
    """One meta-iteration: meta_batch random classes of class_images [C, S, 1, 28, 28], k inner
    steps on each, θ ← θ + ε (mean_τ φ̃_τ − θ) (``meta.task.reptile_task_step``). Returns the
    new θ, detached; θ is not mutated."""
    classes = torch.randperm(class_images.shape[0], generator=rng)[:cfg.meta_batch]
    tasks = [VAEClassTask(model, class_images[c], cfg.task_batch, rng) for c in classes.tolist()]
    return reptile_task_step(tasks, theta, cfg.inner(), cfg.epsilon)


def meta_train_vae(class_images: Tensor, cfg: MetaVAEConfig, iterations: int,
                   device: str | torch.device = "cpu", progress: bool = False, *,
                   checkpoint: str | Path | None = None, max_seconds: float | None = None,
                   val_every: int = 50, history: dict | None = None) -> tuple[VAE, Params]:
    """Reptile meta-training over classes: uint8 [C, S, 28, 28] → (VAE skeleton, θ).

    On the library's one loop (``training.run_loop``): non-finite or exploded weights raise
    ``checks.TrainingDiverged``; ``checkpoint`` gets a finite checkpoint every ``val_every``
    iterations; ``max_seconds`` stops early; ``history`` (when given) receives the loop's history.
    """
    check_meta_vae_config(cfg)
    positive_int("iterations", iterations, minimum=0)
    if max_seconds is not None:
        non_negative_number("max_seconds", max_seconds)
    model = make_vae(cfg, device)
    images = (class_images.unsqueeze(2).float() / 255.0).to(device)           # [C, S, 1, 28, 28]
    rng = torch.Generator().manual_seed(cfg.seed)
    fix = f"lower inner_lr (now {cfg.inner_lr:g}) or epsilon (now {cfg.epsilon:g})"
    current = {"theta": params_of(model, False)}

    def step(it: int) -> StepResult:
        new = reptile_vae_step(model, current["theta"], images, cfg, rng)
        finite_params("the Reptile VAE step", new, fix)
        current["theta"] = new
        return StepResult(None)

    def state(it: int) -> dict:
        return {"kind": "meta_vae_meta", "config": dataclasses.asdict(cfg), "iteration": it,
                "theta": {k: v.detach().cpu() for k, v in current["theta"].items()}}

    ran = run_loop(step, LoopSpec(iterations=iterations, params=lambda: current["theta"],
                                  state=state, val_every=val_every,
                                  checkpoint=Path(checkpoint) if checkpoint is not None else None,
                                  max_seconds=max_seconds, desc="Reptile VAE", fix=fix,
                                  progress=progress))
    if history is not None:
        history.update(ran)
    return model, current["theta"]


def adapt_vae(model: VAE, theta: Params, shots: Tensor, inner: InnerLoop,
              seed: int = 0) -> Params:
    """φ: θ after ``inner.steps`` steps on −ELBO of the K shots [K, 1, 28, 28] (all K in every
    step, fresh noise from ``seed``). θ is not mutated."""
    check_k_shot(shots.shape[0], shots.shape[0])
    task = VAEClassTask(model, shots, None, torch.Generator().manual_seed(seed))
    start = {k: v.detach().requires_grad_(True) for k, v in theta.items()}
    return {k: v.detach() for k, v in adapt_task(task, start, inner).items()}


def vae_generate(model: VAE, params: Params, n: int, seed: int = 0) -> Tensor:
    """n samples of p_φ(x|z), z ~ N(0, I) seeded by ``seed``, shown as the Bernoulli means
    sigmoid(decode_φ(z)): [n, 1, 28, 28]."""
    ref = next(iter(params.values()))
    z = torch.randn(n, model.z_dim, generator=torch.Generator().manual_seed(seed),
                    dtype=ref.dtype).to(ref.device)                            # [n, z_dim]
    decoder = {k.removeprefix("decoder."): v for k, v in params.items()
               if k.startswith("decoder.")}
    with torch.no_grad():
        logits = functional_call(model.decoder, decoder, (z,))                  # [n, 784]
    s = model.image_size
    return torch.sigmoid(logits).view(n, 1, s, s)


def vae_adapter(model: VAE, theta: Params, inner: InnerLoop) -> Adapter:
    """adapt_and_generate of one VAE initialisation: θ adapted on the shots (``adapt_vae``,
    seeded by ``seed``; not at all when inner.steps = 0), then n samples (``vae_generate``)."""

    def adapt_and_generate(shots: Tensor, n: int, seed: int) -> Tensor:
        phi = theta if inner.steps == 0 else adapt_vae(model, theta, shots, inner, seed)
        return vae_generate(model, phi, n, seed)                               # [n, 1, 28, 28]

    return adapt_and_generate
