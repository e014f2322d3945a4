import pytest
import torch

from aecourse.checks import ExerciseError


def test_luminance_check_against_pil(capsys):
    from aecourse.checks import check_luminance

    def right(rgb):
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (rgb * w).sum(dim=1, keepdim=True)

    check_luminance(right)
    assert "matches PIL" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="plain average"):
        check_luminance(lambda rgb: rgb.mean(dim=1, keepdim=True))
    with pytest.raises(ExerciseError, match="which weight goes with which channel"):
        check_luminance(lambda rgb: right(rgb.flip(1)))
    with pytest.raises(ExerciseError, match="keepdim=True"):
        check_luminance(lambda rgb: right(rgb)[:, 0])


def test_mean_chroma_check_against_scikit_image(capsys):
    from aecourse.checks import check_mean_chroma
    from aecourse.color import rgb_to_lab

    def right(rgb):
        lab = rgb_to_lab(rgb)
        return torch.sqrt(lab[:, 1] ** 2 + lab[:, 2] ** 2).mean().item()

    check_mean_chroma(right)
    assert "as scikit-image computes it" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="square root per pixel"):
        check_mean_chroma(lambda rgb: (rgb_to_lab(rgb)[:, 1:] ** 2).sum(1).mean().item())
    with pytest.raises(ExerciseError, match="only a\\* and b\\*"):
        check_mean_chroma(lambda rgb: rgb_to_lab(rgb).norm(dim=1).mean().item())
