import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA as SklearnPCA

from aecourse.metrics import fit_pca, mse, pca_mse


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
