"""Every lesson figure is readable in the book's ~690 px column: plots at least 600 px wide,
every text at least 11 px, grid images at least 64 px, and no layout warning."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from aecourse import plots  # noqa: E402
from aecourse.plots import (  # noqa: E402
    bar_chart,
    image_rows_figure,
    plot_against_baseline,
    plot_history,
    scatter_by_label,
    show_image_rows,
    use_lesson_figures,
)


@pytest.fixture(autouse=True)
def lesson_figures():
    with matplotlib.rc_context():
        use_lesson_figures()
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # "Tight layout not applied" fails
            yield
    plt.close("all")


def _drawn():
    """The figure just shown, drawn, with its width in pixels and every visible text."""
    fig = plt.gcf()
    fig.canvas.draw()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return fig, fig.get_size_inches()[0] * fig.dpi, texts


def _px(points: float, fig) -> float:
    return points * fig.dpi / 72


PLOTS = {
    "history": lambda: plot_history({"train_loss": [3, 2, 1], "val_loss": [3.5, 2.5, 1.5]}),
    "baseline": lambda: plot_against_baseline(
        [2, 4, 8], {"AE": [0.1, 0.05, 0.02], "PCA": [0.1, 0.04, 0.02]}, "latent", "MSE", "t"
    ),
    "scatter": lambda: scatter_by_label(torch.randn(100, 2), torch.arange(100) % 10, "latent"),
    "bars": lambda: bar_chart(
        list(range(10)), [0.5 + d / 30 for d in range(10)], "AUC", "AUC", reference=0.5
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", PLOTS)
def test_plots_fill_the_column_with_readable_text(name):
    PLOTS[name]()
    fig, width, texts = _drawn()
    assert width >= 600, width
    assert texts
    for text in texts:
        assert _px(text.get_fontsize(), fig) >= 11, (text.get_text(), text.get_fontsize())


@pytest.mark.parametrize("n", [3, 8])
def test_image_grids_give_each_image_64_pixels_and_keep_their_labels(n):
    rows = {"real": torch.rand(n, 1, 28, 28), "untrained": torch.rand(n, 3, 16, 16)}
    image_rows_figure(rows, n=n, title="a title")
    fig, width, texts = _drawn()
    assert 600 <= width <= 688, width  # fills the column, never scaled down
    renderer = fig.canvas.get_renderer()
    assert len(fig.axes) == len(rows)  # a row is one strip of images: one axes each
    gap = 0.04 * fig.dpi  # pixels between two images of a row
    for ax in fig.axes:
        box = ax.get_window_extent(renderer)
        assert min((box.width - (n - 1) * gap) / n, box.height) >= 64, (n, box)
    labels = {t.get_text() for t in texts}
    assert {"real", "untrained", "a title"} <= labels
    for text in texts:
        assert _px(text.get_fontsize(), fig) >= 11
        assert text.get_window_extent(renderer).x0 >= 0, text.get_text()  # not cut off


def test_a_showcase_of_three_photos_side_by_side():
    image_rows_figure({"": torch.rand(3, 3, 40, 60)}, n=3, title="gray · model · original")
    fig, width, _ = _drawn()
    assert width >= 600
    (ax,) = fig.axes
    assert (ax.get_window_extent().width - 2 * 0.04 * fig.dpi) / 3 >= 180


def test_a_row_strip_puts_the_images_side_by_side_with_white_between():
    images = torch.rand(2, 3, 5, 4)
    strip = plots._row_strip(images, n=3, gap=2)
    assert strip.shape == (5, 3 * 4 + 2 * 2, 3)
    assert torch.equal(strip[:, :4], images[0].permute(1, 2, 0))
    assert torch.equal(strip[:, 6:10], images[1].permute(1, 2, 0))
    assert torch.all(strip[:, 4:6] == 1) and torch.all(strip[:, 10:] == 1)  # gaps, empty slot


def test_photos_are_shown_as_jpeg_and_digits_as_png(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    show_image_rows({"photos": torch.rand(8, 3, 64, 64)})
    assert shown[0].format == "jpeg" and shown[0].data[:2] == b"\xff\xd8"
    assert len(shown[0].data) < 80_000
    assert not plt.get_fignums()  # closed: not shown a second time as a PNG
    show_image_rows({"digits": torch.rand(8, 1, 28, 28)})
    assert len(shown) == 1 and plt.get_fignums()  # left to the notebook's PNG
