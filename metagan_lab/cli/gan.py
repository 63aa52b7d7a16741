"""`metagan-lab train gan | fewshot-gan | meta-vae | statistician | vae | cyclegan`."""

from __future__ import annotations

import argparse
import time

import torch

from ..device import resolve_device
from ..runs import load, prepare_out, save, write_result
from ..runs.kinds import cyclegan as cyclegan_format
from ..runs.kinds import fewshot_gan as fewshot_format
from ..runs.kinds import gan as gan_format
from ..runs.kinds import meta_vae as meta_vae_format
from ..runs.kinds import statistician as statistician_format
from ..runs.kinds import vae as vae_format
from .common import add_common, add_data, emit, load_split, positive_float, positive_int


def _load(args: argparse.Namespace):
    """(all classes, their meta split): ``cli.common.load_split`` (tests replace this one)."""
    return load_split(args)


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _loss_name(text: str) -> str:
    """GAN loss names as FIGR writes them ("wgan-gp") or as ``gan.losses.LOSSES`` ("wgan_gp")."""
    return text.replace("-", "_")


def _files(name: str) -> list[str]:
    return [f"{name}.pt", f"{name}_results.json"]


def _finish(result: dict, out, name: str, args: argparse.Namespace) -> int:
    """Write <name>_results.json and print the result."""
    write_result(result, out / f"{name}_results.json")
    emit(result, args.json)
    return 0


def run_gan(args: argparse.Namespace) -> int:
    from ..gan.models import DCDiscriminator, DCGenerator, ToyDiscriminator, ToyGenerator
    from ..gan.toy2d import toy_sampler
    from ..gan.train import GANConfig, image_sampler, make_gan_state, toy_real_sampler, train_steps

    device = resolve_device(args.device)
    cfg = GANConfig(loss=args.loss, lr_g=args.lr_g, lr_d=args.lr_d, d_steps=args.d_steps,
                    r1_gamma=args.r1_gamma, gp_lambda=args.gp_lambda, batch_size=args.batch_size,
                    optimizer=args.optimizer, seed=args.seed)
    out = prepare_out(args.out, args.overwrite, _files("gan"))
    torch.manual_seed(args.seed)
    if args.toy:
        G, D = ToyGenerator(), ToyDiscriminator()
        sampler, source = toy_real_sampler(toy_sampler(args.toy)), f"toy:{args.toy}"
    else:
        data, split = _load(args)
        n_classes = split.train.n_classes if args.conditional else 0
        G = DCGenerator(args.z_dim, args.width, n_classes)
        D = DCDiscriminator(args.width, n_classes)
        sampler, source = image_sampler(split.train.images, args.conditional), data.source
    state = make_gan_state(G, D, sampler, cfg, device)
    start = time.perf_counter()
    train_steps(state, args.steps, progress=not args.quiet)
    seconds = time.perf_counter() - start
    path = save(gan_format.checkpoint(G, D, cfg, source, args.steps,
                                      None if args.toy else args.split,
                                      None if args.toy else not args.no_rotations),
                out / "gan.pt")
    h = state.history
    result = {"algorithm": "gan", "data": source, "loss": cfg.loss, "steps": args.steps,
              "seconds": round(seconds, 2), "steps_per_s": round(args.steps / seconds, 2),
              "d_loss": h["d_loss"][-1], "g_loss": h["g_loss"][-1],
              "diversity": h["diversity"][-1] if h["diversity"] else None,
              "collapse_step": state.collapse_step, "device": str(device), "checkpoint": str(path)}
    return _finish(result, out, "gan", args)


def run_fewshot(args: argparse.Namespace) -> int:
    from ..gan.experiment import run_fewshot_experiment
    from ..gan.fewshot import FewShotGANConfig, check_k_shot

    device = resolve_device(args.device)
    cfg = FewShotGANConfig(loss=args.loss, inner_lr=args.inner_lr, inner_steps=args.inner_steps,
                           epsilon=args.epsilon, meta_batch=args.meta_batch, seed=args.seed,
                           method=args.method, meta_lr=args.meta_lr, gp_lambda=args.gp_lambda,
                           pretrain_r1=args.pretrain_r1)
    out = prepare_out(args.out, args.overwrite, _files("fewshot_gan"))
    data, split = _load(args)
    check_k_shot(args.k_shot, split.test.n_samples - 2)
    exp = run_fewshot_experiment(split.train, split.val, split.test, cfg, args.iterations,
                                 args.pretrain_steps, args.classifier_steps, k_shot=args.k_shot,
                                 adapt_steps=args.adapt_steps, n_eval_classes=args.eval_classes,
                                 n_fake=args.n_fake, device=device, progress=not args.quiet,
                                 max_seconds=args.max_seconds)
    path = save(fewshot_format.checkpoint(exp, cfg, data.source, args.k_shot, args.adapt_steps,
                                          exp.iterations), out / "fewshot_gan.pt")
    result = {"algorithm": "fewshot-gan", "method": cfg.method, "loss": cfg.loss,
              "dataset": data.source, "device": str(device),
              "k_shot": args.k_shot, "adapt_steps": args.adapt_steps,
              "iterations": exp.iterations, "eval_classes": args.eval_classes,
              "n_fake": args.n_fake, "feature": "Conv-4 classifier on the training classes",
              "seconds": {k: round(v, 2) for k, v in exp.seconds.items()},
              "adapt_lr": exp.inner_lrs,
              "checkpoint": str(path)}
    for name, (mean, ci) in exp.summary().items():
        result[f"fd_{name}"], result[f"fd_{name}_ci95"] = round(mean, 4), round(ci, 4)
    return _finish(result, out, "fewshot_gan", args)


def run_meta_vae(args: argparse.Namespace) -> int:
    from ..gan.experiment import run_meta_vae_experiment
    from ..gan.fewshot import check_k_shot
    from ..gan.meta_vae import MetaVAEConfig, check_meta_vae_config

    device = resolve_device(args.device)
    cfg = check_meta_vae_config(MetaVAEConfig(
        inner_lr=args.inner_lr, inner_steps=args.inner_steps, inner_optimizer=args.inner_optimizer,
        epsilon=args.epsilon, meta_batch=args.meta_batch, z_dim=args.z_dim, seed=args.seed))
    out = prepare_out(args.out, args.overwrite, _files("meta_vae"))
    data, split = _load(args)
    check_k_shot(args.k_shot, split.test.n_samples - 2)
    exp = run_meta_vae_experiment(split.train, split.val, split.test, cfg, args.iterations,
                                  args.pretrain_steps, args.classifier_steps, args.k_shot,
                                  args.adapt_steps, args.eval_classes, args.n_fake,
                                  device=device, progress=not args.quiet,
                                  max_seconds=args.max_seconds)
    path = save(meta_vae_format.checkpoint(exp, cfg, data.source, args.k_shot, args.adapt_steps,
                                           exp.iterations), out / "meta_vae.pt")
    result = {"algorithm": "meta-vae", "method": "reptile", "dataset": data.source,
              "device": str(device), "k_shot": args.k_shot, "adapt_steps": args.adapt_steps,
              "iterations": exp.iterations, "eval_classes": args.eval_classes,
              "n_fake": args.n_fake, "feature": "Conv-4 classifier on the training classes",
              "seconds": {k: round(v, 2) for k, v in exp.seconds.items()},
              "adapt_lr": exp.adapt_lrs, "checkpoint": str(path)}
    for name, (mean, ci) in exp.summary().items():
        result[f"fd_{name}"], result[f"fd_{name}_ci95"] = round(mean, 4), round(ci, 4)
    return _finish(result, out, "meta_vae", args)


def run_statistician(args: argparse.Namespace) -> int:
    from ..gan.statistician import (
        StatisticianConfig,
        check_statistician_config,
        train_statistician,
    )

    device = resolve_device(args.device)
    cfg = check_statistician_config(StatisticianConfig(
        k_shot=args.k_shot, n_target=args.n_target, meta_batch=args.meta_batch, z_dim=args.z_dim,
        c_channels=args.c_channels, width=args.width, hidden=args.hidden, lr=args.lr,
        beta=args.beta, include_shots=not args.exclude_shots, decoder=args.decoder,
        blur=args.blur, seed=args.seed))
    out = prepare_out(args.out, args.overwrite, _files("statistician"))
    data, split = _load(args)
    ran: dict = {}
    before = load(args.init_from) if args.init_from else {}
    model = train_statistician(split.train, cfg, args.iterations, device, not args.quiet,
                               checkpoint=out / "statistician.pt", max_seconds=args.max_seconds,
                               val_every=args.val_every, history=ran,
                               init=before.get("state_dict"))
    iterations = ran["iterations"] + (before.get("iterations") or 0)
    path = save(statistician_format.checkpoint(model, cfg, iterations, data.source)
                | {"init_from": str(args.init_from) if args.init_from else None},
                out / "statistician.pt")
    last = slice(-min(50, len(ran["loss"])), None)
    mean = lambda v: sum(v[last]) / len(v[last])  # noqa: E731
    result = {"algorithm": "statistician", "dataset": data.source, "device": str(device),
              "iterations": iterations, "iterations_this_run": ran["iterations"],
              "init_from": str(args.init_from) if args.init_from else None,
              "seconds": round(ran["seconds"], 2),
              "loss": mean(ran["loss"]), "neg_elbo": mean(ran["neg_elbo"]),
              "reconstruction": mean(ran["reconstruction"]),
              "kl": mean(ran["kl"]), "checkpoint": str(path)}
    return _finish(result, out, "statistician", args)


def run_vae(args: argparse.Namespace) -> int:
    from ..gan.vae import VAE, train_vae

    device = resolve_device(args.device)
    out = prepare_out(args.out, args.overwrite, _files("vae"))
    data, split = _load(args)
    images = split.train.images.flatten(0, 1).unsqueeze(1).float() / 255.0    # [N, 1, 28, 28]
    torch.manual_seed(args.seed)
    model = VAE(z_dim=args.z_dim).to(device)
    start = time.perf_counter()
    h = train_vae(model, images, args.steps, args.lr, seed=args.seed, progress=not args.quiet)
    seconds = time.perf_counter() - start
    path = save(vae_format.checkpoint(model, args.steps, args.lr, data.source), out / "vae.pt")
    last = slice(-min(50, args.steps), None)
    result = {"algorithm": "vae", "dataset": data.source, "steps": args.steps,
              "seconds": round(seconds, 2), "device": str(device), "checkpoint": str(path),
              **{k: sum(v[last]) / len(v[last]) for k, v in h.items()}}
    return _finish(result, out, "vae", args)


def run_cyclegan(args: argparse.Namespace) -> int:
    from ..gan.cyclegan import CycleGANConfig, make_cyclegan, stroke_domains, train_cyclegan

    device = resolve_device(args.device)
    cfg = CycleGANConfig(lambda_cyc=args.lambda_cyc, lr=args.lr, seed=args.seed)
    out = prepare_out(args.out, args.overwrite, _files("cyclegan"))
    data, split = _load(args)
    domain_a, domain_b = stroke_domains(split.train.images)
    state = make_cyclegan(cfg, device)
    start = time.perf_counter()
    h = train_cyclegan(state, domain_a, domain_b, args.steps, progress=not args.quiet)
    seconds = time.perf_counter() - start
    path = save(cyclegan_format.checkpoint(state.model, cfg, args.steps, data.source),
                out / "cyclegan.pt")
    result = {"algorithm": "cyclegan", "dataset": data.source, "steps": args.steps,
              "seconds": round(seconds, 2), "device": str(device), "checkpoint": str(path),
              **h[-1]}
    return _finish(result, out, "cyclegan", args)


def _parser(groups, name, help_text, run):
    p = groups["train"].add_parser(name, help=help_text,
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common(p, overwrite=True)
    add_data(p)
    p.set_defaults(run=run)
    return p


def register(groups: dict) -> None:
    from ..gan.fewshot import METHODS
    from ..gan.losses import LOSSES
    from ..gan.toy2d import TOY_DISTRIBUTIONS
    from ..gan.train import OPTIMIZERS
    from ..meta.functional import INNER_OPTIMIZERS

    p = _parser(groups, "gan", "a GAN on 2-D toy data (--toy) or on the training characters",
                run_gan)
    p.add_argument("--toy", choices=sorted(TOY_DISTRIBUTIONS), default=None,
                   help="train on a 2-D distribution instead of images")
    p.add_argument("--loss", choices=sorted(LOSSES), default="nonsaturating")
    p.add_argument("--lr-g", type=positive_float, default=2e-4)
    p.add_argument("--lr-d", type=positive_float, default=2e-4)
    p.add_argument("--d-steps", type=positive_int, default=1, help="D steps per G step")
    p.add_argument("--r1-gamma", type=_non_negative_float, default=0.0, help="R1 γ (0 = off)")
    p.add_argument("--gp-lambda", type=_non_negative_float, default=10.0, help="WGAN-GP λ")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--steps", type=positive_int, default=2000)
    p.add_argument("--conditional", action="store_true", help="class-conditional G and D")
    p.add_argument("--z-dim", type=positive_int, default=64)
    p.add_argument("--width", type=positive_int, default=32)

    f = _parser(groups, "fewshot-gan", "meta-learned GAN (Reptile as FIGR, MAML or FOMAML) vs "
                "three baselines", run_fewshot)
    f.add_argument("--method", choices=METHODS, default="reptile",
                   help="outer step: Reptile's interpolation or MAML's / FOMAML's Adam step")
    f.add_argument("--loss", type=_loss_name, choices=sorted(LOSSES), default="nonsaturating",
                   help="wgan_gp (or wgan-gp) adds λ_GP·GP to D's inner loss")
    f.add_argument("--gp-lambda", type=_non_negative_float, default=10.0, help="WGAN-GP λ")
    f.add_argument("--iterations", type=positive_int, default=1000, help="meta-iterations")
    f.add_argument("--max-seconds", type=positive_float, default=None,
                   help="stop meta-training after this many seconds")
    f.add_argument("--inner-steps", type=positive_int, default=5, help="k during meta-training")
    f.add_argument("--inner-lr", type=positive_float, default=0.05, help="α (SGD)")
    f.add_argument("--epsilon", type=positive_float, default=0.1, help="Reptile ε")
    f.add_argument("--meta-lr", type=positive_float, default=1e-3,
                   help="β, Adam step of MAML / FOMAML")
    f.add_argument("--meta-batch", type=positive_int, default=4)
    f.add_argument("--k-shot", type=positive_int, default=4)
    f.add_argument("--adapt-steps", type=positive_int, default=10)
    f.add_argument("--pretrain-steps", type=positive_int, default=2000)
    f.add_argument("--pretrain-r1", type=_non_negative_float, default=1.0,
                   help="R1 γ of the pooled DCGAN baseline (0: it collapses to blank images)")
    f.add_argument("--classifier-steps", type=positive_int, default=300)
    f.add_argument("--eval-classes", type=positive_int, default=20)
    f.add_argument("--n-fake", type=positive_int, default=100)

    m = _parser(groups, "meta-vae", "Reptile-trained VAE for few-shot generation vs a fresh "
                "and a pooled VAE", run_meta_vae)
    m.add_argument("--iterations", type=positive_int, default=1000, help="meta-iterations")
    m.add_argument("--max-seconds", type=positive_float, default=None,
                   help="stop meta-training after this many seconds")
    m.add_argument("--inner-steps", type=positive_int, default=5, help="k during meta-training")
    m.add_argument("--inner-lr", type=positive_float, default=1e-3, help="α")
    m.add_argument("--inner-optimizer", choices=INNER_OPTIMIZERS, default="adam")
    m.add_argument("--epsilon", type=positive_float, default=1.0, help="Reptile ε")
    m.add_argument("--meta-batch", type=positive_int, default=4)
    m.add_argument("--z-dim", type=positive_int, default=16)
    m.add_argument("--k-shot", type=positive_int, default=4)
    m.add_argument("--adapt-steps", type=positive_int, default=10)
    m.add_argument("--pretrain-steps", type=positive_int, default=2000,
                   help="Adam steps of the pooled-VAE baseline")
    m.add_argument("--classifier-steps", type=positive_int, default=300)
    m.add_argument("--eval-classes", type=positive_int, default=20)
    m.add_argument("--n-fake", type=positive_int, default=100)

    s = _parser(groups, "statistician", "one-shot generator: a Neural-Statistician-style "
                "conditional VAE trained over classes (adaptation = the shots' context)",
                run_statistician)
    s.add_argument("--iterations", type=positive_int, default=3000, help="training episodes")
    s.add_argument("--max-seconds", type=positive_float, default=None,
                   help="stop training after this many seconds")
    s.add_argument("--val-every", type=positive_int, default=100, help="checkpoint every")
    s.add_argument("--k-shot", type=positive_int, default=1, help="context shots per class")
    s.add_argument("--n-target", type=positive_int, default=4, help="target images per class")
    s.add_argument("--meta-batch", type=positive_int, default=16, help="classes per episode")
    s.add_argument("--z-dim", type=positive_int, default=8)
    s.add_argument("--c-channels", type=positive_int, default=8,
                   help="channels of the 14×14 context map c")
    s.add_argument("--width", type=positive_int, default=32)
    s.add_argument("--hidden", type=positive_int, default=128)
    s.add_argument("--lr", type=positive_float, default=1e-3)
    s.add_argument("--beta", type=positive_float, default=1.0,
                   help="β, weight of the KL term (1: the −ELBO)")
    s.add_argument("--init-from", default=None,
                   help="continue from a 'statistician' checkpoint of the same sizes")
    s.add_argument("--exclude-shots", action="store_true",
                   help="targets are only the other images of the class, not the shots")
    s.add_argument("--decoder", choices=("free", "warp"), default="free",
                   help="free: draw from (z, c); warp: move the shot's pixels by a smooth "
                        "displacement u(z, c)")
    s.add_argument("--blur", type=float, default=0.0,
                   help="warp: σ (px) of the Gaussian blur the likelihood sees images through")

    v = _parser(groups, "vae", "a VAE on the training characters (ELBO)", run_vae)
    v.add_argument("--steps", type=positive_int, default=2000)
    v.add_argument("--z-dim", type=positive_int, default=16)
    v.add_argument("--lr", type=positive_float, default=1e-3)

    c = _parser(groups, "cyclegan", "CycleGAN: thin ↔ thick strokes", run_cyclegan)
    c.add_argument("--steps", type=positive_int, default=1000)
    c.add_argument("--lambda-cyc", type=_non_negative_float, default=10.0)
    c.add_argument("--lr", type=positive_float, default=2e-4)
