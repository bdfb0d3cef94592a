"""Motion SVD of one ROI (facemap's "motion SVD"): the top components of its motion frames.

The motion frames ``M_t = |G_t - G_{t-1}|`` (see :mod:`pipeline.motion.energy`, same grey and
downsampling) of the ROI's pixels, for ``t = 1 .. n-1``, minus their mean, are decomposed into the
top ``k`` principal components (scikit-learn):

- ``method = "randomized"``: every motion frame is kept (uint8) and ``randomized_svd`` runs once; the
  memory is ``n_frames × pixels`` bytes, refused above ``max_mb``;
- ``method = "incremental"``: ``IncrementalPCA`` fitted batch by batch while decoding, then a second
  pass projects every frame (memory bounded by the batch; the video is decoded twice).
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import InputError

from .energy import analysis_grid, grey, open_video

__all__ = ["METHODS", "motion_svd"]

METHODS = ("randomized", "incremental")


def _frames(video_path, crop, region, d):
    """Yield the ROI's motion-frame vectors (uint8, pixels inside the ROI only), frame 1 onwards."""
    import cv2

    cap, _, _ = open_video(video_path)
    inside = None if region.mask is None else region.mask.astype(bool)
    try:
        ok, frame = cap.read()
        if not ok:
            return
        prev = grey(frame, crop, d)[region.rows, region.cols]
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            g = grey(frame, crop, d)[region.rows, region.cols]
            diff = cv2.absdiff(g, prev)
            prev = g
            yield diff.ravel() if inside is None else diff[inside]
    finally:
        cap.release()


def _batches(iterator, size):
    batch = []
    for v in iterator:
        batch.append(v)
        if len(batch) == size:
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)


def motion_svd(video_path, mask: np.ndarray, *, n_components: int = 50, method: str = "randomized",
               downsample: int = 1, batch_frames: int = 1000, max_mb: float = 2000.0, seed: int = 0) -> dict:
    """The top ``n_components`` components of one ROI's motion frames.

    Parameters
    ----------
    video_path : str or Path
        The video.
    mask : ndarray of bool, shape (height, width)
        The ROI (:func:`pipeline.motion.rois.roi_mask`).
    n_components : int
        Components kept (at most the number of motion frames and of ROI pixels).
    method : {"randomized", "incremental"}
        See the module docstring.
    downsample : int
        Block-average d × d pixels first.
    batch_frames : int
        Frames per ``partial_fit`` / projection batch (incremental).
    max_mb : float
        Largest in-memory motion matrix for ``randomized``.
    seed : int
        Random state of the randomized SVD.

    Returns
    -------
    dict
        ``components`` (k × rows × cols of the ROI's bounding box at the analysed resolution, float32,
        NaN outside the ROI), ``projections`` (n_frames × k, row 0 NaN), ``singular_values``,
        ``explained_variance`` and ``explained_variance_ratio`` (k), ``mean_motion`` (rows × cols),
        ``n_frames``.

    Raises
    ------
    InputError
        Unknown method, too few frames or pixels, a motion matrix over ``max_mb``.

    Examples
    --------
    >>> m = np.zeros((384, 384), bool); m[100:150, 100:160] = True
    >>> out = motion_svd("clip.mp4", m, n_components=5)  # doctest: +SKIP
    >>> out["projections"].shape  # doctest: +SKIP
    (1100, 5)
    """
    if method not in METHODS:
        raise InputError("motion SVD parameters", f"method must be one of {METHODS}, got {method!r}")
    k = int(n_components)
    crop, regions = analysis_grid({"roi": mask}, downsample, str(video_path))
    region = regions["roi"]
    if k < 1 or k > region.pixels:
        raise InputError(video_path, f"n_components {k}: need 1 <= n_components <= the ROI's {region.pixels} pixels")
    if method == "randomized":
        fit = _randomized(video_path, crop, region, int(downsample), k, max_mb, seed)
    else:
        fit = _incremental(video_path, crop, region, int(downsample), k, int(batch_frames))
    shape = (region.rows.stop - region.rows.start, region.cols.stop - region.cols.start)
    inside = np.ones(shape, bool) if region.mask is None else region.mask.astype(bool)
    components = np.full((k, *shape), np.nan, np.float32)
    components[:, inside] = fit["vt"]
    mean = np.full(shape, np.nan, np.float32)
    mean[inside] = fit["mean"]
    projections = np.vstack([np.full((1, k), np.nan), fit["projections"]])
    return {"components": components, "projections": projections, "singular_values": fit["s"],
            "explained_variance": fit["s"] ** 2 / max(len(projections) - 2, 1),
            "explained_variance_ratio": fit["s"] ** 2 / fit["total"], "mean_motion": mean,
            "n_frames": len(projections), "pixels": region.pixels}


def _randomized(video_path, crop, region, d, k, max_mb, seed) -> dict:
    from sklearn.utils.extmath import randomized_svd

    rows = list(_frames(video_path, crop, region, d))
    if len(rows) < k:
        raise InputError(video_path, f"{len(rows)} motion frames: too few for {k} components")
    if len(rows) * region.pixels * 5 / 2**20 > max_mb:
        raise InputError(video_path, f"{len(rows)} motion frames × {region.pixels} pixels exceed max_mb {max_mb:g}:"
                                     " use method 'incremental' or downsample")
    x = np.stack(rows).astype(np.float32)
    mean = x.mean(0)
    x -= mean
    u, s, vt = randomized_svd(x, k, random_state=seed)
    return {"vt": vt, "s": s.astype(np.float64), "mean": mean, "projections": (u * s).astype(np.float64),
            "total": float((x.astype(np.float64) ** 2).sum())}


def _incremental(video_path, crop, region, d, k, batch) -> dict:
    from sklearn.decomposition import IncrementalPCA

    pca = IncrementalPCA(n_components=k)
    total_sq, n, pending = 0.0, 0, None
    for b in _batches(_frames(video_path, crop, region, d), max(batch, k)):
        if pending is not None and len(b) < k:  # partial_fit needs >= k rows: a short last batch joins the one before
            pending = np.vstack([pending, b])
            continue
        if pending is not None:
            total_sq, n = _fit(pca, pending, total_sq, n)
        pending = b
    if pending is None or n + len(pending) < k:
        raise InputError(video_path, f"{n + (0 if pending is None else len(pending))} motion frames: too few for "
                                     f"{k} components")
    total_sq, n = _fit(pca, pending, total_sq, n)
    mean = pca.mean_
    total = total_sq - n * float((mean ** 2).sum())  # sum of squares about the mean
    projections = np.vstack([pca.transform(b.astype(np.float64))
                             for b in _batches(_frames(video_path, crop, region, d), batch)])
    return {"vt": pca.components_, "s": pca.singular_values_.astype(np.float64), "mean": mean,
            "projections": projections, "total": total}


def _fit(pca, batch: np.ndarray, total_sq: float, n: int) -> tuple[float, int]:
    x = batch.astype(np.float64)
    pca.partial_fit(x)
    return total_sq + float((x ** 2).sum()), n + len(x)
