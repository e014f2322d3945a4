"""Lessons 04 and 05 on a teacher's own folder of photos: the smallest that works, end to end.

They run in the grading profile: every cell, with training cut to an epoch, which is what
this test is about (the folder's path through loading, splitting and warnings to the scores);
about 30 s on 2 cores. The crop budget is the profile's, whatever the folder.
"""

import numpy as np
from PIL import Image

from aecourse.profiles import COLORIZATION
from aecourse.teach.runner import run_course


def test_colorization_lessons_run_on_a_folder_of_three_photos(tmp_path, capsys):
    folder = tmp_path / "my photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):  # smooth colour gradients, so that there is colour to learn
        y, x = np.mgrid[0:120, 0:160] / 160
        rgb = np.stack([x, y, (1 - x) * rng.random()], -1) * 255
        Image.fromarray(rgb.astype(np.uint8)).save(folder / f"photo{i}.jpg")
    Image.new("RGB", (100, 100), (90, 90, 90)).save(folder / "gray.png")
    (folder / "readme.txt").write_text("my holiday")

    runs, run_dir = run_course(profile="grading", lessons=["04", "05"], out=tmp_path / "run",
                               photo_source=str(folder), progress=False)  # fmt: skip
    train, _, test = COLORIZATION["grading"].crops
    assert [r.status for r in runs] == ["ok", "ok"], [r.error for r in runs]
    console = capsys.readouterr().out
    for run in runs:
        assert run.context["splits"]["test"] == {"images": test, "photos": 1}
        assert run.context["splits"]["train"] == {"images": train, "photos": 1}
        warnings = run.context["warnings"]
        assert any("gray.png" in w for w in warnings) and any("readme.txt" in w for w in warnings)
        assert any("only 1 test photo" in w for w in warnings)
        for warning in warnings:
            assert f"   warning: {warning}" in console
        assert "psnr_constant_color" in run.metrics
