"""How an exercise is checked: the learner's function against the library's, on random and edge
cases.

An ``Exercise`` names the function the learner writes, the library function it must agree with,
a generator of cases (several random ones, so a hard-coded answer fails, plus edge cases), and the
plausible mistakes learners make, each with a targeted hint. ``run_check`` calls the learner's
function on every case and stops at the first disagreement with a message naming the case, the
inputs, the expected and the obtained output and a hint; it never shows the solution's code.

When a notebook is autograded (nbgrader), a hidden ``assert check_…(fn)`` in the check cell turns
the False of an unwritten function into a failed test; a wrong function fails by raising.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor


class ExerciseFailed(AssertionError):
    """Raised by a ``check_…`` function when the learner's function disagrees with the library."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows only the message (in red), not the checker's own stack frames."""
        return [f"\x1b[31m{line}\x1b[0m" for line in str(self).strip("\n").splitlines()]


class Case(NamedTuple):
    """One call of the learner's function: a description, positional and keyword arguments.

    ``raises`` names an exception type the call must raise (an edge case such as "fewer than two
    values"); then the output is not compared.
    """

    name: str
    args: tuple
    kwargs: Mapping[str, Any] = {}
    raises: type[BaseException] | None = None


class Mistake(NamedTuple):
    """A plausible wrong solution and the hint that points a learner who made it the right way."""

    fn: Callable
    hint: str


@dataclass(frozen=True)
class Exercise:
    """A function for the learner to write, checked against ``reference`` (the library)."""

    name: str                                   # what the learner's function is called
    notebook: str                               # exercise notebook stem, e.g. "ex01_prototypes…"
    signature: str                              # how it is called and what it returns (shapes)
    reference: Callable                         # the library's implementation, same signature
    cases: Callable[[torch.Generator], list[Case]]
    hint: str                                   # general hint when no known mistake matches
    mistakes: tuple[Mistake, ...] = ()
    # evaluate(fn, case) → what is compared (default: fn's return value); may also compute
    # gradients through fn's output. Raises ExerciseFailed for a non-comparable result.
    evaluate: Callable[[Callable, Case], Any] | None = None
    rtol: float = 1e-5
    atol: float = 1e-7


# -- comparing and describing values ------------------------------------------------------------

def _as_number(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, Tensor) and x.numel() == 1 and x.dim() == 0:
        return float(x.detach())
    if type(x).__module__ == "numpy" and hasattr(x, "item") and getattr(x, "ndim", 1) == 0:
        return float(x.item())
    return None


def compare(expected: Any, got: Any, rtol: float, atol: float, where: str = "") -> str | None:
    """None when ``got`` matches ``expected`` (tensors, numbers, tuples, dicts), else why not."""
    at = f" in {where}" if where else ""
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"expected a dict{at}, got {type(got).__name__}"
        if set(expected) != set(got):
            return f"expected keys {sorted(expected)}{at}, got {sorted(got)}"
        for k in expected:
            why = compare(expected[k], got[k], rtol, atol, f"{where}[{k!r}]" if where else repr(k))
            if why:
                return why
        return None
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)} values{at}, got {describe(got)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            why = compare(e, g, rtol, atol, f"{where}[{i}]")
            if why:
                return why
        return None
    if isinstance(expected, Tensor) and expected.dim() > 0:
        if not isinstance(got, Tensor):
            return f"expected a tensor of shape {list(expected.shape)}{at}, got {describe(got)}"
        if got.shape != expected.shape:
            return (f"expected shape {list(expected.shape)}{at}, got shape {list(got.shape)}")
        e, g = expected.detach().double(), got.detach().double()
        if not torch.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
            err = (g - e).abs()
            err[torch.isnan(err)] = math.inf
            idx = tuple(int(i) for i in torch.nonzero(err == err.max())[0])
            note = ""
            if got.dtype != expected.dtype:
                note = (f" (your result is {got.dtype} but the inputs are {expected.dtype}: create "
                        "new tensors with the inputs' dtype)")
            return (f"values differ{at}: at index {list(idx)} expected {e[idx].item():.6g}, got "
                    f"{g[idx].item():.6g} (largest difference {err.max().item():.3g}){note}")
        return None
    e_num = _as_number(expected)
    if e_num is not None:
        g_num = _as_number(got)
        if g_num is None:
            return f"expected a number{at}, got {describe(got)}"
        if not math.isclose(g_num, e_num, rel_tol=rtol, abs_tol=atol) and not (
                math.isnan(g_num) and math.isnan(e_num)):
            return f"value differs{at}: expected {e_num:.6g}, got {g_num:.6g}"
        return None
    return None if got == expected else f"expected {expected!r}{at}, got {got!r}"


def describe(x: Any, max_values: int = 8) -> str:
    """A short, readable rendering of an input or output for failure messages."""
    if isinstance(x, Tensor):
        dtype = str(x.dtype).removeprefix("torch.")
        if x.numel() <= (max_values if x.is_floating_point() else 2 * max_values):
            flat = x.detach().flatten()
            vals = ([round(v, 4) for v in flat.double().tolist()] if x.is_floating_point()
                    else flat.tolist())
            if x.dim() == 0:
                return f"{vals[0]} ({dtype})"
            return f"tensor {vals} of shape {list(x.shape)} ({dtype})"
        return f"tensor of shape {list(x.shape)} ({dtype})"
    if isinstance(x, Mapping):
        return "{" + ", ".join(f"{k!r}: {describe(v, max_values)}" for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple)):
        if len(x) > max_values:
            return f"{type(x).__name__} of {len(x)} values"
        inner = ", ".join(describe(v, max_values) for v in x)
        return f"[{inner}]" if isinstance(x, list) else f"({inner})"
    if isinstance(x, float):
        return f"{x:.6g}"
    if callable(x):
        return (x.__doc__ or getattr(x, "__name__", "a function")).strip().splitlines()[0]
    return repr(x)


def _clone(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.detach().clone()
    if isinstance(x, Mapping):
        return {k: _clone(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_clone(v) for v in x)
    return x


def _mutated(before: Any, after: Any, path: str) -> str | None:
    """The first input the learner's function changed in place, or None."""
    if isinstance(before, Tensor):
        same = before.shape == after.shape and torch.equal(before, after.detach())
        return None if same else path
    if isinstance(before, Mapping):
        for k in before:
            found = _mutated(before[k], after[k], f"{path}[{k!r}]")
            if found:
                return found
    if isinstance(before, (list, tuple)):
        if len(before) != len(after):
            return path
        for i, (b, a) in enumerate(zip(before, after)):
            found = _mutated(b, a, f"{path}[{i}]")
            if found:
                return found
    return None


# -- running a check ----------------------------------------------------------------------------

def default_evaluate(fn: Callable, case: Case) -> Any:
    """What is compared by default: the function's return value."""
    return fn(*case.args, **case.kwargs)


def value_and_gradient(value: Any, wrt: Tensor, value_name: str, grad_name: str,
                       not_connected: str) -> dict[str, Tensor]:
    """{value_name: the scalar, grad_name: ∂value/∂wrt} for outputs checked with their gradient.

    Raises ExerciseFailed when ``value`` is not a scalar tensor, or not connected to ``wrt`` by
    autograd (then ``not_connected`` says what to fix).
    """
    if not isinstance(value, Tensor) or value.numel() != 1:
        shape = f" of shape {list(value.shape)}" if isinstance(value, Tensor) else ""
        raise ExerciseFailed(f"return the {value_name} as a scalar tensor, got "
                             f"{type(value).__name__}{shape}")
    if not value.requires_grad:
        raise ExerciseFailed(not_connected)
    (grad,) = torch.autograd.grad(value.reshape(()), wrt, allow_unused=True)
    return {value_name: value.detach().reshape(()),
            grad_name: torch.zeros_like(wrt) if grad is None else grad}


def randn(g: torch.Generator, *shape: int) -> Tensor:
    """Standard normal float64 samples from the check's generator."""
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def randint(g: torch.Generator, low: int, high: int) -> int:
    """An integer in [low, high] (inclusive) from the check's generator."""
    return int(torch.randint(low, high + 1, (1,), generator=g))


def uniform(g: torch.Generator, low: float, high: float) -> float:
    """A float in [low, high) from the check's generator."""
    return low + (high - low) * float(torch.rand(1, generator=g, dtype=torch.float64))


def _call(exercise: Exercise, fn: Callable, case: Case) -> Any:
    evaluate = exercise.evaluate or default_evaluate
    return evaluate(fn, case)


def _diagnose(exercise: Exercise, got: Any, case: Case, expected: Any) -> str:
    """The hint of the first known mistake that reproduces ``got`` on this case, else the general
    hint."""
    for mistake in exercise.mistakes:
        try:
            wrong = _call(exercise, mistake.fn, Case(case.name, _clone(case.args),
                                                     _clone(dict(case.kwargs))))
        except Exception:
            continue
        if compare(expected, wrong, exercise.rtol, exercise.atol) is None:
            continue                              # this mistake is invisible on this case
        if compare(wrong, got, exercise.rtol, exercise.atol) is None:
            return mistake.hint
    return exercise.hint


def _inputs(case: Case, arg_names: Sequence[str]) -> str:
    parts = [f"    {name} = {describe(value)}" for name, value in zip(arg_names, case.args)]
    parts += [f"    {name} = {describe(value)}" for name, value in case.kwargs.items()]
    return "\n".join(parts)


def _arg_names(exercise: Exercise) -> list[str]:
    inside = exercise.signature.split("(", 1)[1].split(")", 1)[0]
    return [a.strip().split("=")[0].strip() for a in inside.split(",") if a.strip()]


def _fail(exercise: Exercise, case: Case, seed: int, what: str, hint: str) -> ExerciseFailed:
    return ExerciseFailed(
        f"\n✗ {exercise.name} disagrees with the library on case: {case.name}\n"
        f"  inputs:\n{_inputs(case, _arg_names(exercise))}\n"
        f"  {what}\n"
        f"  hint: {hint}\n"
        f"  (seed {seed}: check_{exercise.name}(your_function, seed={seed}) repeats these cases)")


def _diagnose_error(exercise: Exercise, err: Exception, case: Case) -> str:
    """The hint of a known mistake that raises the same error on this case, else the general one."""
    for mistake in exercise.mistakes:
        try:
            _call(exercise, mistake.fn, Case(case.name, _clone(case.args),
                                             _clone(dict(case.kwargs))))
        except Exception as wrong:
            if type(wrong) is type(err) and str(wrong) == str(err):
                return mistake.hint
    return exercise.hint


def run_check(exercise: Exercise, fn: Callable, seed: int | None = None,
              verbose: bool = True) -> bool:
    """Check ``fn`` against ``exercise.reference`` on every case; True when all pass.

    Returns False (and prints how to start) when ``fn`` raises NotImplementedError, the state of
    an untouched exercise cell. Raises ExerciseFailed naming the case, inputs, expected vs got and
    a hint on the first disagreement, including when ``fn`` modifies its inputs in place or raises.
    """
    if not callable(fn):
        raise ExerciseFailed(f"check_{exercise.name} needs your function, got {describe(fn)}; "
                             f"pass the function itself: check_{exercise.name}({exercise.name})")
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    cases = exercise.cases(torch.Generator().manual_seed(seed))
    for case in cases:
        args, kwargs = _clone(case.args), _clone(dict(case.kwargs))
        try:
            got = _call(exercise, fn, Case(case.name, args, kwargs))
        except NotImplementedError:
            if verbose:
                print(f"… {exercise.name} is not written yet: replace `raise NotImplementedError` "
                      f"in the exercise cell with your code, run that cell, then this one again.")
            return False
        except ExerciseFailed as err:           # evaluate() found a non-comparable result
            raise _fail(exercise, case, seed, str(err), exercise.hint) from None
        except Exception as err:
            if case.raises is not None and isinstance(err, case.raises):
                continue
            raise _fail(exercise, case, seed, f"your function raised {type(err).__name__}: {err}",
                        _diagnose_error(exercise, err, case)) from None
        if case.raises is not None:
            raise _fail(exercise, case, seed,
                        f"expected {case.raises.__name__} to be raised, but your function "
                        f"returned {describe(got)}", exercise.hint)
        names = _arg_names(exercise)
        changed = next((m for m in (_mutated(b, a, n) for b, a, n in zip(case.args, args, names))
                        if m), None) or _mutated(dict(case.kwargs), kwargs, "keyword argument")
        if changed:
            raise _fail(exercise, case, seed,
                        f"your function modified its input {changed} in place",
                        "return new tensors (x - a * g) instead of updating the inputs "
                        "(x -= a * g, x.add_(…)): the caller's values must not change")
        expected = _call(exercise, exercise.reference, Case(case.name, _clone(case.args),
                                                            _clone(dict(case.kwargs))))
        why = compare(expected, got, exercise.rtol, exercise.atol)
        if why:
            what = why
            if _as_number(expected) is None:
                what += f"\n  expected: {describe(expected)}\n  got:      {describe(got)}"
            raise _fail(exercise, case, seed, what, _diagnose(exercise, got, case, expected))
    if verbose:
        n_edge = sum(c.name.startswith("edge") for c in cases)
        print(f"✓ {exercise.name}: all {len(cases)} cases agree with the library "
              f"({len(cases) - n_edge} random, {n_edge} edge cases).")
    return True
