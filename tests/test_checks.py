import pytest
import torch

from aecourse.checks import ExerciseError


def test_kl_check():
    from aecourse.checks import check_kl_divergence
    from aecourse.losses import kl_divergence

    check_kl_divergence(kl_divergence)
    wrong = {
        "sign": lambda mu, lv: -kl_divergence(mu, lv),
        "batch": lambda mu, lv: kl_divergence(mu, lv).mean(),
        "1/2": lambda mu, lv: 2 * kl_divergence(mu, lv),
        "sigma": lambda mu, lv: 0.5 * torch.sum(mu**2 + lv - lv.exp().log() - 0 * lv, dim=1),
    }
    hints = {"sign": "negative", "batch": "one value per image", "1/2": "factor 1/2",
             "sigma": "variance is not 1"}  # fmt: skip
    for name, fn in wrong.items():
        with pytest.raises(ExerciseError, match=hints[name]):
            check_kl_divergence(fn)


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
