"""Radiomic features on shapes and textures whose values are known by hand, and against
scipy/scikit-image computed directly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from oncofusion.baselines.radiomics import cohort_radiomics, radiomic_features
from oncofusion.errors import CohortError


def ball(n: int, r: float) -> np.ndarray:
    z, y, x = np.mgrid[:n, :n, :n]
    c = (n - 1) / 2
    return (z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2 <= r**2


def test_first_order_equals_scipy_on_the_roi():
    rng = np.random.default_rng(0)
    img = rng.gamma(2.0, 10.0, size=(9, 21, 21))
    mask = ball(21, 8)[6:15]
    f = radiomic_features(img, mask)
    v = img[mask]
    assert f["firstorder_mean"] == pytest.approx(v.mean(), abs=1e-10)
    assert f["firstorder_sd"] == pytest.approx(v.std(), abs=1e-10)
    assert f["firstorder_skewness"] == pytest.approx(stats.skew(v), abs=1e-10)
    assert f["firstorder_kurtosis"] == pytest.approx(stats.kurtosis(v), abs=1e-10)
    assert f["firstorder_p90"] == pytest.approx(np.percentile(v, 90), abs=1e-10)
    assert f["firstorder_iqr"] == pytest.approx(stats.iqr(v), abs=1e-10)
    assert f["firstorder_skewness"] > 0.5  # a gamma(2) sample is right-skewed


def test_two_valued_image_has_one_bit_of_entropy_and_constant_image_zero():
    img = np.zeros((1, 8, 8))
    img[0, :, :4] = 1.0
    assert radiomic_features(img)["firstorder_entropy"] == pytest.approx(1.0, abs=1e-12)
    f = radiomic_features(np.full((2, 6, 6), 7.0))
    assert (f["firstorder_sd"], f["firstorder_entropy"], f["firstorder_skewness"]) == (
        0.0,
        0.0,
        0.0,
    )
    assert (f["glcm_contrast"], f["glcm_asm"], f["glcm_homogeneity"], f["glcm_entropy"]) == (
        0.0,
        1.0,
        1.0,
        0.0,
    )


def test_shape_of_a_ball_a_cube_and_a_box():
    r = 12
    fb = radiomic_features(np.ones((29, 29, 29)), ball(29, r), spacing=(2.0, 2.0, 2.0))
    true_volume = 4 / 3 * np.pi * (2 * r) ** 3
    assert fb["shape_voxel_volume"] == pytest.approx(true_volume, rel=0.02)
    assert fb["shape_mesh_volume"] == pytest.approx(true_volume, rel=0.03)
    assert fb["shape_elongation"] == pytest.approx(1.0, abs=1e-9) and fb[
        "shape_flatness"
    ] == pytest.approx(1.0, abs=1e-9)
    cube = np.zeros((24, 24, 24), bool)
    cube[2:22, 2:22, 2:22] = True
    fc = radiomic_features(np.ones(cube.shape), cube)
    # a ball is the most spherical shape: sphericity(ball) > sphericity(cube) (pi/6)^(1/3) ~ 0.81
    assert fb["shape_sphericity"] > 0.88 > fc["shape_sphericity"] > 0.75
    box = np.zeros((8, 34, 14), bool)
    box[1:7, 2:32, 2:12] = True  # 6 x 30 x 10 voxels
    fx = radiomic_features(np.ones(box.shape), box)
    # variances of the coordinates are (n^2 - 1) / 12 per axis
    assert fx["shape_elongation"] == pytest.approx(np.sqrt(99 / 899), abs=1e-9)
    assert fx["shape_flatness"] == pytest.approx(np.sqrt(35 / 899), abs=1e-9)
    assert fx["shape_voxel_volume"] == 6 * 30 * 10


def test_glcm_of_a_checkerboard():
    """Horizontal/vertical neighbours always differ by one level, diagonal ones never."""
    board = (np.indices((1, 12, 12)).sum(axis=0) % 2).astype(float)
    f = radiomic_features(board, glcm_levels=2)
    assert f["glcm_contrast"] == pytest.approx(0.5, abs=1e-12)  # mean of 1, 0, 1, 0
    assert f["glcm_correlation"] == pytest.approx(0.0, abs=1e-12)  # mean of -1, 1, -1, 1


def test_glcm_equals_scikit_image_without_a_mask():
    from skimage.feature import graycomatrix, graycoprops

    rng = np.random.default_rng(1)
    img = rng.integers(0, 8, size=(1, 16, 16)).astype(float)
    f = radiomic_features(img, glcm_levels=8)
    angles = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    P = graycomatrix(img[0].astype(np.uint8), [1], angles, levels=8, symmetric=True, normed=True)
    for prop in ("contrast", "homogeneity", "correlation", "energy"):
        assert f[f"glcm_{prop}"] == pytest.approx(graycoprops(P, prop).mean(), abs=1e-12)


def test_background_is_excluded_from_the_glcm():
    img = np.zeros((1, 10, 10))
    img[0, 2:8, 2:8] = 5.0  # constant ROI on a contrasting background
    mask = img > 0
    assert radiomic_features(img, mask)["glcm_contrast"] == 0.0


def test_bad_masks_are_clear_errors():
    with pytest.raises(CohortError, match="selects no voxel"):
        radiomic_features(np.ones((2, 4, 4)), np.zeros((2, 4, 4)))
    with pytest.raises(CohortError, match="mask has shape"):
        radiomic_features(np.ones((2, 4, 4)), np.ones((2, 4, 5)))


def test_cohort_radiomics_reads_images_and_masks(synth_cohort):
    frame = cohort_radiomics(synth_cohort)
    assert list(frame.index) == synth_cohort.patient_ids
    assert (
        frame.iloc[:3].isna().all().all() and frame.iloc[3:].notna().all().all()
    )  # P000-P002 have no image
    assert "ct__shape_voxel_volume" in frame.columns and "ct__glcm_contrast" in frame.columns
    # larger tumours were drawn for larger largest_tumour_cm
    size = synth_cohort.patients["largest_tumour_cm"].to_numpy()[3:]
    assert stats.spearmanr(size, frame["ct__shape_voxel_volume"].iloc[3:]).statistic > 0.8
