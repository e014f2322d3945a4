import pytest
import torch

from aecourse.checks import ExerciseError


def test_luminance_check_against_pil(capsys):
    from aecourse.checks import check_luma

    def right(rgb):
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (rgb * w).sum(dim=1, keepdim=True)

    check_luma(right)
    assert "matches PIL" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="plain average"):
        check_luma(lambda rgb: rgb.mean(dim=1, keepdim=True))
    with pytest.raises(ExerciseError, match="which weight goes with which channel"):
        check_luma(lambda rgb: right(rgb.flip(1)))
    with pytest.raises(ExerciseError, match="keepdim=True"):
        check_luma(lambda rgb: right(rgb)[:, 0])
