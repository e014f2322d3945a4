import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from aecourse.plots import show_image_rows  # noqa: E402


def test_a_single_column_showcase_keeps_its_labels_without_a_layout_warning():
    rows = {"gray": torch.rand(1, 1, 32, 32), "Lab model": torch.rand(1, 3, 32, 32),
            "original": torch.rand(1, 3, 32, 32)}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "Tight layout not applied" fails here
        show_image_rows(rows, n=1, size=1.2)
    fig = plt.gcf()
    assert fig.get_size_inches()[0] >= 2.2  # the image, and room for the labels
    plt.close("all")


def test_the_default_grid_keeps_its_size():
    show_image_rows({"a": torch.rand(8, 1, 8, 8), "b": torch.rand(8, 1, 8, 8)})
    assert tuple(plt.gcf().get_size_inches().round(2)) == (4.8, 1.4)
    plt.close("all")
