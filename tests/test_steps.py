"""The graded build steps (aecourse.steps): every case passes on the lesson's own code and
fails, with a hint that does not give the answer away, on the mistakes learners make."""

import ast
import inspect
import re
import textwrap

import nbformat
import pytest
import torch
from lesson_code import lesson_namespace, lesson_notebook, solution_code, written
from torch import nn

from aecourse.steps import (
    LESSON_MODULES,
    TAKEN,
    StepError,
    check_case,
    check_step,
    find_step,
    lesson_steps,
    show_steps,
    step_table,
)
from aecourse.teach.lessons import LESSONS_DIR
from aecourse.teach.markup import exercises, regions, setup_source

ALL_STEPS = [step for lesson in LESSON_MODULES for step in lesson_steps(lesson)]


@pytest.mark.parametrize("step", ALL_STEPS, ids=lambda s: s.id)
def test_the_reference_passes_every_case_and_hidden_cases_use_other_inputs(step):
    answer = written(step.id)
    assert [check_case(step, case, answer) for case in step.cases] == [None] * len(step.cases)
    visible, hidden = step.visible(), [c for c in step.cases if c.hidden]
    assert visible and hidden, "a step has visible cases to learn from and hidden ones"
    assert not {c.name for c in visible} & {c.name for c in hidden}  # other inputs, other names
    assert step.points > 0 and step.share() * len(step.cases) == pytest.approx(step.points)


def test_lesson_01_has_its_seven_steps_worth_16_points():
    steps = lesson_steps("01")
    ids = "linear_encoder linear_decoder linear_autoencoder train_epoch reconstruction_mse"
    assert [s.id for s in steps] == [*ids.split(), "init_from_pca", "tied_autoencoder"]
    assert sum(s.points for s in steps) == 16
    with pytest.raises(KeyError, match="the steps are: linear_encoder"):
        find_step("no_such_step")


def _digits_in(message: str, expected: torch.Tensor) -> list[str]:
    """Expected values (3 significant digits) that a message would give away."""
    values = {f"{v:.3g}" for v in expected.flatten()[:200].tolist() if abs(v) > 1e-3}
    return [v for v in values if v in message]


class NoFlatten(nn.Module):  # the encoder's usual slip: a linear map on (B, 1, 28, 28)
    def __init__(self, latent_dim):
        super().__init__()
        self.linear = nn.Linear(28, latent_dim)

    def forward(self, x):
        return self.linear(x)


class WithReLU(nn.Module):  # right layers, one non-linearity too many
    def __init__(self, latent_dim):
        super().__init__()
        self.flatten, self.linear = nn.Flatten(), nn.Linear(784, latent_dim)

    def forward(self, x):
        return torch.relu(self.linear(self.flatten(x)))


class Stub(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        raise NotImplementedError()


class Untied(written("linear_autoencoder")):  # two weight matrices where the step asks for one
    pass


class FlatOutput(written("tied_autoencoder")):  # forgets to reshape back to images
    def forward(self, x):
        return super().forward(x).flatten(1)


@pytest.mark.parametrize(
    ("step_id", "answer", "hint"),
    [
        ("linear_encoder", NoFlatten, "one affine map from the 28 * 28 = 784 pixels"),
        ("linear_encoder", WithReLU, "flatten each image to 784 numbers, then the linear map"),
        ("tied_autoencoder", Untied, "one weight (latent_dim, 784)"),
        ("tied_autoencoder", FlatOutput, "the output has shape (5, 784), expected (5, 1, 28, 28)"),
    ],
)
def test_a_wrong_answer_fails_with_a_hint_that_does_not_give_the_answer(step_id, answer, hint):
    step = find_step(step_id)
    with pytest.raises(StepError, match="visible checks fail") as caught:
        check_step(step_id, answer)
    message = str(caught.value)
    assert hint in message and len(message.splitlines()) == 1
    for case in step.visible():
        expected = case.run(step.reference(), case.inputs(step.reference()))
        for value in expected.values():
            if isinstance(value, torch.Tensor) and value.dtype.is_floating_point:
                assert _digits_in(message, value) == [], message


class OwnLayoutAutoencoder(nn.Module):  # a learner's own parameters: no encoder.linear
    def __init__(self, latent_dim):
        super().__init__()
        self.down = nn.Parameter(torch.zeros(latent_dim, 784))
        self.up = nn.Parameter(torch.zeros(784, latent_dim))

    def forward(self, x):
        return (x.flatten(1) @ self.down.T @ self.up.T).view(-1, 1, 28, 28)


def test_a_copy_that_acts_on_the_learners_model_and_does_not_fit_it_lets_the_lesson_run_on(
    capsys,
):
    from aecourse.loop import reconstruction_mse
    from aecourse.models import init_from_pca

    copy = check_step("init_from_pca", init_from_pca)  # taken from the package: not written
    model = OwnLayoutAutoencoder(3)
    assert copy(model, torch.zeros(784), torch.eye(3, 784)) is None  # no AttributeError
    said = capsys.readouterr().err
    assert "The lesson's copy of init_from_pca does not fit your objects" in said
    assert "AttributeError" in said and "the lesson runs on" in said
    assert torch.equal(model.down, torch.zeros(3, 784))  # left as it was
    # a copy that returns something still raises: a None would only fail later, elsewhere
    stood_in = check_step("reconstruction_mse", reconstruction_mse)
    with pytest.raises(AttributeError):
        stood_in(None, torch.zeros(2, 1, 28, 28))


def test_an_unwritten_step_is_stood_in_for_by_the_lessons_copy_which_says_so_where_it_runs(
    capsys,
):
    from aecourse.models import LinearDecoder

    copy = check_step("linear_decoder", Stub)  # the stub as released: no StepError, no stop
    said = capsys.readouterr().err
    assert "LinearDecoder is not written yet: this step scores 0" in said
    assert issubclass(copy, LinearDecoder) and copy is not LinearDecoder
    decoder = copy(4)  # where the lesson uses it, it works as the copy does and says so there
    assert decoder(torch.zeros(2, 4)).shape == (2, 1, 28, 28)
    assert "LinearDecoder here is the lesson's copy, not yours" in capsys.readouterr().err
    # ... and its own check and the step table give it no points, run again or not
    assert check_step("linear_decoder", copy) is copy
    namespace = {"__name__": "__main__"}  # a notebook of its own: the copy where the check put it
    exec(setup_source(lesson_notebook("01")), namespace)
    exec(solution_code("01", "linear_encoder"), namespace)
    namespace["LinearDecoder"] = copy
    exec(solution_code("01", "linear_autoencoder"), namespace)
    rows = {r["step"]: r["status"] for r in step_table("01", namespace)}
    assert rows["linear_decoder"] == "not written: the lesson's copy stands in for it (0 points)"
    # a later step written by the learner passes with the copy in the place of the blank one
    assert rows["linear_autoencoder"] == "passes"
    # a function stands in as well, and the package's copy taken by import counts as unwritten
    from aecourse.loop import reconstruction_mse

    stood_in = check_step("reconstruction_mse", reconstruction_mse)
    assert stood_in is not reconstruction_mse and stood_in.__wrapped__ is reconstruction_mse
    assert check_case(find_step("reconstruction_mse"), find_step("reconstruction_mse").cases[0],
                      stood_in) == TAKEN  # fmt: skip


def test_a_partly_written_step_still_stops_at_its_check():
    class HalfWritten(nn.Module):  # __init__ written, forward still the stub
        def __init__(self, latent_dim):
            super().__init__()
            self.linear = nn.Linear(latent_dim, 784)

        def forward(self, z):
            return self.linear(z).view(-1, 1, 28, 28) * 0 + 1

    with pytest.raises(StepError, match="visible checks fail"):
        check_step("linear_decoder", HalfWritten)


def test_a_passing_step_claims_only_what_its_visible_checks_prove(capsys):
    check_step("tied_autoencoder", written("tied_autoencoder"))
    line = capsys.readouterr().out.strip()
    assert line == "✓ TiedLinearAutoencoder: 3 of 3 visible checks pass; more tests run at grading."


def _mse_with_gradients(model, x):
    model.eval()
    return nn.functional.mse_loss(model(x), x).item()


def _mse_as_tensor(model, x):
    model.eval()
    with torch.no_grad():
        return nn.functional.mse_loss(model(x), x)


@pytest.mark.parametrize(
    ("step_id", "answer", "hint"),
    [
        ("reconstruction_mse", _mse_with_gradients, "which measuring does not need"),
        ("reconstruction_mse", _mse_as_tensor, "return a Python number"),
    ],
)
def test_training_and_measuring_steps_say_what_to_fix(step_id, answer, hint):
    with pytest.raises(StepError, match=hint):
        check_step(step_id, answer)


def test_the_step_table_lists_every_step_with_its_status_and_points(capsys):
    namespace = {
        "LinearEncoder": WithReLU,
        "LinearDecoder": written("linear_decoder"),
    }
    rows = step_table("01", namespace)
    assert [r["status"][:6] for r in rows] == ["fails:", "passes"] + ["not wr"] * 5
    show_steps("01", namespace)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✗ LinearEncoder") and "2 points" in out[0]
    assert out[1].startswith("✓ LinearDecoder")
    assert out[-1] == (
        "Visible checks pass for steps worth 2 of 16 points; more tests run at grading, "
        "so this is not your grade."
    )


def _without_docstrings(node: ast.AST) -> str:
    """The code of a def or class, docstrings and annotations' spelling aside."""
    for n in ast.walk(node):
        body = getattr(n, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                n.body = body[1:] or [ast.Pass()]
    return ast.dump(node, annotate_fields=False)


@pytest.mark.parametrize("step", ALL_STEPS, ids=lambda s: s.id)
def test_the_package_copy_is_the_code_the_lesson_writes(step):
    """The checks compare with the package's copy; it must be the lesson's own solution."""
    lesson = next(n for n, module in LESSON_MODULES.items() if step in lesson_steps(n))
    (path,) = LESSONS_DIR.glob(f"{lesson}_*.ipynb")
    (exercise,) = [e for e in exercises(nbformat.read(path, as_version=4)) if e.test_id == step.id]
    code = "\n".join(line for kind, line in regions(exercise.solution) if kind != "marker")
    (written,) = [n for n in ast.parse(code).body if getattr(n, "name", None) == step.name]
    (copy,) = ast.parse(textwrap.dedent(inspect.getsource(step.reference()))).body
    assert _without_docstrings(written) == _without_docstrings(copy)


def _noise_in_place(x, std, generator=None):
    return x.add_(std * torch.randn(x.shape, generator=generator)).clamp_(0, 1)


class NoOutputPadding(nn.Module):  # 7 -> 13 -> 25: the transposed convolutions' usual slip
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, z):
        return self.layers(z)


def _psnr_in_train_mode(model, noisy, clean):
    from aecourse.metrics import psnr

    with torch.no_grad():
        return psnr(model(noisy), clean).mean().item()


@pytest.mark.parametrize(
    ("step_id", "answer", "hint"),
    [
        ("gaussian_noise", _noise_in_place, "it changed its input"),
        ("denoising_decoder", NoOutputPadding, "has shape (5, 1, 25, 25), expected (5, 1, 28, 28)"),
        ("denoised_psnr", _psnr_in_train_mode, "switch the model to evaluation mode"),
        ("masking_noise", lambda x, fraction, generator=None: x * 0, "100% of the pixels were"),
    ],
)
def test_lesson_02s_steps_say_what_to_fix(step_id, answer, hint):
    with pytest.raises(StepError, match=re.escape(hint)):
        check_step(step_id, answer)


# Masking noise written the ways learners write it: each draws other random numbers than the
# lesson's copy, and each is right.
def _mask_with_bernoulli(x, fraction, generator=None):
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    return x * torch.bernoulli(torch.full_like(x, 1 - fraction), generator=generator)


def _mask_with_where(x, fraction, generator=None):
    if fraction < 0 or fraction > 1:
        raise ValueError("fraction out of range")
    drop = torch.rand(x.shape, generator=generator) < fraction
    return torch.where(drop, torch.zeros_like(x), x)


def _mask_an_exact_share(x, fraction, generator=None):
    if not 0 <= fraction <= 1:
        raise ValueError("fraction out of range")
    flat = x.flatten().clone()
    flat[torch.randperm(flat.numel(), generator=generator)[: round(fraction * flat.numel())]] = 0
    return flat.view_as(x)


def _mask_inverted(x, fraction, generator=None):  # keeps the share it should drop
    if not 0 <= fraction <= 1:
        raise ValueError("fraction out of range")
    return x * (torch.rand(x.shape, generator=generator) < fraction)


def _mask_with_the_global_generator(x, fraction, generator=None):
    if not 0 <= fraction <= 1:
        raise ValueError("fraction out of range")
    return x * (torch.rand(x.shape) >= fraction)


def _mask_like_dropout(x, fraction, generator=None):  # rescales the pixels it keeps
    if not 0 <= fraction <= 1:
        raise ValueError("fraction out of range")
    return x * (torch.rand(x.shape, generator=generator) >= fraction) / (1 - fraction + 1e-9)


def _mask_in_place(x, fraction, generator=None):
    if not 0 <= fraction <= 1:
        raise ValueError("fraction out of range")
    x[torch.rand(x.shape, generator=generator) < fraction] = 0
    return x


def _mask_without_the_range_check(x, fraction, generator=None):
    return x * (torch.rand(x.shape, generator=generator) >= fraction)


@pytest.mark.parametrize("answer", [_mask_with_bernoulli, _mask_with_where, _mask_an_exact_share])
def test_masking_noise_written_another_way_earns_every_case(answer):
    step = find_step("masking_noise")
    assert [check_case(step, case, answer) for case in step.cases] == [None] * len(step.cases)


@pytest.mark.parametrize(
    ("answer", "observed"),
    [
        (_mask_inverted, "70% of the pixels were set to 0 for fraction 0.3, not 30%"),
        (_mask_with_the_global_generator, "two generators seeded alike gave two different results"),
        (_mask_like_dropout, "are neither kept as they were nor set to 0"),
        (_mask_in_place, "it changed its input"),
        (_mask_without_the_range_check, "for level 2.0 it runs; it should raise ValueError"),
    ],
)
def test_each_masking_mistake_loses_points_and_says_what_was_observed(answer, observed):
    step = find_step("masking_noise")
    problems = [check_case(step, case, answer) for case in step.cases]
    assert any(p and observed in p for p in problems), problems
    assert sum(p is None for p in problems) < len(problems)


def test_lesson_03_has_its_eight_steps_worth_18_points():
    steps = lesson_steps("03")
    ids = "vae_encoder reparameterize vae_decoder vae kl_per_unit bernoulli_nll vae_loss"
    assert [s.id for s in steps] == [*ids.split(), "anomaly_scores"]
    assert sum(s.points for s in steps) == 18


class OneHead(nn.Module):  # the encoder's usual slip: mu and logvar from the same head
    def __init__(self, latent_dim, hidden):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden[0]), nn.ReLU())
        self.to_mu = nn.Linear(hidden[0], latent_dim)
        self.to_logvar = nn.Linear(hidden[0], latent_dim)

    def forward(self, x):
        h = self.body(x)
        return self.to_mu(h), self.to_mu(h)


class SigmoidDecoder(nn.Module):  # pixel values where the loss wants logits
    def __init__(self, latent_dim, hidden):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(latent_dim, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], 784),
            nn.Unflatten(1, (1, 28, 28)), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, z):
        return self.layers(z)


def _naive_nll(logits, target):  # log(sigmoid(.)): infinite for a confident decoder
    p = torch.sigmoid(logits)
    return -(target * p.log() + (1 - target) * (1 - p).log()).flatten(1).sum(dim=1)


def _loss_as_numbers(output, target, beta=1.0):
    bernoulli_nll, kl_divergence = (
        lesson_namespace("03")[n] for n in ("bernoulli_nll", "kl_divergence")
    )

    logits, mu, logvar = output
    recon = bernoulli_nll(logits, target).mean().item()
    kl = kl_divergence(mu, logvar).mean().item()
    return {"loss": torch.tensor(recon + beta * kl), "recon": torch.tensor(recon),
            "kl": torch.tensor(kl)}  # fmt: skip


def _mean_score(vae, x):
    bernoulli_nll, kl_divergence = (
        lesson_namespace("03")[n] for n in ("bernoulli_nll", "kl_divergence")
    )

    with torch.no_grad():
        logits, mu, logvar = vae(x)
        return (bernoulli_nll(logits, x) + kl_divergence(mu, logvar)).mean()


@pytest.mark.parametrize(
    ("step_id", "answer", "hint"),
    [
        ("vae_encoder", OneHead, "logvar differs from the lesson's"),
        ("reparameterize", lambda mu, logvar: mu + logvar.exp() * torch.randn_like(mu),
         "sigma^2 = exp(logvar)"),
        ("reparameterize", lambda mu, logvar: mu.data.add_(torch.randn_like(mu)),
         "it changed mu or logvar"),
        ("vae_decoder", SigmoidDecoder, "no sigmoid at the end"),
        ("kl_per_unit", lambda mu, logvar: -0.5 * (mu**2 + logvar.exp() - logvar - 1),
         "the KL differs from the lesson's"),
        ("kl_per_unit", lambda mu, logvar: 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1),
         "the KL has shape (3,), expected (3, 4)"),
        ("bernoulli_nll", _naive_nll, "it overflows for large logits"),
        ("vae_loss", _loss_as_numbers, "the loss has no graph for gradients"),
        ("anomaly_scores", _mean_score, "the scores have shape (): one number per image, 24"),
    ],
)  # fmt: skip
def test_lesson_03s_steps_say_what_to_fix(step_id, answer, hint):
    with pytest.raises(StepError, match=re.escape(hint)):
        check_step(step_id, answer)


def test_lesson_04_has_its_six_steps_worth_14_points():
    steps = lesson_steps("04")
    ids = "color_encoder color_decoder conv_colorizer color_loss predict_colors psnr_gain"
    assert [s.id for s in steps] == ids.split()
    assert sum(s.points for s in steps) == 14


class SizesAfter(nn.Module):  # notes each stage's output size instead of its input's
    def __init__(self, width=32):
        super().__init__()
        self.down = nn.ModuleList([
            nn.Conv2d(1, width, 3, stride=2, padding=1),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1),
        ])  # fmt: skip
        self.bottleneck = nn.Conv2d(4 * width, 8 * width, 3, padding=1)

    def forward(self, x):
        sizes = []
        for conv in self.down:
            x = torch.relu(conv(x))
            sizes.append(tuple(x.shape[-2:]))
        return torch.relu(self.bottleneck(x)), sizes


class NoOutputSize(nn.Module):  # the transposed convolutions left to guess their size
    def __init__(self, out_channels=3, width=32):
        super().__init__()
        self.up = nn.ModuleList([
            nn.ConvTranspose2d(8 * width, 2 * width, 3, stride=2, padding=1),
            nn.ConvTranspose2d(2 * width, width, 3, stride=2, padding=1),
            nn.ConvTranspose2d(width, out_channels, 3, stride=2, padding=1),
        ])  # fmt: skip

    def forward(self, code, sizes):
        x = torch.relu(self.up[0](code))
        x = torch.relu(self.up[1](x))
        return torch.sigmoid(self.up[2](x))


def _all_at_once(model, gray, batch_size=256):
    model.eval()
    with torch.no_grad():
        return model(gray)


def _gain_reversed(predicted, gray, rgb):
    from aecourse.metrics import psnr

    copy = gray.expand(-1, 3, -1, -1)
    return psnr(copy, rgb).mean().item() - psnr(predicted, rgb).mean().item()


@pytest.mark.parametrize(
    ("step_id", "answer", "hint"),
    [
        ("color_encoder", SizesAfter, "the sizes differs from the lesson's"),
        ("color_decoder", NoOutputSize, "has shape (2, 3, 57, 57), expected (2, 3, 64, 64)"),
        ("predict_colors", _all_at_once, "it ran the model on 10 images at once"),
        ("psnr_gain", _gain_reversed, "the gain differs from the lesson's"),
    ],
)
def test_lesson_04s_steps_say_what_to_fix(step_id, answer, hint):
    with pytest.raises(StepError, match=re.escape(hint)):
        check_step(step_id, answer)


def test_lesson_05_has_its_five_steps_worth_12_points_and_the_course_79():
    steps = lesson_steps("05")
    ids = "color_autoencoder lab_split lab_join gain_by_photo mean_chroma"
    assert [s.id for s in steps] == ids.split()
    assert sum(s.points for s in steps) == 12
    assert len(ALL_STEPS) == 34 and sum(s.points for s in ALL_STEPS) == 79


class SeedPadding(nn.Module):  # the seed's hand-set output_padding: 150x150 only
    def __init__(self, out_channels=3):
        super().__init__()
        self.down1 = nn.Conv2d(1, 64, 3, stride=2)
        self.down2 = nn.Conv2d(64, 128, 3, stride=2, padding=1)
        self.down3 = nn.Conv2d(128, 256, 3, stride=2, padding=1)
        self.down4 = nn.Conv2d(256, 512, 3, stride=2, padding=1)
        self.up1 = nn.ConvTranspose2d(512, 256, 3, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(512, 128, 3, stride=2, padding=1)
        self.up3 = nn.ConvTranspose2d(256, 64, 3, stride=2, padding=1, output_padding=1)
        self.up4 = nn.ConvTranspose2d(128, out_channels, 3, stride=2, output_padding=1)

    def forward(self, x):
        d1 = torch.relu(self.down1(x))
        d2 = torch.relu(self.down2(d1))
        d3 = torch.relu(self.down3(d2))
        d4 = torch.relu(self.down4(d3))
        u1 = torch.relu(self.up1(d4))
        u2 = torch.relu(self.up2(torch.cat((u1, d3), dim=1)))
        u3 = torch.relu(self.up3(torch.cat((u2, d2), dim=1)))
        return torch.sigmoid(self.up4(torch.cat((u3, d1), dim=1)))


def _split_unscaled(rgb):
    from aecourse.color import rgb_to_lab

    lab = rgb_to_lab(rgb)
    return lab[:, :1], lab[:, 1:]


def _mean_of_squares(rgb):
    from aecourse.color import rgb_to_lab

    return (rgb_to_lab(rgb)[:, 1:] ** 2).sum(1).mean().item()


@pytest.mark.parametrize(
    ("step_id", "answer", "hint"),
    [
        ("color_autoencoder", SeedPadding, "raised RuntimeError"),
        ("lab_split", _split_unscaled, "L / 100 differs from the lesson's"),
        ("lab_join", lambda lightness, ab: torch.cat([lightness, ab], 1), "the colours differs"),
        ("gain_by_photo", lambda p, rgb, sources: {s: 0.0 for s in sorted(set(sources))},
         "one per source photo, in the order"),
        ("mean_chroma", _mean_of_squares, "the chroma differs from the lesson's"),
    ],
)  # fmt: skip
def test_lesson_05s_steps_say_what_to_fix(step_id, answer, hint):
    with pytest.raises(StepError, match=re.escape(hint)):
        check_step(step_id, answer)


@pytest.mark.parametrize(
    "answer",
    [
        "from aecourse.models import LinearEncoder",
        "import aecourse.models\nclass LinearEncoder(aecourse.models.LinearEncoder):\n    pass",
        "import aecourse.models\nclass LinearEncoder(nn.Module):\n"
        "    def __new__(cls, latent_dim):\n"
        "        return aecourse.models.LinearEncoder(latent_dim)",
        "import importlib\n_m = importlib.import_module('aecourse' + '.models')\n"
        "def LinearEncoder(latent_dim):\n    return _m.LinearEncoder(latent_dim)",
        "import sys\n_copy = sys.modules['aecourse.models'].__dict__['LinearEncoder']\n"
        "def LinearEncoder(latent_dim):\n    return _copy(latent_dim)",
    ],
)
def test_an_answer_that_takes_the_package_copy_fails_every_case_in_the_lesson_too(answer):
    """The learner's own check withholds the package's copies as grading does: an answer that
    is, subclasses, builds or delegates to one passes no case, whatever route it takes."""
    namespace = {"__name__": "__main__", "nn": nn, "torch": torch}
    exec(answer, namespace)
    step = find_step("linear_encoder")
    results = [check_case(step, case, namespace["LinearEncoder"]) for case in step.cases]
    assert all(r is not None for r in results), results
    assert all(r == TAKEN or "withheld" in r for r in results), results


def test_withholding_imports_every_module_before_it_withholds_anything():
    """A module imported while another's copy is withheld would keep the placeholder for good
    (aecourse.loop imports gaussian_noise from aecourse.noise): the lesson must still run."""
    code = (
        "import sys\n"
        "from aecourse.steps import find_step, lesson_steps\n"
        "from aecourse.steps.withheld import withholding\n"
        "assert 'aecourse.loop' not in sys.modules\n"
        "with withholding(lesson_steps('02'), '02'):\n"
        "    pass\n"
        "import aecourse.loop, aecourse.noise\n"
        "print(aecourse.loop.gaussian_noise is aecourse.noise.gaussian_noise)\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr
