"""Each check judges what a step does: correct answers written the ways learners write them earn
every case (visible and hidden), and each typical mistake fails one, with a hint that says
what was observed.

The variants draw other random numbers than the lesson's copy, shuffle another way, zero the
gradients at another place: none of that is the step's business.
"""

from __future__ import annotations

import pytest
import torch
from lesson_code import lesson_namespace, written
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from aecourse.data import batches
from aecourse.steps import check_case, find_step

# --- Lesson 01: one epoch --------------------------------------------------------------------


def epoch_with_dataloader(model, x, optimizer, batch_size, generator):
    model.train()
    loader = DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True, generator=generator)
    losses, sizes = [], []
    for (batch,) in loader:
        loss = nn.MSELoss()(model(batch), batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()  # after the step: as right as before backward()
        losses.append(loss.item())
        sizes.append(len(batch))
    return sum(m * n for m, n in zip(losses, sizes, strict=True)) / sum(sizes)


def epoch_with_randperm(model, x, optimizer, batch_size, generator):
    model.train()
    order = torch.randperm(len(x), generator=generator)
    total = torch.zeros(())
    for start in range(0, len(x), batch_size):
        batch = x[order[start : start + batch_size]]
        optimizer.zero_grad(set_to_none=True)
        loss = ((model(batch) - batch) ** 2).mean()
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(batch)
    return float(total / len(x))


def epoch_with_split(model, x, optimizer, batch_size, generator):
    model.train(True)
    shuffled = x[torch.randperm(x.shape[0], generator=generator)]
    total = 0.0
    for batch in shuffled.split(batch_size):
        model.zero_grad()
        loss = nn.functional.mse_loss(model(batch), batch, reduction="sum") / batch.numel()
        loss.backward()
        optimizer.step()
        total += loss.item() * batch.shape[0]
    return total / x.shape[0]


def _plain_epoch(model, x, optimizer, batch_size, generator, *, zero=True, shuffle=True,
                 train=True, weigh=True, step_each=True, drop_last=False,
                 own_generator=True):  # fmt: skip
    """The lesson's epoch with one slip switched on: the typical mistakes below."""
    if train:
        model.train()
    total, means = 0.0, []
    order = batches(len(x), batch_size, shuffle=shuffle,
                    generator=generator if own_generator else None)  # fmt: skip
    for idx in order:
        if drop_last and len(idx) < batch_size:
            continue
        loss = nn.functional.mse_loss(model(x[idx]), x[idx])
        if zero and step_each:
            optimizer.zero_grad()
        loss.backward()
        if step_each:
            optimizer.step()
        total += loss.item() * len(idx)
        means.append(loss.item())
    if not step_each:
        optimizer.step()
    return total / len(x) if weigh else sum(means) / len(means)


def _slip(**slip):
    def epoch(model, x, optimizer, batch_size, generator):
        return _plain_epoch(model, x, optimizer, batch_size, generator, **slip)

    return epoch


TRAIN_EPOCH_RIGHT = [epoch_with_dataloader, epoch_with_randperm, epoch_with_split, _slip()]
TRAIN_EPOCH_WRONG = {
    "no zero_grad": (_slip(zero=False), "gradients of all the batches so far"),
    "no shuffle": (_slip(shuffle=False), "came in their own order"),
    "global generator": (_slip(own_generator=False), "generator it was given was not used"),
    "eval mode": (_slip(train=False), "evaluation mode during the epoch"),
    "mean of batch means": (_slip(weigh=False), "each image weighing the same"),
    "one step per epoch": (_slip(step_each=False), "optimizer steps for"),
    "last batch dropped": (_slip(drop_last=True), "not each of the"),
}


# --- Lesson 02: Gaussian noise and one denoising epoch ---------------------------------------


def noise_with_randn_like(x, std, generator=None):
    if not 0 <= std <= 1:
        raise ValueError(f"std must be in [0, 1], got {std}")
    noise = torch.randn(x.size(), generator=generator).to(x)
    return torch.clamp(x + noise * std, min=0.0, max=1.0)


def noise_with_normal(x, std, generator=None):
    if std < 0 or std > 1:
        raise ValueError("the noise level must lie in [0, 1]")
    noisy = x + torch.normal(0.0, std, size=x.shape, generator=generator)
    return noisy.clip(0, 1)


def noise_drawn_per_image(x, std, generator=None):  # another order of draws: still right
    if not 0.0 <= std <= 1.0:
        raise ValueError("std out of range")
    rows = [img + std * torch.randn(img.shape, generator=generator) for img in x.flip(0)]
    return torch.stack(rows[::-1]).clamp(0, 1)


def _noise_slip(kind):
    def noise(x, std, generator=None):
        if not 0 <= std <= 1:
            raise ValueError("std out of range")
        if kind == "variance":
            return (x + std**2 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
        if kind == "uniform":
            return (x + std * (2 * torch.rand(x.shape, generator=generator) - 1)).clamp(0, 1)
        if kind == "no clip":
            return x + std * torch.randn(x.shape, generator=generator)
        if kind == "global":
            return (x + std * torch.randn(x.shape)).clamp(0, 1)
        if kind == "one value":
            return (x + std * torch.randn((), generator=generator)).clamp(0, 1)
        if kind == "in place":
            return x.add_(std * torch.randn(x.shape, generator=generator)).clamp_(0, 1)
        raise AssertionError(kind)

    return noise


NOISE_RIGHT = [noise_with_randn_like, noise_with_normal, noise_drawn_per_image]
NOISE_WRONG = {
    "variance for std": (_noise_slip("variance"), "N(0, std^2) noise clipped"),
    "uniform noise": (_noise_slip("uniform"), "N(0, std^2) noise clipped"),
    "not clipped": (_noise_slip("no clip"), "outside [0, 1]"),
    "global generator": (_noise_slip("global"), "two generators seeded alike"),
    "one value per batch": (_noise_slip("one value"), "N(0, std^2) noise clipped"),
    "in place": (_noise_slip("in place"), "it changed its input"),
    "no range check": (lambda x, std, generator=None: noise_with_normal(x, min(std, 1.0),
                                                                       generator), "ValueError"),
}  # fmt: skip


def denoise_with_dataloader(model, x, optimizer, batch_size, std, generator):
    model.train()
    total = 0.0
    loader = DataLoader(x, batch_size=batch_size, shuffle=True, generator=generator)
    for clean in loader:
        noisy = (clean + std * torch.randn_like(clean)).clamp(0, 1)  # fresh noise, global
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(noisy), clean)
        loss.backward()
        optimizer.step()
        total += loss.item() * clean.shape[0]
    return total / len(x)


def denoise_with_its_generator(model, x, optimizer, batch_size, std, generator):
    gaussian_noise = written("gaussian_noise")
    model.train()
    order, total = torch.randperm(len(x), generator=generator), 0.0
    for rows in order.split(batch_size):
        clean = x[rows]
        loss = nn.functional.mse_loss(model(gaussian_noise(clean, std, generator)), clean)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(rows)
    return total / len(x)


def _denoise_slip(kind):
    def epoch(model, x, optimizer, batch_size, std, generator):
        model.train()
        total = 0.0
        for idx in batches(len(x), batch_size, shuffle=True, generator=generator):
            clean = x[idx]
            noisy = (clean + std * torch.randn_like(clean)).clamp(0, 1)
            if kind == "no noise":
                noisy = clean
            if kind == "noise as variance":
                noisy = (clean + std**2 * torch.randn_like(clean)).clamp(0, 1)
            target = noisy if kind == "noisy target" else clean
            loss = nn.functional.mse_loss(model(noisy), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        return total / len(x)

    return epoch


DENOISE_RIGHT = [denoise_with_dataloader, denoise_with_its_generator]
DENOISE_WRONG = {
    "noisy target": (_denoise_slip("noisy target"), "against the clean batch"),
    "no noise": (_denoise_slip("no noise"), "Gaussian noise of that standard deviation"),
    "variance for std": (_denoise_slip("noise as variance"), "Gaussian noise of that standard"),
}

# --- Modules: judged by what each parameter does, not by the order it was created in ---------


class EncoderOwnParameters(nn.Module):  # the bias first, the weight stored as (784, k)
    def __init__(self, latent_dim):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(latent_dim))
        self.w = nn.Parameter(torch.randn(784, latent_dim) / 28)

    def forward(self, x):
        return x.reshape(len(x), -1) @ self.w + self.b


class DecoderSequential(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 784), nn.Unflatten(1, (1, 28, 28)))

    def forward(self, z):
        return self.net(z)


class TiedBiasesFirst(nn.Module):  # decoder bias, encoder bias, then W stored as (784, k)
    def __init__(self, latent_dim):
        super().__init__()
        self.out_bias = nn.Parameter(torch.zeros(784))
        self.code_bias = nn.Parameter(torch.zeros(latent_dim))
        self.W = nn.Parameter(torch.randn(784, latent_dim) * 0.01)

    def forward(self, x):
        if x.dim() != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError("expected images (B, 1, 28, 28)")
        code = torch.addmm(self.code_bias, x.flatten(1), self.W)
        return torch.addmm(self.out_bias, code, self.W.T).unflatten(1, (1, 28, 28))


class EncoderLayersApart(nn.Module):  # the norms created before the convolutions
    def __init__(self):
        super().__init__()
        self.norms = nn.ModuleList([nn.BatchNorm2d(32), nn.BatchNorm2d(64)])
        self.convs = nn.ModuleList([nn.Conv2d(1, 32, 3, 2, 1), nn.Conv2d(32, 64, 3, 2, 1)])

    def forward(self, x):
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = torch.relu(norm(conv(x)))
        return x


class EncoderWithReLUFirst(EncoderLayersApart):  # a real mistake: ReLU before BatchNorm
    def forward(self, x):
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = norm(torch.relu(conv(x)))
        return x


class TiedTwoMatrices(nn.Module):  # a real mistake: the decoder has a matrix of its own
    def __init__(self, latent_dim):
        super().__init__()
        self.enc, self.dec = nn.Linear(784, latent_dim), nn.Linear(latent_dim, 784)

    def forward(self, x):
        return self.dec(self.enc(x.flatten(1))).view(-1, 1, 28, 28)


class TiedWithoutDecoderBias(TiedBiasesFirst):  # a real mistake: a parameter without a role
    def forward(self, x):
        code = torch.addmm(self.code_bias, x.flatten(1), self.W)
        return (code @ self.W.T).unflatten(1, (1, 28, 28))


MODULES_RIGHT = {
    "linear_encoder": [EncoderOwnParameters],
    "linear_decoder": [DecoderSequential],
    "tied_autoencoder": [TiedBiasesFirst],
    "denoising_encoder": [EncoderLayersApart],
}
MODULES_WRONG = {
    "denoising_encoder": {"ReLU before BatchNorm": (EncoderWithReLUFirst, "differs from")},
    "tied_autoencoder": {
        "two matrices": (TiedTwoMatrices, "its parameters are shaped"),
        "no decoder bias": (TiedWithoutDecoderBias, "has no role in your forward()"),
    },
}

RIGHT = MODULES_RIGHT | {
    "train_epoch": TRAIN_EPOCH_RIGHT,
    "gaussian_noise": NOISE_RIGHT,
    "denoising_epoch": DENOISE_RIGHT + [lambda *a: written("denoising_epoch")(*a)],
}
WRONG = MODULES_WRONG | {"train_epoch": TRAIN_EPOCH_WRONG, "gaussian_noise": NOISE_WRONG,
                         "denoising_epoch": DENOISE_WRONG}  # fmt: skip


# --- Lesson 05: a skip-connection colorizer of the learner's own design ----------------------


def _refuse_color(x):
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError("expected gray images (B, 1, H, W)")


class AddedSkips(nn.Module):  # three levels, skips added rather than concatenated
    def __init__(self, out_channels=3, width=16):
        super().__init__()
        w = width
        self.down = nn.ModuleList([nn.Conv2d(1, w, 3, 2, 1), nn.Conv2d(w, 2 * w, 3, 2, 1),
                                   nn.Conv2d(2 * w, 4 * w, 3, 2, 1)])  # fmt: skip
        self.up = nn.ModuleList([nn.ConvTranspose2d(4 * w, 2 * w, 3, 2, 1),
                                 nn.ConvTranspose2d(2 * w, w, 3, 2, 1),
                                 nn.ConvTranspose2d(w, out_channels, 3, 2, 1)])  # fmt: skip

    def forward(self, x):
        _refuse_color(x)
        d1 = torch.relu(self.down[0](x))
        d2 = torch.relu(self.down[1](d1))
        d3 = torch.relu(self.down[2](d2))
        u = torch.relu(self.up[0](d3, output_size=d2.shape[-2:])) + d2
        u = torch.relu(self.up[1](u, output_size=d1.shape[-2:])) + d1
        return torch.sigmoid(self.up[2](u, output_size=x.shape[-2:]))


class UpsampleAndConcat(nn.Module):  # interpolation and 3x3 convolutions, a U-Net of two levels
    def __init__(self, out_channels=3):
        super().__init__()
        self.enc1, self.enc2 = nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1)
        self.mid = nn.Conv2d(32, 32, 3, padding=1)
        self.dec2, self.dec1 = nn.Conv2d(64, 16, 3, padding=1), nn.Conv2d(32, out_channels, 1)

    def forward(self, x):
        _refuse_color(x)
        e1 = torch.relu(self.enc1(x))
        e2 = torch.relu(self.enc2(nn.functional.max_pool2d(e1, 2, ceil_mode=True)))
        m = torch.relu(self.mid(nn.functional.max_pool2d(e2, 2, ceil_mode=True)))
        up = nn.functional.interpolate(m, size=e2.shape[-2:])
        d2 = torch.relu(self.dec2(torch.cat([up, e2], 1)))
        up = nn.functional.interpolate(d2, size=e1.shape[-2:])
        return torch.sigmoid(self.dec1(torch.cat([up, e1], 1)))


class PlainColorizer(nn.Module):  # a real mistake for this step: no skip at all (Lesson 04's)
    def __init__(self, out_channels=3):
        super().__init__()
        self.inner = written("conv_colorizer")(out_channels)

    def forward(self, x):
        return self.inner(x)


class RGBOutOfRange(AddedSkips):  # a real mistake: no squashing into [0, 1]
    def forward(self, x):
        return torch.logit(super().forward(x), eps=1e-3) * 2


class FixedSize(written("color_autoencoder")):  # a real mistake: the seed's hand-made paddings
    def forward(self, x):
        _refuse_color(x)
        d1 = torch.relu(self.down1(x))
        d2 = torch.relu(self.down2(d1))
        d3 = torch.relu(self.down3(d2))
        u1 = torch.relu(self.up1(torch.relu(self.down4(d3))))
        u2 = torch.relu(self.up2(torch.cat((u1, d3), dim=1)))
        u3 = torch.relu(self.up3(torch.cat((u2, d2), dim=1)))
        return torch.sigmoid(self.up4(torch.cat((u3, d1), dim=1)))


RIGHT["color_autoencoder"] = [AddedSkips, UpsampleAndConcat]
WRONG["color_autoencoder"] = {
    "no skip": (PlainColorizer, "no short path"),
    "colours out of range": (RGBOutOfRange, "not all within [0, 1]"),
    "fixed size": (FixedSize, "raised RuntimeError"),
}


# --- Lesson 03: an anomaly score of the learner's choice ------------------------------------


def score_by_reconstruction_mse(vae, x):  # the mean code's reconstruction, no draw
    return ((vae.reconstruct(x) - x) ** 2).flatten(1).mean(dim=1)


def score_by_mean_of_draws(vae, x):  # the negative ELBO averaged over five draws
    with torch.no_grad():
        draws = [vae(x) for _ in range(5)]
        nll = [nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none").flatten(1).sum(1) for logits, _, _ in draws]  # fmt: skip
        kl = [0.5 * (m**2 + v.exp() - v - 1).sum(1) for _, m, v in draws]
        return torch.stack([a + b for a, b in zip(nll, kl, strict=True)]).mean(0)


def score_by_code_alone(vae, x):  # a real mistake: the KL sees the code, not the image
    with torch.no_grad():
        mu, logvar = vae.encode(x)
        return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)


def score_turned_round(vae, x):  # a real mistake: high for the images the VAE knows
    return -score_by_reconstruction_mse(vae, x)


def score_of_the_batch(vae, x):  # a real mistake: one number for the whole batch
    return score_by_reconstruction_mse(vae, x).mean()


RIGHT["anomaly_scores"] = [score_by_reconstruction_mse, score_by_mean_of_draws]
WRONG["anomaly_scores"] = {
    "the code alone": (score_by_code_alone, "are not ranked above it"),
    "turned round": (score_turned_round, "are not ranked above it"),
    "one number": (score_of_the_batch, "one number per image"),
}


# --- Lesson 02: a training corruption of the learner's design ------------------------------


def _gaussian(x, std, g):
    return (x + std * torch.randn(x.shape, generator=g)).clamp(0, 1)


def _masked(x, fraction, g):
    return x * (torch.rand(x.shape, generator=g) >= fraction)


def corrupt_per_batch(x, std, fraction, generator):  # one kind for the whole batch
    if torch.rand((), generator=generator) < 0.5:
        return _gaussian(x, std, generator)
    return _masked(x, fraction, generator)


def corrupt_a_third_masked(x, std, fraction, generator):  # fixed shares, by position
    k = len(x) // 3
    return torch.cat([_masked(x[:k], fraction, generator), _gaussian(x[k:], std, generator)])


def corrupt_at_varying_levels(x, std, fraction, generator):  # levels around the test's
    shape = (len(x), *[1] * (x.dim() - 1))
    pick = torch.rand(shape, generator=generator) < 0.5
    stds = std * (0.6 + 0.8 * torch.rand(shape, generator=generator))
    fractions = fraction * (0.6 + 0.8 * torch.rand(shape, generator=generator))
    noisy = (x + stds * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    masked = x * (torch.rand(x.shape, generator=generator) >= fractions)
    return torch.where(pick, noisy, masked)


def corrupt_with_some_both(x, std, fraction, generator):  # a third both ways: they count as neither
    u = torch.rand(len(x), 1, 1, 1, generator=generator)
    noisy, masked = _gaussian(x, std, generator), _masked(x, fraction, generator)
    return torch.where(
        u < 0.35, noisy, torch.where(u < 0.7, masked, _masked(noisy, fraction, generator))
    )


def corrupt_gaussian_only(x, std, fraction, generator):  # a real mistake: no holes to learn from
    return _gaussian(x, std, generator)


def corrupt_both_at_once(x, std, fraction, generator):  # a real mistake: no pure kind at all
    return _masked(_gaussian(x, std, generator), fraction, generator)


def corrupt_rarely_noisy(x, std, fraction, generator):  # a real mistake: noise one time in ten
    pick = torch.rand(len(x), 1, 1, 1, generator=generator) < 0.1
    return torch.where(pick, _gaussian(x, std, generator), _masked(x, fraction, generator))


def corrupt_unclipped(x, std, fraction, generator):  # a real mistake: values outside [0, 1]
    pick = torch.rand(len(x), 1, 1, 1, generator=generator) < 0.5
    noisy = x + std * torch.randn(x.shape, generator=generator)
    return torch.where(pick, noisy, _masked(x, fraction, generator))


def corrupt_unseeded(x, std, fraction, generator):  # a real mistake: the global generator
    pick = torch.rand(len(x), 1, 1, 1) < 0.5
    return torch.where(
        pick, (x + std * torch.randn(x.shape)).clamp(0, 1), x * (torch.rand(x.shape) >= fraction)
    )


RIGHT["mixed_corruption"] = [corrupt_per_batch, corrupt_a_third_masked, corrupt_at_varying_levels,
                             corrupt_with_some_both]  # fmt: skip
WRONG["mixed_corruption"] = {
    "Gaussian only": (corrupt_gaussian_only, "came out masked"),
    "both at once": (corrupt_both_at_once, "came out masked"),
    "rarely noisy": (corrupt_rarely_noisy, "came out noisy"),
    "unclipped": (corrupt_unclipped, "outside [0, 1]"),
    "global generator": (corrupt_unseeded, "seeded alike gave two different results"),
}


# --- Lesson 03: the reparameterisation, and the VAE that samples with it -------------------


def draw_with_normal(mu, logvar):
    return mu + torch.normal(torch.zeros_like(mu), torch.ones_like(mu)) * torch.exp(logvar / 2)


def draw_with_distributions(mu, logvar):
    return torch.distributions.Normal(mu, logvar.mul(0.5).exp()).rsample()


def draw_by_box_muller(mu, logvar):  # eps made from two uniform draws
    u, v = torch.rand_like(mu), torch.rand_like(mu)
    eps = torch.sqrt(-2 * torch.log1p(-u)) * torch.cos(2 * torch.pi * v)
    return mu + logvar.exp().sqrt() * eps


def draw_with_variance(mu, logvar):  # a real mistake: sigma^2 where sigma belongs
    return mu + logvar.exp() * torch.randn_like(mu)


def draw_uniform(mu, logvar):  # a real mistake: eps is not normal
    return mu + torch.exp(logvar / 2) * (torch.rand_like(mu) * 2 - 1)


def draw_once_per_column(mu, logvar):  # a real mistake: every row gets the same eps
    return mu + torch.exp(logvar / 2) * torch.randn(mu.shape[1:])


def draw_own_generator(mu, logvar):  # a real mistake: a seed of its own, not torch's
    g = torch.Generator().manual_seed(0)
    return mu + torch.exp(logvar / 2) * torch.randn(mu.shape, generator=g)


def draw_detached(mu, logvar):  # a real mistake: the gradient cannot reach the encoder
    return (mu + torch.exp(logvar / 2) * torch.randn_like(mu)).detach()


RIGHT["reparameterize"] = [draw_with_normal, draw_with_distributions, draw_by_box_muller]
WRONG["reparameterize"] = {
    "sigma squared": (draw_with_variance, "has a standard deviation of"),
    "uniform": (draw_uniform, "has a standard deviation of"),
    "one eps per column": (draw_once_per_column, "the same in every row"),
    "its own generator": (draw_own_generator, "the same for another torch.manual_seed"),
    "detached": (draw_detached, "not differentiable in mu and logvar"),
}


def vae_sampling(draw):
    """A VAE of the lesson's encoder and decoder whose forward pass samples with ``draw``."""

    class SamplingVAE(nn.Module):
        def __init__(self, latent_dim, hidden):
            super().__init__()
            self.enc = written("vae_encoder")(latent_dim, hidden)
            self.dec = written("vae_decoder")(latent_dim, hidden)

        def encode(self, x):
            if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
                raise ValueError(f"expected images (B, 1, 28, 28), got {tuple(x.shape)}")
            return self.enc(x)

        def decode(self, z):
            return torch.sigmoid(self.dec(z))

        @torch.no_grad()
        def reconstruct(self, x):
            return self.decode(self.encode(x)[0])

        def forward(self, x):
            mu, logvar = self.encode(x)
            return self.dec(draw(mu, logvar)), mu, logvar

    SamplingVAE.__name__ = f"VAE_{draw.__name__}"
    return SamplingVAE


RIGHT["vae"] = [vae_sampling(f) for f in RIGHT["reparameterize"]]
WRONG["vae"] = {
    "decodes the mean": (vae_sampling(lambda mu, logvar: mu), "not its mean"),
    "decodes the prior": (vae_sampling(lambda mu, logvar: torch.randn_like(mu)), "differs"),
    "sigma squared": (vae_sampling(draw_with_variance), "has a standard deviation of"),
    "detached draw": (vae_sampling(draw_detached), "the gradient of the parameter"),
}


# --- Lesson 01: PCA's solution set in the learner's autoencoder ------------------------------
# Run where the learner's LinearAutoencoder is defined: the lesson's own solution here.

PCA_SPACE = dict(lesson_namespace("01"))  # a copy: the cached namespace stays as it is


def _in_lesson(source: str):
    exec(source, PCA_SPACE)
    return PCA_SPACE[source.split("(")[0].split()[-1]]


pca_as_the_lesson = _in_lesson("""
def init_from_pca(model, mean, components):
    with torch.no_grad():
        model.encoder.linear.weight.copy_(components)
        model.encoder.linear.bias.copy_(-(components @ mean))
        model.decoder.linear.weight.copy_(components.T)
        model.decoder.linear.bias.copy_(mean)
""")
pca_in_other_coordinates = _in_lesson("""
def init_from_pca_rotated(model, mean, components):
    # another basis of the same subspace: a flipped, scaled code, undone by the decoder
    k = components.shape[0]
    scale = torch.linspace(0.5, 2.0, k).unsqueeze(1)
    encoder, decoder = model.encoder.linear, model.decoder.linear
    encoder.weight.data = -scale * components
    encoder.bias.data = scale.squeeze(1) * (components @ mean)
    decoder.weight.data = -(components / scale).T
    decoder.bias.data = mean.clone()
""")
pca_without_centring = _in_lesson("""
def init_from_pca_uncentred(model, mean, components):  # a real mistake: no encoder bias
    with torch.no_grad():
        model.encoder.linear.weight.copy_(components)
        model.encoder.linear.bias.zero_()
        model.decoder.linear.weight.copy_(components.T)
        model.decoder.linear.bias.copy_(mean)
""")
pca_frozen = _in_lesson("""
def init_from_pca_frozen(model, mean, components):  # a real mistake: the model cannot train on
    init_from_pca(model, mean, components)
    for p in model.parameters():
        p.requires_grad_(False)
""")

RIGHT["init_from_pca"] = [pca_as_the_lesson, pca_in_other_coordinates]
WRONG["init_from_pca"] = {
    "no centring": (pca_without_centring, "reconstructions differs from the lesson's"),
    "frozen": (pca_frozen, "no longer train"),
}


def _verdicts(step_id: str, answer) -> list[str | None]:
    step = find_step(step_id)
    return [check_case(step, case, answer) for case in step.cases]


@pytest.mark.parametrize(
    ("step_id", "answer"),
    [(step_id, answer) for step_id, answers in RIGHT.items() for answer in answers],
    ids=lambda v: v if isinstance(v, str) else getattr(v, "__name__", "variant"),
)
def test_a_correct_answer_written_another_way_earns_every_case(step_id, answer):
    assert _verdicts(step_id, answer) == [None] * len(find_step(step_id).cases)


@pytest.mark.parametrize(
    ("step_id", "mistake"),
    [(step_id, mistake) for step_id, mistakes in WRONG.items() for mistake in mistakes],
)
def test_a_typical_mistake_loses_points_and_the_hint_says_what_was_seen(step_id, mistake):
    answer, hint = WRONG[step_id][mistake]
    failed = [v for v in _verdicts(step_id, answer) if v is not None]
    assert failed, f"{mistake} passes every case of {step_id}"
    assert any(hint in v for v in failed), failed
