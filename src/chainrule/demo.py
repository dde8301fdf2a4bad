"""``chainrule demo``: train a small CNN (or an MLP) on scikit-learn's bundled 8x8 digits, and show the result.

Writes into the output folder: ``model.safetensors`` (the trained weights, loadable by PyTorch), ``training.png``
(loss and accuracy by epoch) and ``predictions.png`` (test digits with the predicted labels, mistakes in red).
Needs the ``demo`` extra (tqdm, matplotlib, scikit-learn, safetensors).

``mpiexec -n N chainrule demo --distributed`` trains the same model data-parallel on N processes (the
``distributed`` extra): every rank draws the same global batches as one process would and trains on its share,
under ``DistributedDataParallel``, so the run computes what one process computes with the same global batch
(up to float32 rounding in the order of the sums); rank 0 alone prints and writes.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import data, io, nn, optim
from . import distributed as dist
from . import random as cr_random
from .compile import compile as cr_compile
from .engine import no_grad
from .nn import functional as F
from .tensor import Tensor

# Adam under a one-cycle learning-rate schedule (peak ``lr``); tuned so seeds 0-2 all pass 98% (CNN) / 97% (MLP)
EPOCHS = {"cnn": 20, "mlp": 30}
LEARNING_RATE = 1e-2


def build_model(kind: str) -> nn.Module:
    """The demo's networks: a CNN (conv-relu-pool twice, then linear) or a two-layer MLP.

    >>> from chainrule.demo import build_model
    >>> sum(p.size for p in build_model("cnn").parameters())
    21386
    """
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 32 x 4 x 4
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 64 x 2 x 2
            nn.Flatten(), nn.Linear(64 * 2 * 2, 10),
        )
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    raise ValueError(f"unknown model {kind!r}: choose 'cnn' or 'mlp'")


@dataclass
class History:
    """Per-epoch numbers of one training run."""

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    interrupted: bool = False


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512, device: str = "cpu") -> float:
    """The fraction of ``x`` that ``model`` labels as ``y`` (in eval mode, without recording a graph)."""
    return float(np.mean(predict(model, x, batch_size, device) == y))


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 512, device: str = "cpu") -> np.ndarray:
    was_training = model.training
    model.eval()
    with no_grad():
        labels = [model(Tensor(x[i:i + batch_size], device=device)).argmax(axis=1).cpu().numpy()
                  for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return np.concatenate(labels)


def train(kind: str = "cnn", epochs: int | None = None, batch_size: int = 32, lr: float | None = None,
          seed: int = 0, out: str | Path = "chainrule-demo", quiet: bool = False,
          device: str = "cpu", distributed: bool = False, compile: bool = False) -> tuple[nn.Module, History]:
    """Train the demo model with Adam on ``device``, print progress, and write the model and the two pictures into
    ``out``.

    Ctrl-C stops training after the current batch; what was trained so far is still saved and drawn. Each epoch
    prints one summary line; a progress bar (on stderr) shows during an epoch when stderr is a terminal. With
    ``distributed``, every rank of an MPI job trains on its share of each global batch of ``batch_size``. With
    ``compile``, the training step (forward, backward, Adam's update) runs through ``cr.compile``: traced once,
    then replayed with the same numbers (the last, smaller batch of an epoch is a second signature).
    """
    from tqdm import tqdm

    epochs = EPOCHS[kind] if epochs is None else epochs
    lr = LEARNING_RATE if lr is None else lr
    ranks, rank = (dist.world_size(), dist.rank()) if distributed else (1, 0)
    if compile and distributed:
        raise ValueError("chainrule demo: --compile and --distributed do not go together yet (the gradients' "
                         "all-reduce runs in hooks during backward, which a compiled step cannot replay)")
    if batch_size < ranks:
        raise ValueError(f"chainrule demo: a batch of {batch_size} cannot be shared by {ranks} processes: give "
                         f"--batch-size {ranks} or more")
    out = Path(out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    cr_random.seed(seed)
    (x_train, y_train), (x_test, y_test) = data.load_digits(seed=seed)
    model = build_model(kind).to(device)
    trained = dist.DistributedDataParallel(model) if distributed else model
    optimizer = optim.Adam(model.parameters(), lr=lr)
    # every rank draws the one-process run's global batches (same generator), then keeps its own share of each
    loader = data.DataLoader((x_train, y_train), batch_size=batch_size, shuffle=True, seed=seed)
    schedule = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(loader))
    history = History()

    def train_step(xb: Tensor, yb: Tensor, whole: int) -> tuple[Tensor, Tensor]:
        """One step on a batch: its loss and its count of right answers (values, without a graph)."""
        logits = trained(xb)
        # the global batch's mean: DDP averages over the ranks, each of which holds its share of the samples
        loss = (F.cross_entropy(logits, yb) if ranks == 1
                else F.cross_entropy(logits, yb, reduction="sum") * (ranks / whole))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach(), (logits.argmax(axis=1) == yb).sum()

    step = cr_compile(train_step, static_argnums=2) if compile else train_step
    say = (lambda *a: None) if quiet or rank != 0 else print
    say(f"chainrule demo: {kind.upper()} on 8x8 digits ({len(x_train)} train, {len(x_test)} test), Adam, "
        f"one-cycle lr up to {lr}, "
        f"batch {batch_size}, {epochs} epochs, seed {seed}" + ("" if device == "cpu" else f", on {device}")
        + (f", data-parallel on {ranks} processes" if distributed else "") + (", compiled" if compile else ""))
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            total_loss = correct = seen = 0.0
            start = time.perf_counter()
            # disable=None: tqdm draws the bar only where its stream (stderr) is a terminal; in a log or a pipe
            # the carriage-return updates would pile up, and the summary line below says it all
            bar = tqdm(loader, desc=f"epoch {epoch:2d}/{epochs}", leave=False,
                       disable=True if quiet or rank != 0 else None, unit="batch")
            for xb, yb in bar:
                whole = len(yb)
                lo, hi = rank * whole // ranks, (rank + 1) * whole // ranks
                loss, hits = step(xb[lo:hi].to(device), yb[lo:hi].to(device), whole)
                schedule.step()
                total_loss += float(loss) * whole / ranks
                correct += float(hits)
                seen += hi - lo
                bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}",
                                ex_s=f"{seen * ranks / (time.perf_counter() - start):.0f}")
            if ranks > 1:
                total_loss, correct, seen = dist.all_reduce(np.array([total_loss, correct, seen])).tolist()
            history.loss.append(total_loss / seen)
            history.train_accuracy.append(correct / seen)
            history.test_accuracy.append(accuracy(model, x_test, y_test, device=device))
            say(f"epoch {epoch:2d}/{epochs}  loss {history.loss[-1]:.4f}  train acc {history.train_accuracy[-1]:.4f}"
                f"  test acc {history.test_accuracy[-1]:.4f}  ({seen / (time.perf_counter() - start):.0f} ex/s)")
    except KeyboardInterrupt:
        history.interrupted = True
        say("\ninterrupted: saving what was trained so far")
    final = accuracy(model, x_test, y_test, device=device)
    if rank != 0:
        return model, history
    io.save(model.state_dict(), out / "model.safetensors")
    plot_history(history, out / "training.png")
    plot_predictions(x_test, y_test, predict(model, x_test, device=device), out / "predictions.png")
    print(f"test accuracy {final:.4f} ({kind}); wrote {out / 'model.safetensors'}, {out / 'training.png'}, "
          f"{out / 'predictions.png'}")
    return model, history


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    return plt


def plot_history(history: History, path: Path) -> None:
    """Loss and accuracy by epoch, side by side."""
    plt = _pyplot()
    epochs = np.arange(1, len(history.loss) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, history.loss, marker="o")
    left.set(title="training loss (cross-entropy)", xlabel="epoch", ylabel="loss")
    right.plot(epochs, history.train_accuracy, marker="o", label="train")
    right.plot(epochs, history.test_accuracy, marker="s", label="test")
    right.set(title="accuracy", xlabel="epoch", ylabel="accuracy", ylim=(min([0.8, *history.test_accuracy]), 1.0))
    right.legend()
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_predictions(x: np.ndarray, y: np.ndarray, predicted: np.ndarray, path: Path, count: int = 48) -> None:
    """A grid of test digits titled with the predicted label; mistakes in red, with the true label."""
    plt = _pyplot()
    wrong = np.flatnonzero(predicted != y)
    shown = np.concatenate([wrong, np.flatnonzero(predicted == y)])[:count]  # mistakes first
    cols = 12
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.05))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), shown):
        ok = predicted[i] == y[i]
        ax.imshow(x[i].reshape(8, 8), cmap="gray_r")
        ax.set_title(f"{predicted[i]}" if ok else f"{predicted[i]} (is {y[i]})", fontsize=8,
                     color="black" if ok else "red")
    fig.suptitle(f"test digits, predicted labels ({len(wrong)} mistakes of {len(y)}, shown first in red)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def add_demo_command(subparsers: Any) -> None:
    """``chainrule demo``: the subcommand's options (the CLI lists this in ``cli.COMMANDS``)."""
    from .cli import int_at_least, positive_float  # here, not above: cli imports this module

    p = subparsers.add_parser(
        "demo", help="train a small network on the bundled digits and show the result",
        description="Train a small CNN (or an MLP) on scikit-learn's bundled 8x8 digits and show the result: the "
        "trained weights (model.safetensors, loadable by PyTorch), the loss and accuracy by epoch (training.png) "
        "and test digits with their predicted labels (predictions.png), written into the output folder. Progress "
        "bars appear on a terminal only; elsewhere (a log, a pipe) each epoch prints one summary line.")
    p.add_argument("--model", choices=("cnn", "mlp"), default="cnn", help="network to train (default: cnn)")
    p.add_argument("--epochs", type=int_at_least(1), default=None, help="epochs (default: 20 for cnn, 30 for mlp)")
    p.add_argument("--batch-size", type=int_at_least(1), default=32, help="examples per batch (default: 32)")
    p.add_argument("--lr", type=positive_float, default=None,
                   help=f"peak learning rate of the one-cycle schedule (default: {LEARNING_RATE:g})")
    p.add_argument("--seed", type=int_at_least(0), default=0,
                   help="random seed, 0 or more: same seed, same numbers (default: 0)")
    p.add_argument("--out", default="chainrule-demo", help="output folder (default: ./chainrule-demo/)")
    p.add_argument("--quiet", action="store_true", help="print only the final result")
    p.add_argument("--device", default="cpu",
                   help="where to train: cpu (default), or cuda / cuda:N (needs the gpu extra and a GPU)")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI: run as mpiexec -n N chainrule demo --distributed (needs the "
                   "distributed extra); each process trains on its share of every batch, rank 0 prints and writes")
    p.add_argument("--compile", action="store_true",
                   help="run the training step through cr.compile (traced once, replayed without Python overhead)")
    p.set_defaults(handler=_run_demo)


def _run_demo(args: Any) -> int:
    try:
        import matplotlib  # noqa: F401
        import sklearn  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError as error:
        print(f"chainrule demo: {error.name} is missing; install the demo extra: pip install 'chainrule[demo]'",
              file=sys.stderr)
        return 1
    try:
        if args.distributed:
            dist.init()
        train(args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, out=args.out,
              quiet=args.quiet, device=args.device, distributed=args.distributed, compile=args.compile)
    except OSError as error:  # the output folder cannot be made or written (a file of that name, no permission)
        where = f" ({error.filename})" if error.filename else ""
        print(f"chainrule demo: error: cannot write the results into {args.out}: {error.strerror or error}{where}",
              file=sys.stderr)
        return 1
    return 0
