"""Small, plain matplotlib figures for the lessons (small so that notebooks stay lean).

Each function draws and shows its figure; none returns it, so a figure is never shown twice
when it is the last line of a notebook cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib import ticker


def use_small_figures(dpi: int = 72) -> None:
    """Draw figures at a modest size and resolution, so executed notebooks stay small."""
    plt.rcParams.update(
        {"figure.dpi": dpi, "savefig.dpi": dpi, "figure.figsize": (6, 3), "font.size": 9}
    )


def show_image_rows(
    rows: Mapping[str, torch.Tensor], n: int = 8, title: str | None = None, size: float = 0.6
):
    """One row per entry (e.g. ``{"real": x, "reconstructed": model(x)}``), ``n`` images each.

    Images are (B, 1, H, W) grayscale or (B, 3, H, W) colour tensors with values in [0, 1].
    ``size``: inches per image; the row labels get room of their own, so a single column of
    large images (a showcase) keeps its labels too.
    """
    margin = 1.0 if n == 1 else 0.0  # one column: its labels need room of their own
    fig, axes = plt.subplots(
        len(rows), n, figsize=(n * size + margin, len(rows) * size * 7 / 6), squeeze=False
    )
    for r, (label, images) in enumerate(rows.items()):
        images = images.detach().float().cpu().clamp(0, 1)
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                img = images[c]
                if img.shape[0] == 1:
                    ax.imshow(img[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                else:  # nearest: crisp pixels, and PNGs that compress well
                    ax.imshow(img.permute(1, 2, 0), interpolation="nearest")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.show()


def plot_history(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str] | None = None,
    title: str = "Loss per epoch",
    ylabel: str = "loss",
):
    """Plot loss curves from a :func:`aecourse.train.fit` history (train and val by default)."""
    keys = keys or [k for k in ("train_loss", "val_loss") if k in history]
    fig, ax = plt.subplots(figsize=(5, 3))
    for key in keys:
        values = history[key]
        ax.plot(range(1, len(values) + 1), values, label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    plt.show()


def plot_against_baseline(
    xs: Sequence[float],
    series: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = True,
    logy: bool = True,
):
    """Several curves over the same x values, e.g. autoencoder and PCA MSE per latent size."""
    fig, ax = plt.subplots(figsize=(5, 3))
    for label, ys in series.items():
        ax.plot(xs, ys, marker="o", label=label)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xticks(list(xs), [str(x) for x in xs])
    if logy:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.3g"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    plt.show()


def scatter_by_label(points: torch.Tensor, labels: torch.Tensor, title: str, xlabel: str = "",
                     ylabel: str = ""):  # fmt: skip
    """A 2-D scatter of ``points`` (N, 2), one colour per integer label, with a legend."""
    points, labels = points.detach().cpu(), labels.cpu()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for value in labels.unique().tolist():
        p = points[labels == value]
        ax.scatter(p[:, 0], p[:, 1], s=5, alpha=0.7, label=str(value), color=plt.cm.tab10(value))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(markerscale=3, fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    plt.show()


def bar_chart(names: Sequence[str], values: Sequence[float], title: str, ylabel: str,
              reference: float | None = None):  # fmt: skip
    """Bars with their values written on top; ``reference`` draws a dashed horizontal line."""
    fig, ax = plt.subplots(figsize=(5, 2.6))
    bars = ax.bar([str(n) for n in names], values, color="tab:blue")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7)
    if reference is not None:
        ax.axhline(reference, color="gray", linestyle="--", linewidth=1)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, max(1.0, max(values)) * 1.12)
    fig.tight_layout()
    plt.show()
