"""Few-shot generation by meta-learning: a Reptile-trained GAN in the spirit of FIGR
(Clouâtre & Demers 2019), and a MAML / first-order MAML GAN on the same class tasks (their
baselines and the Fréchet evaluation: ``gan.fewshot_eval``).

paper symbol                         code name
θ = (θ_G, θ_D)                       theta_g, theta_d  (explicit Params dicts)
task τ = one character class         GANClassTask(G, D, images of the class, …)
k inner steps (1 D + 1 G step each)  InnerLoop(lr=α, steps=k) = cfg.inner()
φ̃ = weights after k steps on τ       adapt_gan_task(task, θ_G, θ_D, inner) → (φ_G, φ_D)
θ ← θ + ε (mean_τ φ̃_τ − θ)            ``meta.reptile.reptile_update`` on the joint dict (θ_G, θ_D)
L_G^q(φ), L_D^q(φ) (fresh batch)     gan_query_losses(task, φ_G, φ_D)
MAML: ∇θ_G L_G^q(φ(θ)), ∇θ_D L_D^q   maml_gan_gradients(task, θ_G, θ_D, inner) (FOMAML: ∇ at φ)
θ ← Adam_β(θ, mean_τ ∇)               maml_gan_step (``meta.functional.adam_update``)
λ_GP E[(‖∇D(x̂)‖ − 1)²] (WGAN-GP)      interpolate_penalty, in D's inner loss when loss="wgan_gp"
K shots of an unseen class           shots [K, 1, 28, 28]; adapt_gan(...); gan_adapter(...)

A GAN's class is a task with a loss per player. Each of its k inner steps is a D step, then a G
step through the just-updated D; each half-step is the core's ``meta.task.adapt_task`` (one step,
first order: Reptile never differentiates through the inner loop) on a one-player ``Task``:
``GANClassTask.discriminator_task(φ_G, batch)`` (L_D, G's samples held constant) and
``GANClassTask.generator_task(φ_D, batch)`` (L_G through D_φD). Meta-training runs on the library's
one loop (``training.run_loop``); ``cfg.method`` picks the outer step from ``META_STEPS``
(Reptile's interpolation, or MAML's / FOMAML's Adam step on the query losses). Explained in
``notebooks/07_few_shot_generation.ipynb``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..checks import choice, finite_params, non_negative_number, positive_int, unit_interval
from ..meta.functional import InnerLoop, adam_update
from ..meta.reptile import EPSILON_HINT, reptile_update
from ..meta.task import adapt_task
from ..models import params_of
from ..training import LoopSpec, StepResult, run_loop
from ..types import Params
from .hypergrad import check_lr
from .losses import check_weight, get_losses, input_gradient_norms, interpolate
from .models import DCDiscriminator, DCGenerator

METHODS = ("reptile", "maml", "fomaml")
OUTER_BETAS = (0.5, 0.999)   # Adam (β1, β2) of the MAML/FOMAML outer step: DCGAN's β1 = 0.5


@dataclass(frozen=True)
class FewShotGANConfig:
    loss: str = "nonsaturating"   # see gan.losses.LOSSES; "wgan_gp" adds λ_GP·GP to D's inner loss
    inner_lr: float = 0.05        # α of the inner SGD steps (meta-training and adaptation)
    inner_steps: int = 5          # k: (D step, G step) pairs per task
    epsilon: float = 0.1          # ε, Reptile's outer step size
    meta_batch: int = 4           # classes (tasks) per meta-iteration
    task_batch: int = 10          # images of the class used in each inner step (and query batch)
    z_dim: int = 32
    width: int = 32
    seed: int = 0
    method: str = "reptile"       # reptile | maml | fomaml: the outer step (``META_STEPS``)
    meta_lr: float = 1e-3         # β, Adam step of the MAML / FOMAML outer update (not Reptile)
    gp_lambda: float = 10.0       # λ_GP of WGAN-GP (only with loss="wgan_gp")
    pretrain_r1: float = 1.0      # R1 γ of the pooled DCGAN baseline (0: it mode-collapses to
                                  # blank images within 600 steps on Omniglot; 1: it draws strokes)

    def __post_init__(self) -> None:
        if isinstance(self.loss, str):          # "wgan-gp", as FIGR spells it, is "wgan_gp"
            object.__setattr__(self, "loss", self.loss.replace("-", "_"))

    def inner(self, steps: int | None = None, inner_lr: float | None = None) -> InnerLoop:
        """The inner loop of a class task: α, k (D step + G step pairs); second order (the graph
        kept through the k steps) only for method "maml"."""
        lr = self.inner_lr if inner_lr is None else inner_lr
        check_lr("inner_lr (α)", lr)
        return InnerLoop(lr=lr, steps=self.inner_steps if steps is None else steps,
                         first_order=self.method != "maml")


def check_fewshot_config(cfg: FewShotGANConfig) -> FewShotGANConfig:
    """Raise ValueError naming the first bad value of a meta-training configuration."""
    get_losses(cfg.loss)
    choice("method", cfg.method, METHODS)
    check_lr("inner_lr (α)", cfg.inner_lr)
    check_lr("meta_lr (β)", cfg.meta_lr)
    check_weight("gp_lambda", cfg.gp_lambda)
    check_weight("pretrain_r1 (R1 γ of the pooled DCGAN)", cfg.pretrain_r1)
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


def _alias(params: Params) -> Params:
    """New graph nodes equal to ``params``: a half-step's ∇ w.r.t. them is the partial derivative
    ∂L/∂φ even where the other player's weights already depend on φ (second-order MAML)."""
    return {k: v.view_as(v) for k, v in params.items()}


def interpolate_penalty(critic: Callable[[Tensor], Tensor], x_hat: Tensor,
                        gp_lambda: float) -> Tensor:
    """λ_GP E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²] at given interpolates x̂ [b, …] (``losses.gradient_penalty``
    with ε drawn by the caller, so a task's generator draws it on any device). The input
    gradient keeps its graph (create_graph), so the penalty has a gradient w.r.t. D's weights."""
    return gp_lambda * (input_gradient_norms(critic, x_hat) - 1).pow(2).mean()


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
                                              (+ λ_GP·GP on x̂ = εx + (1−ε)G(z_D) for "wgan_gp";
                                              G's samples are constants of D's step unless
                                              ``through_g``, as second-order MAML needs)
    generator_task(φ_D, z_G).support_loss(φ_G) = L_G(D_φD(G_φG(z_G)))
                                              (φ_D a constant unless ``through_d``)
    """

    G: nn.Module
    D: nn.Module
    images: Tensor                       # [N, 1, 28, 28], on the models' device
    loss: str = "nonsaturating"
    batch_size: int | None = None
    rng: torch.Generator | None = None
    gp_lambda: float = 10.0              # λ_GP, used only when loss == "wgan_gp"

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

    def discriminator_task(self, phi_g: Params, x: Tensor, z: Tensor,
                           through_g: bool = False) -> PlayerTask:
        d_loss_fn, _ = get_losses(self.loss)
        with torch.set_grad_enabled(through_g and torch.is_grad_enabled()):
            fake = functional_call(self.G, phi_g, (z,))                    # [b, 1, 28, 28]
        both, b = torch.cat([x, fake]), x.shape[0]
        x_hat = None
        if self.loss == "wgan_gp" and self.gp_lambda > 0:
            eps = torch.rand(b, generator=self.rng, dtype=x.dtype).to(x.device)     # ε ~ U[0, 1]
            x_hat = interpolate(x, fake, eps)                              # [b, 1, 28, 28]

        def loss(phi_d: Params) -> Tensor:
            critic = lambda inputs: functional_call(self.D, phi_d, (inputs,))  # noqa: E731
            logits = critic(both)                                          # one pass: [2b]
            value = d_loss_fn(logits[:b], logits[b:])
            return value if x_hat is None else \
                value + interpolate_penalty(critic, x_hat, self.gp_lambda)

        return PlayerTask(loss)

    def generator_task(self, phi_d: Params, z: Tensor, through_d: bool = False) -> PlayerTask:
        _, g_loss_fn = get_losses(self.loss)
        if not through_d:
            phi_d = {k: v.detach() for k, v in phi_d.items()}
        return PlayerTask(lambda phi_g: g_loss_fn(
            functional_call(self.D, phi_d, (functional_call(self.G, phi_g, (z,)),))))


def adapt_gan_task(task: GANClassTask, theta_g: Params, theta_d: Params,
                   inner: InnerLoop) -> tuple[Params, Params]:
    """(φ_G, φ_D) after ``inner.steps`` alternating steps on one class:
    φ_D ← φ_D − α ∇L_D(x, G_φG(z)),  then  φ_G ← φ_G − α ∇L_G(D_φD(G_φG(z'))).
    Each half-step is ``adapt_task`` with one step; θ is not mutated.

    ``inner.first_order`` (Reptile, FOMAML, adaptation): each step starts from detached weights
    and the result is detached. Otherwise (MAML) the graph is kept through every step, both
    players' (G's samples in D's step, D in G's step), so (φ_G, φ_D) are differentiable
    functions of (θ_G, θ_D); θ must then require grad. Each half-step still takes the partial
    ∂L/∂φ of its own player (``_alias``), not the total derivative through the other's weights."""
    keep = not inner.first_order
    step_from = _alias if keep else _leaf   # the weights one half-step differentiates
    one = dataclasses.replace(inner, steps=1)
    phi_g, phi_d = theta_g, theta_d
    for _ in range(inner.steps):
        x, z_d, z_g = task.sample()
        phi_d = adapt_task(task.discriminator_task(phi_g, x, z_d, keep), step_from(phi_d), one)
        phi_g = adapt_task(task.generator_task(phi_d, z_g, keep), step_from(phi_g), one)
    if keep:
        return phi_g, phi_d
    return ({k: v.detach() for k, v in phi_g.items()}, {k: v.detach() for k, v in phi_d.items()})


def gan_inner_loop(G: nn.Module, D: nn.Module, theta_g: Params, theta_d: Params, images: Tensor,
                   inner_steps: int, inner_lr: float, loss: str = "nonsaturating",
                   batch_size: int | None = None, rng: torch.Generator | None = None,
                   gp_lambda: float = 10.0) -> tuple[Params, Params]:
    """k alternating SGD steps of D then G on one class's images [N, 1, 28, 28] → (φ_G, φ_D):
    ``adapt_gan_task`` on ``GANClassTask(G, D, images, loss, batch_size, rng, gp_lambda)``."""
    check_lr("inner_lr (α)", inner_lr)
    inner = InnerLoop(lr=inner_lr, steps=inner_steps, first_order=True)
    return adapt_gan_task(GANClassTask(G, D, images, loss, batch_size, rng, gp_lambda), theta_g,
                          theta_d, inner)


def joint(theta_g: Params, theta_d: Params) -> Params:
    """(θ_G, θ_D) as one dict {"G.<name>": …, "D.<name>": …} (what Reptile moves)."""
    return {**{f"G.{k}": v for k, v in theta_g.items()},
            **{f"D.{k}": v for k, v in theta_d.items()}}


def split_joint(theta: Params) -> tuple[Params, Params]:
    """The inverse of ``joint``."""
    return ({k[2:]: v for k, v in theta.items() if k.startswith("G.")},
            {k[2:]: v for k, v in theta.items() if k.startswith("D.")})


def class_tasks(G: nn.Module, D: nn.Module, class_images: Tensor, cfg: FewShotGANConfig,
                rng: torch.Generator) -> list[GANClassTask]:
    """meta_batch random classes of class_images [C, S, 1, 28, 28], each a ``GANClassTask``."""
    classes = torch.randperm(class_images.shape[0], generator=rng)[:cfg.meta_batch]
    return [GANClassTask(G, D, class_images[c], cfg.loss, cfg.task_batch, rng, cfg.gp_lambda)
            for c in classes.tolist()]


def reptile_gan_step(G: nn.Module, D: nn.Module, theta_g: Params, theta_d: Params,
                     class_images: Tensor, cfg: FewShotGANConfig, rng: torch.Generator,
                     outer_state: dict | None = None) -> tuple[Params, Params]:
    """One meta-iteration: meta_batch random classes, k inner steps each, then
    θ ← θ + ε (mean_τ φ̃_τ − θ) (``meta.reptile.reptile_update``) on (θ_G, θ_D) together.
    Returns the new (θ_G, θ_D); the inputs are not mutated.

    class_images: float [C, S, 1, 28, 28] on the models' device. ``outer_state`` is unused
    (Reptile's outer step keeps no state); it is there so that every ``META_STEPS`` entry is
    called alike.
    """
    inner = cfg.inner()
    phis = [adapt_gan_task(task, theta_g, theta_d, inner)
            for task in class_tasks(G, D, class_images, cfg, rng)]
    with torch.no_grad():
        new = reptile_update(joint(theta_g, theta_d), [joint(*p) for p in phis], cfg.epsilon)
    return split_joint(new)


def gan_query_losses(task: GANClassTask, phi_g: Params, phi_d: Params,
                     through: bool = False) -> tuple[Tensor, Tensor]:
    """(L_G^q, L_D^q): each player's loss on a fresh batch of the class at the adapted weights,
    L_G^q = L_G(D_φD(G_φG(z))),  L_D^q = L_D(D_φD(x), D_φD(G_φG(z'))) (+ λ_GP·GP for WGAN-GP).
    ``through``: keep each loss differentiable through the other player's weights too."""
    x, z_d, z_g = task.sample()
    return (task.generator_task(phi_d, z_g, through).query_loss(phi_g),
            task.discriminator_task(phi_g, x, z_d, through).query_loss(phi_d))


def maml_gan_gradients(task: GANClassTask, theta_g: Params, theta_d: Params,
                       inner: InnerLoop) -> tuple[Params, Params]:
    """Each player's meta-gradient on one class, (g_G, g_D), with φ = (φ_G, φ_D) adapted on the
    class by ``adapt_gan_task`` and (L_G^q, L_D^q) = ``gan_query_losses`` on a fresh batch:

    MAML (second order):  g_G = ∂/∂θ_G L_G^q(φ(θ)),  g_D = ∂/∂θ_D L_D^q(φ(θ)), through the k
                          inner steps of both players (the other player's θ held fixed).
    FOMAML (first order): g_G = ∇_φG L_G^q(φ),  g_D = ∇_φD L_D^q(φ): the gradients at φ, applied
                          to θ (the inner gradients are constants).
    """
    start_g, start_d = _leaf(theta_g), _leaf(theta_d)
    phi_g, phi_d = adapt_gan_task(task, start_g, start_d, inner)
    if inner.first_order:
        start_g, start_d = phi_g, phi_d = _leaf(phi_g), _leaf(phi_d)
    loss_g, loss_d = gan_query_losses(task, phi_g, phi_d, through=not inner.first_order)
    grads_g = torch.autograd.grad(loss_g, list(start_g.values()), retain_graph=True)
    grads_d = torch.autograd.grad(loss_d, list(start_d.values()))
    return dict(zip(start_g, grads_g)), dict(zip(start_d, grads_d))


def mean_gradient(grads: list[Params]) -> Params:
    """(1/T) Σ_τ g_τ, name by name."""
    return {k: torch.stack([g[k] for g in grads]).mean(0) for k in grads[0]}


def maml_gan_step(G: nn.Module, D: nn.Module, theta_g: Params, theta_d: Params,
                  class_images: Tensor, cfg: FewShotGANConfig, rng: torch.Generator,
                  outer_state: dict | None = None) -> tuple[Params, Params]:
    """One MAML (cfg.method "maml") or FOMAML ("fomaml") meta-iteration of the GAN: meta_batch
    random classes, each player's meta-gradient per class (``maml_gan_gradients``), then one
    Adam step θ ← Adam_β(θ, mean_τ g_τ) on (θ_G, θ_D) (``meta.functional.adam_update`` with
    β = cfg.meta_lr, (β1, β2) = OUTER_BETAS; elementwise, so it is one Adam per player).

    ``outer_state`` holds Adam's moments between calls (pass the same dict, {} at first); it is
    updated in place. Returns the new (θ_G, θ_D), detached; the inputs are not mutated.
    """
    inner = cfg.inner()
    grads = [joint(*maml_gan_gradients(task, theta_g, theta_d, inner))
             for task in class_tasks(G, D, class_images, cfg, rng)]
    state = outer_state if outer_state is not None else {}
    with torch.no_grad():
        new, state["adam"] = adam_update(joint(theta_g, theta_d), mean_gradient(grads),
                                         state.get("adam", {}), cfg.meta_lr, OUTER_BETAS)
    return split_joint({k: v.detach() for k, v in new.items()})


MetaStep = Callable[..., tuple[Params, Params]]
# cfg.method → (one meta-iteration (G, D, θ_G, θ_D, classes, cfg, rng, outer_state), its name)
META_STEPS: dict[str, tuple[MetaStep, str]] = {
    "reptile": (reptile_gan_step, "Reptile GAN"),
    "maml": (maml_gan_step, "MAML GAN"),
    "fomaml": (maml_gan_step, "FOMAML GAN"),
}


def meta_train_gan(class_images: Tensor, cfg: FewShotGANConfig, iterations: int,
                   device: str | torch.device = "cpu", progress: bool = False,
                   init: tuple[Params, Params] | None = None, *,
                   checkpoint: str | Path | None = None, max_seconds: float | None = None,
                   val_every: int = 50, history: dict | None = None
                   ) -> tuple[DCGenerator, DCDiscriminator, Params, Params]:
    """Meta-training over classes (cfg.method: Reptile, MAML or FOMAML, one ``META_STEPS`` entry
    per iteration): uint8 [C, S, 28, 28] → (G, D, θ_G, θ_D).

    Runs on the library's one loop (``training.run_loop``): weights that become NaN, infinite or
    exploded stop it with ``checks.TrainingDiverged`` (naming the iteration and what to try);
    with ``checkpoint`` set, every ``val_every`` iterations a checkpoint with finite weights is
    written there; ``max_seconds`` stops it early. ``history``, when given, is filled with the
    loop's history ("iterations" run, "seconds").
    """
    check_fewshot_config(cfg)
    positive_int("iterations", iterations, minimum=0)
    if max_seconds is not None:
        non_negative_number("max_seconds", max_seconds)
    G, D = make_gan(cfg, device)
    theta_g, theta_d = init if init is not None else (params_of(G, False), params_of(D, False))
    images = (class_images.unsqueeze(2).float() / 255.0).to(device)          # [C, S, 1, 28, 28]
    rng = torch.Generator().manual_seed(cfg.seed)
    outer = ("epsilon", cfg.epsilon) if cfg.method == "reptile" else ("meta_lr", cfg.meta_lr)
    fix = f"lower inner_lr (now {cfg.inner_lr:g}) or {outer[0]} (now {outer[1]:g})"
    meta_step, title = META_STEPS[cfg.method]
    current = {"g": theta_g, "d": theta_d}
    outer_state: dict = {}

    def step(it: int) -> StepResult:
        new_g, new_d = meta_step(G, D, current["g"], current["d"], images, cfg, rng, outer_state)
        finite_params(f"the {title} step", joint(new_g, new_d), fix)
        current["g"], current["d"] = new_g, new_d
        return StepResult(None)

    def state(it: int) -> dict:
        cpu = lambda d: {k: v.detach().cpu() for k, v in d.items()}  # noqa: E731
        return {"kind": "fewshot_gan_meta", "config": dataclasses.asdict(cfg), "iteration": it,
                "theta_g": cpu(current["g"]), "theta_d": cpu(current["d"])}

    ran = run_loop(step, LoopSpec(iterations=iterations,
                                  params=lambda: joint(current["g"], current["d"]),
                                  state=state, val_every=val_every,
                                  checkpoint=Path(checkpoint) if checkpoint is not None else None,
                                  max_seconds=max_seconds, desc=title, fix=fix,
                                  progress=progress))
    if history is not None:
        history.update(ran)
    return G, D, current["g"], current["d"]


def adapt_gan(G: nn.Module, D: nn.Module, theta_g: Params, theta_d: Params, shots: Tensor,
              inner_steps: int, inner_lr: float, loss: str = "nonsaturating",
              seed: int = 0, gp_lambda: float = 10.0) -> tuple[Params, Params]:
    """Adapt (θ_G, θ_D) to an unseen class from its K shots [K, 1, 28, 28] in k steps."""
    check_k_shot(shots.shape[0], shots.shape[0])
    positive_int("inner_steps", inner_steps, minimum=0)
    rng = torch.Generator().manual_seed(seed)
    return gan_inner_loop(G, D, theta_g, theta_d, shots, inner_steps, inner_lr, loss, None, rng,
                          gp_lambda)


def generate(G: nn.Module, theta_g: Params, n: int, seed: int = 0) -> Tensor:
    """n samples G_θ(z) [n, 1, 28, 28] from fixed noise (same z for every method compared)."""
    ref = next(iter(theta_g.values()))
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed), dtype=ref.dtype)
    with torch.no_grad():
        return functional_call(G, theta_g, (z.to(ref.device),))


Adapter = Callable[[Tensor, int, int], Tensor]
# adapt_and_generate(shots [K, 1, 28, 28], n, seed) → n samples [n, 1, 28, 28] of the shots' class


def gan_adapter(G: nn.Module, D: nn.Module, theta_g: Params, theta_d: Params, steps: int,
                lr: float, loss: str = "nonsaturating", gp_lambda: float = 10.0) -> Adapter:
    """adapt_and_generate of one GAN initialisation: (θ_G, θ_D) adapted on the shots for
    ``steps`` steps of α = ``lr`` (``adapt_gan``, seeded by ``seed``; none when steps = 0), then
    n samples G_φG(z) from noise seeded by ``seed`` (``generate``)."""
    positive_int("steps", steps, minimum=0)

    def adapt_and_generate(shots: Tensor, n: int, seed: int) -> Tensor:
        phi_g = theta_g if steps == 0 else \
            adapt_gan(G, D, theta_g, theta_d, shots, steps, lr, loss, seed, gp_lambda)[0]
        return generate(G, phi_g, n, seed=seed)                          # [n, 1, 28, 28]

    return adapt_and_generate
