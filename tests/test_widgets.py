import io
from datetime import UTC, datetime

import torch
from PIL import Image

from aecourse.noise import gaussian_noise
from aecourse.widgets import grid_png, latent_explorer, noise_explorer


def test_grid_png_lays_out_rows():
    png = grid_png([torch.zeros(3, 1, 4, 4), torch.ones(2, 3, 4, 4)], scale=2, gap=1)
    image = Image.open(io.BytesIO(png))
    assert image.size == ((3 * 5 - 1) * 2, (2 * 5 - 1) * 2)
    assert image.getpixel((0, 0)) == (0, 0, 0)  # first row black
    assert image.getpixel((0, image.size[1] - 1)) == (255, 255, 255)  # second row white


def test_noise_slider_redraws(digits):
    box = noise_explorer(lambda x: x.clamp(0, 1), digits[:4], gaussian_noise, level=0.2)
    slider, image = box.children[0], box.children[1]
    before = image.value
    slider.value = 0.8
    assert image.value != before
    slider.value = 0.2
    assert image.value == before  # same seed, same level: same picture


def test_latent_sliders_redraw():
    decode = torch.nn.Sequential(torch.nn.Linear(3, 784), torch.nn.Sigmoid(),
                                 torch.nn.Unflatten(1, (1, 28, 28)))  # fmt: skip
    box = latent_explorer(decode, torch.zeros(3), dims=[0, 2])
    sliders, image = box.children[0].children[0].children, box.children[0].children[1]
    assert [s.description for s in sliders] == ["z[0]", "z[2]"]
    before = image.value
    sliders[1].value = 2.5
    assert image.value != before


def _uploaded(name, content):
    """One file as JupyterLab's FileUpload reports it."""
    return {"name": name, "type": "", "size": len(content), "content": memoryview(content),
            "last_modified": datetime.now(UTC)}  # fmt: skip


def test_photo_upload_shows_the_result_or_says_what_was_wrong():
    from aecourse.photo_files import read_photo
    from aecourse.widgets import photo_upload

    def colorize(data, name):
        photo = read_photo(data, 16, name=name)
        return [photo, 1 - photo]

    box = photo_upload(colorize)
    upload, message, image = box.children
    png = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 30, 30)).save(png, format="PNG")
    upload.value = (_uploaded("red.png", png.getvalue()),)
    assert Image.open(io.BytesIO(image.value)).size == (16 * 2, (16 * 2 + 2) * 2)
    assert "red.png" in message.value
    upload.value = (_uploaded("notes.txt", b"hello"),)
    assert "Could not read notes.txt as an image" in message.value
    assert "BytesIO" not in message.value


def test_a_saved_explorer_says_to_run_its_cell_instead_of_a_raw_repr(digits):
    box = noise_explorer(lambda x: x, digits[:2], gaussian_noise)
    bundle = box._repr_mimebundle_()
    assert bundle["text/plain"] == "[noise slider: run this cell in JupyterLab to use it]"
    assert "application/vnd.jupyter.widget-view+json" in bundle  # live in JupyterLab
