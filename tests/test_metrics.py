import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA as SklearnPCA

from aecourse.metrics import fit_pca, mse, pca_mse, psnr, roc_auc, ssim


@pytest.mark.parametrize("k", [1, 8, 32])
def test_pca_matches_scikit_learn(mnist, k):
    train, val = mnist.train.x, mnist.val.x
    ref = SklearnPCA(n_components=k, svd_solver="full").fit(train.flatten(1).double().numpy())
    ref_recon = ref.inverse_transform(ref.transform(val.flatten(1).double().numpy()))
    ref_mse = np.mean((ref_recon - val.flatten(1).double().numpy()) ** 2)
    assert pca_mse(train, val, k) == pytest.approx(ref_mse, rel=1e-4)
    # Same subspace: projecting sklearn's components onto ours loses nothing.
    ours = fit_pca(train, k).components.double()
    theirs = torch.from_numpy(ref.components_)
    assert torch.allclose(theirs @ ours.T @ ours, theirs, atol=1e-3)


def test_pca_mse_falls_with_more_components(mnist):
    errors = [pca_mse(mnist.train.x, mnist.val.x, k) for k in (2, 16, 128)]
    assert errors[0] > errors[1] > errors[2] > 0


def test_a_refit_on_the_same_images_reuses_the_decomposition_but_not_on_changed_ones(mnist):
    x = mnist.train.x[:300].clone()
    first = fit_pca(x, 5).components
    assert torch.equal(fit_pca(x, 5).components, first)  # the kept decomposition: same numbers
    x[:, :, :5] = 1.0  # changed in place: its version moves on, so it is fitted afresh
    changed = fit_pca(x, 5).components
    fresh = fit_pca(x.clone(), 5).components  # another tensor: no kept decomposition
    assert torch.equal(changed, fresh) and not torch.allclose(changed.abs(), first.abs())


def test_pca_reconstruction_shape_and_range_errors(mnist):
    pca = fit_pca(mnist.train.x, 4)
    assert pca.reconstruct(mnist.val.x[:3]).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="k must be between 1 and 784"):
        fit_pca(mnist.train.x, 0)


def test_mse():
    a = torch.zeros(2, 3)
    assert mse(a, torch.full((2, 3), 2.0)) == 4.0
    with pytest.raises(ValueError, match="Shapes differ"):
        mse(a, torch.zeros(3, 2))


def _pairs():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(4, 1, 28, 28, generator=g)
    yield clean, (clean + 0.2 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    rgb = torch.rand(3, 3, 32, 40, generator=g)
    yield rgb, (rgb * 0.7 + 0.1).clamp(0, 1)


@pytest.mark.parametrize(("target", "pred"), list(_pairs()))
def test_psnr_and_ssim_match_scikit_image(target, pred):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    ours_psnr, ours_ssim = psnr(pred, target), ssim(pred, target)
    assert ours_psnr.shape == ours_ssim.shape == (len(target),)
    for i in range(len(target)):
        t, p = target[i].double().numpy(), pred[i].double().numpy()
        ref_psnr = peak_signal_noise_ratio(t, p, data_range=1.0)
        ref_ssim = structural_similarity(t, p, data_range=1.0, channel_axis=0)
        assert ours_psnr[i].item() == pytest.approx(ref_psnr, rel=1e-9)
        assert ours_ssim[i].item() == pytest.approx(ref_ssim, abs=1e-9)


def test_ssim_of_an_image_with_itself_is_one(mnist):
    assert torch.allclose(
        ssim(mnist.val.x[:5], mnist.val.x[:5]), torch.ones(5, dtype=torch.float64)
    )


def test_image_metrics_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match=r"same shape \(B, C, H, W\)"):
        psnr(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 9))
    with pytest.raises(ValueError, match="same shape"):
        ssim(torch.rand(8, 8), torch.rand(8, 8))


def test_roc_auc_matches_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score

    g = torch.Generator().manual_seed(0)
    labels = torch.rand(300, generator=g) < 0.3
    scores = (torch.randn(300, generator=g) + labels.float()).round(decimals=1)  # many ties
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels.numpy(), scores.numpy()))
    assert roc_auc(torch.tensor([0.1, 0.9]), torch.tensor([False, True])) == 1.0
    with pytest.raises(ValueError, match="both anomalies and normal"):
        roc_auc(torch.rand(4), torch.zeros(4, dtype=torch.bool))
