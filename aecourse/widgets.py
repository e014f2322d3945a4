"""Interactive explorers for JupyterLab: ipywidgets sliders that redraw images live.

Each explorer shows a PNG in an ``ipywidgets.Image`` and replaces its bytes when a slider
moves, which is fast and works the same in JupyterLab and Voila. Widgets need a live kernel:
in papermill runs, nbval and the book, the lessons draw the same pictures as static figures,
and a saved notebook shows each explorer as a one-line note (:class:`Explorer`).
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as widgets
import torch
from PIL import Image


class Explorer(widgets.VBox):
    """A VBox of live widgets that a saved notebook shows as ``note``, not as a raw repr.

    A notebook opened without its kernel has no widget state, so JupyterLab and the book fall
    back to an output's ``text/plain``: by default the repr of every child widget
    (``VBox(children=(FloatSlider(...``). Here it says what to do instead.
    """

    def __init__(self, children: Sequence[widgets.Widget], note: str):
        super().__init__(children)
        self.note = note

    def _repr_mimebundle_(self, **kwargs) -> dict | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = self.note
        return bundle


def grid_png(rows: Sequence[torch.Tensor], scale: int = 3, gap: int = 2) -> bytes:
    """PNG bytes of image rows: each a (N, 1 or 3, H, W) batch in [0, 1], one row per batch."""
    rows = [r.detach().float().cpu().clamp(0, 1) for r in rows]
    _, c, h, w = rows[0].shape
    n = max(len(r) for r in rows)
    canvas = torch.ones(3, len(rows) * (h + gap) - gap, n * (w + gap) - gap)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            canvas[:, i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = (
                img.expand(3, h, w)
            )
    array = (canvas.permute(1, 2, 0) * 255).round().byte().numpy()
    image = Image.fromarray(array).resize((array.shape[1] * scale, array.shape[0] * scale),
                                          Image.NEAREST)  # fmt: skip
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def noise_explorer(
    denoise: Callable[[torch.Tensor], torch.Tensor],
    clean: torch.Tensor,
    add_noise: Callable[[torch.Tensor, float, torch.Generator], torch.Tensor],
    level: float = 0.5,
    max_level: float = 1.0,
    seed: int = 0,
) -> Explorer:
    """A slider for the noise level over three rows: noisy input, denoised output, clean image.

    ``add_noise(x, level, generator)`` is e.g. :func:`aecourse.noise.gaussian_noise`; the
    noise is drawn with a fixed seed so that only the level changes as the slider moves.
    """
    slider = widgets.FloatSlider(value=level, min=0.0, max=max_level, step=0.05,
                                 description="noise", continuous_update=True)  # fmt: skip
    image = widgets.Image(format="png")

    def redraw(change: Mapping | None = None) -> None:
        generator = torch.Generator(device=clean.device).manual_seed(seed)
        noisy = add_noise(clean, slider.value, generator)
        with torch.no_grad():
            image.value = grid_png([noisy, denoise(noisy), clean])

    slider.observe(redraw, names="value")
    redraw()
    caption = widgets.HTML("rows: noisy input · denoised · clean")
    return Explorer(
        [slider, image, caption], "[noise slider: run this cell in JupyterLab to use it]"
    )


def latent_explorer(
    decode: Callable[[torch.Tensor], torch.Tensor],
    start: torch.Tensor,
    dims: Sequence[int],
    span: float = 3.0,
) -> Explorer:
    """Sliders for the latent units ``dims`` of the code ``start`` (shape (latent_dim,));
    the image shows ``decode`` of the edited code, redrawn on every move."""
    sliders = [
        widgets.FloatSlider(
            value=float(start[d]),
            min=-span,
            max=span,
            step=0.1,
            description=f"z[{d}]",
            continuous_update=True,
        )  # fmt: skip
        for d in dims
    ]
    image = widgets.Image(format="png")

    def redraw(change: Mapping | None = None) -> None:
        z = start.clone()
        for d, s in zip(dims, sliders, strict=True):
            z[d] = s.value
        with torch.no_grad():
            image.value = grid_png([decode(z.unsqueeze(0))], scale=6)

    for s in sliders:
        s.observe(redraw, names="value")
    redraw()
    note = "[latent sliders: run this cell in JupyterLab to use them]"
    return Explorer([widgets.HBox([widgets.VBox(sliders), image])], note)


def photo_upload(colorize_photo: Callable[[bytes, str], Sequence[torch.Tensor]]) -> Explorer:
    """A FileUpload button: ``colorize_photo(file_bytes, file_name)`` returns image batches
    (e.g. gray, prediction, original), shown one above the other; a file that is no image, or
    too small, says so by its name."""
    upload = widgets.FileUpload(accept="image/*", multiple=False, description="Photo")
    image = widgets.Image(format="png")
    message = widgets.HTML("Choose a photo: it is shown in gray, colorized, and as it was.")

    def show(change: Mapping | None = None) -> None:
        if not upload.value:
            return
        item = upload.value[0]
        try:
            image.value = grid_png(colorize_photo(bytes(item["content"]), item["name"]), scale=2)
            message.value = f"{html.escape(item['name'])}: gray input · colorized · original"
        except ValueError as err:
            message.value = f"<b>{html.escape(str(err))}</b>"

    upload.observe(show, names="value")
    return Explorer(
        [upload, message, image], "[photo upload: run this cell in JupyterLab to use it]"
    )
