import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from pregan.models.recovery.baselines.kmeans import kmeans


@pytest.mark.parametrize("seed", range(5))
def test_same_partition_and_inertia_as_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    points = np.concatenate([rng.normal(0.2, 0.1, (10, 3)), rng.normal(0.7, 0.15, (6, 3))])
    labels, centres = kmeans(points, 2, 4, np.random.default_rng(0))
    ref = KMeans(n_clusters=2, n_init=10, random_state=0).fit(points)
    assert adjusted_rand_score(labels, ref.labels_) == 1.0
    inertia = ((points - centres[labels]) ** 2).sum()
    assert inertia == pytest.approx(ref.inertia_, rel=1e-9)


def test_seeded_and_handles_duplicates():
    points = np.array([[0.1, 0.1, 0.1]] * 5 + [[0.9, 0.9, 0.9]] * 3)
    a = kmeans(points, 2, 3, np.random.default_rng(7))
    b = kmeans(points, 2, 3, np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    assert len(set(a[0][:5])) == 1 and a[0][0] != a[0][-1]
    with pytest.raises(ValueError, match="need"):
        kmeans(points[:1], 2, 1, np.random.default_rng(0))
