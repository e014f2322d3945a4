"""Plain matplotlib figures for the lessons, sized to be read in the book and on a slide.

At :func:`use_lesson_figures`' 100 dpi a figure 6.6 inches wide fills the book's ~690 px
column, 10-point text is 14 px (nothing is set below 9 points: 12.5 px) and images in a grid
get at least 64 px each. Plots and gray digits stay small as PNGs (tens of kB); grids of colour
photos are shown as JPEGs, which weigh a fifth of the PNG, so notebooks stay lean.

Each ``show_``/``plot_`` function draws and shows its figure and returns nothing, so a figure
is never shown twice when it is the last line of a notebook cell.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib import ticker

WIDTH = 6.6  # inches: ~660 px at 100 dpi, the width of the book's column
MIN_FONT = 9  # points: 12.5 px at 100 dpi


def use_lesson_figures(dpi: int = 100) -> None:
    """Draw figures that fill the book's column with readable labels, at a resolution that
    keeps executed notebooks lean."""
    plt.rcParams.update(
        {"figure.dpi": dpi, "savefig.dpi": dpi, "figure.figsize": (WIDTH, 3.3), "font.size": 10}
    )


def _row_strip(images: torch.Tensor, n: int, gap: int) -> torch.Tensor:
    """Up to ``n`` images (B, C, H, W) side by side with ``gap`` white pixels between them,
    as one (H, n*W + (n-1)*gap, C) image: one axes per row draws far faster than one per
    image (a grid of 40 axes takes a third of a second to build)."""
    _, channels, height, width = images.shape
    strip = torch.ones(channels, height, n * width + (n - 1) * gap)
    for c, image in enumerate(images[:n]):
        strip[:, :, c * (width + gap) : c * (width + gap) + width] = image
    return strip.permute(1, 2, 0)


def image_rows_figure(
    rows: Mapping[str, torch.Tensor],
    n: int = 8,
    title: str | None = None,
    size: float | None = None,
) -> plt.Figure:
    """The figure of :func:`show_image_rows`, not shown (for tests and for saving)."""
    margin = 0.15 + 0.09 * max(len(label) for label in rows)  # inches for the row labels
    gap, top = 0.04, 0.4 if title else 0.04  # inches between images, above them
    size = size or min(2.0, (WIDTH - margin - (n - 1) * gap - 0.04) / n)
    width = margin + n * size + (n - 1) * gap + 0.04
    height = top + len(rows) * size + (len(rows) - 1) * gap + 0.04
    fig = plt.figure(figsize=(width, height))
    # Laid out by hand (no tight_layout): every image exactly ``size`` inches on its longer side.
    for r, (label, images) in enumerate(rows.items()):
        images = images.detach().float().cpu().clamp(0, 1)
        pixels = max(images.shape[-2:])  # per ``size`` inches
        strip = _row_strip(images, n, max(1, round(gap / size * pixels)))
        bottom = height - top - (r + 1) * size - r * gap
        ax = fig.add_axes((margin / width, bottom / height, (width - margin - 0.04) / width,
                           size / height))  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
        ax.spines[:].set_visible(False)
        if images.shape[1] == 1:  # nearest: crisp pixels
            ax.imshow(strip[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.imshow(strip, interpolation="nearest")
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title, y=1 - 0.08 / height, va="top")
    return fig


def show_image_rows(
    rows: Mapping[str, torch.Tensor],
    n: int = 8,
    title: str | None = None,
    size: float | None = None,
) -> None:
    """One row per entry (e.g. ``{"real": x, "reconstructed": model(x)}``), ``n`` images each.

    Images are (B, 1, H, W) grayscale or (B, 3, H, W) colour tensors with values in [0, 1].
    ``size``: inches per image; by default the row fills the book's column (at most 2 inches per
    image), which leaves at least 64 px per image for up to 8 images with labels of up to 10
    characters. The row labels get room of their own. Colour images are shown as a JPEG.
    """
    fig = image_rows_figure(rows, n, title, size)
    if any(images.shape[1] == 3 for images in rows.values()):
        show_as_jpeg(fig)
    else:
        plt.show()


def show_as_jpeg(fig: plt.Figure, quality: int = 90) -> None:
    """Show a figure of photos as a JPEG: as a PNG, a grid of photos weighs five times more."""
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", pil_kwargs={"quality": quality})
    plt.close(fig)
    display(Image(buffer.getvalue(), format="jpeg"))


def plot_history(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str] | None = None,
    title: str = "Loss per epoch",
    ylabel: str = "loss",
):
    """Plot loss curves from a :func:`aecourse.train.fit` history (train and val by default)."""
    keys = keys or [k for k in ("train_loss", "val_loss") if k in history]
    fig, ax = plt.subplots(figsize=(WIDTH, 3.3))
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
    fig, ax = plt.subplots(figsize=(WIDTH, 3.3))
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
    fig, ax = plt.subplots(figsize=(WIDTH, 5))
    for value in labels.unique().tolist():
        p = points[labels == value]
        ax.scatter(p[:, 0], p[:, 1], s=5, alpha=0.7, label=str(value), color=plt.cm.tab10(value))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(markerscale=3, fontsize=MIN_FONT, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    plt.show()


def bar_chart(names: Sequence[str], values: Sequence[float], title: str, ylabel: str,
              reference: float | None = None):  # fmt: skip
    """Bars with their values written on top; ``reference`` draws a dashed horizontal line."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3))
    bars = ax.bar([str(n) for n in names], values, color="tab:blue")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=MIN_FONT)
    if reference is not None:
        ax.axhline(reference, color="gray", linestyle="--", linewidth=1)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, max(1.0, max(values)) * 1.12)
    fig.tight_layout()
    plt.show()
