"""Frames to label: DLC-style k-means selection and a SLEAP labelling package."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.errors import InputError

__all__ = ["resolve_frames", "select_frames_kmeans", "write_sleap_package"]


def resolve_frames(frames, n_frames: int, *, source="frames") -> np.ndarray:
    """Frame indices from ``None`` (all), a range, a slice or a list of ints.

    Raises
    ------
    InputError
        Non-integer indices, or indices outside ``0 .. n_frames - 1`` (names
        ``source``).

    Examples
    --------
    >>> resolve_frames(slice(0, 6, 2), 10).tolist()
    [0, 2, 4]
    """
    if frames is None:
        return np.arange(n_frames)
    if isinstance(frames, slice):
        return np.arange(*frames.indices(n_frames))
    idx = np.asarray(frames if isinstance(frames, np.ndarray) else list(frames))
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise InputError(source, f"frames must be a range, slice or list of integers, got {frames!r}")
    if idx.size and (idx.min() < 0 or idx.max() >= n_frames):
        raise InputError(source, f"frame indices {idx.min()}..{idx.max()} outside 0..{n_frames - 1}")
    return idx.astype(int)


def _open(video_path):
    import cv2

    path = Path(video_path)
    if not path.is_file():
        raise InputError(path, "video file does not exist")
    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    if n <= 0:
        cap.release()
        raise InputError(path, "not a readable video (no frames)")
    return cap, n


def select_frames_kmeans(video_path, *, n_frames: int, downscale: float = 0.25, stride: int = 1,
                         seed: int = 0) -> np.ndarray:
    """Pick visually diverse frames as DeepLabCut's k-means extraction does.

    Every ``stride``-th frame is read, converted to grey, resized by
    ``downscale`` and flattened; k-means with ``n_frames`` clusters runs on
    those vectors and, from each cluster, the frame nearest its centre is
    kept.  Deterministic for a given ``seed`` (scikit-learn's ``KMeans`` when
    installed, else ``scipy.cluster.vq.kmeans2``).

    Parameters
    ----------
    video_path : str or Path
        The video.
    n_frames : int
        How many frames to pick (at most the number of frames read).
    downscale : float
        Resize factor before clustering.
    stride : int
        Read every ``stride``-th frame.
    seed : int
        Random seed of k-means.

    Returns
    -------
    ndarray of int
        ``n_frames`` distinct frame indices, sorted.

    Raises
    ------
    InputError
        Missing or unreadable video, or fewer frames than asked for.
    """
    import cv2

    if n_frames < 1 or stride < 1 or not 0 < downscale <= 1:
        raise ValueError(f"need n_frames >= 1, stride >= 1, 0 < downscale <= 1; got {n_frames}, {stride}, {downscale}")
    cap, total = _open(video_path)
    indices, vectors = [], []
    try:
        for i in range(total):
            ok = cap.grab()
            if not ok:
                break
            if i % stride:
                continue
            ok, img = cap.retrieve()
            if not ok:
                break
            grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
            small = cv2.resize(grey, None, fx=downscale, fy=downscale, interpolation=cv2.INTER_AREA)
            indices.append(i)
            vectors.append(small.ravel().astype(np.float64) / 255.0)
    finally:
        cap.release()
    if len(indices) < n_frames:
        raise InputError(video_path, f"only {len(indices)} frames read (stride {stride}), {n_frames} asked for")
    x = np.stack(vectors)
    labels = _kmeans(x, n_frames, seed)
    picked = []
    for k in range(n_frames):
        members = np.flatnonzero(labels == k)
        if members.size:
            centre = x[members].mean(0)
            picked.append(indices[members[np.argmin(((x[members] - centre) ** 2).sum(1))]])
    if len(picked) < n_frames:  # empty clusters: fill with evenly spaced unused frames
        rest = [i for i in indices if i not in set(picked)]
        picked += [rest[j] for j in np.linspace(0, len(rest) - 1, n_frames - len(picked)).astype(int)]
    return np.array(sorted(set(picked)), dtype=int)


def _kmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    try:
        from sklearn.cluster import KMeans
    except ImportError:
        from scipy.cluster.vq import kmeans2

        return kmeans2(x, k, minit="++", seed=seed)[1]
    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(x)


def write_sleap_package(video_path, frame_indices, out_path, *, skeleton_nodes, skeleton_edges=()) -> Path:
    """Write a SLEAP ``.pkg.slp`` with the chosen frames embedded, ready to label.

    The frames become empty labelled frames *and* labelling suggestions, so
    SLEAP opens the package on them; the images are embedded, so the package
    needs no video.

    Parameters
    ----------
    video_path : str or Path
        The source video.
    frame_indices : sequence of int
        Frames to embed (e.g. from :func:`select_frames_kmeans`).
    out_path : str or Path
        The package to write; should end in ``.pkg.slp``.
    skeleton_nodes : sequence of str
        Body-part names.
    skeleton_edges : sequence of (str, str)
        Edges by body-part name.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    InputError
        Unreadable video, frames outside it, an edge naming an unknown node.
    """
    import sleap_io as sio

    _, total = _open(video_path)
    idx = resolve_frames(frame_indices, total, source=video_path)
    nodes = [str(n) for n in skeleton_nodes]
    unknown = [e for e in skeleton_edges if e[0] not in nodes or e[1] not in nodes]
    if not nodes or unknown:
        raise InputError("skeleton", f"no nodes, or edges {unknown} naming nodes not in {nodes}")
    skeleton = sio.Skeleton(nodes=nodes, edges=[(str(a), str(b)) for a, b in skeleton_edges])
    video = sio.load_video(str(Path(video_path)))
    labels = sio.Labels(videos=[video], skeletons=[skeleton])
    for i in idx:
        labels.append(sio.LabeledFrame(video=video, frame_idx=int(i), instances=[]))
        labels.suggestions.append(sio.SuggestionFrame(video=video, frame_idx=int(i)))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    labels.save(str(out_path), embed="all")
    return out_path


def write_dlc_frames(video_path, frame_indices, out_dir) -> Path:
    """Write the chosen frames as a DeepLabCut ``labeled-data/<video stem>/imgNNNN.png`` folder.

    Names follow DeepLabCut's extraction (``img`` + the frame index padded to
    the width of the video's frame count), so DLC's labelling GUI opens the
    folder once it sits in a project's ``labeled-data``.

    Returns
    -------
    Path
        The ``<video stem>`` folder inside ``out_dir``.
    """
    import cv2

    cap, total = _open(video_path)
    idx = resolve_frames(frame_indices, total, source=video_path)
    folder = Path(out_dir) / Path(video_path).stem
    folder.mkdir(parents=True, exist_ok=True)
    width = len(str(total))
    try:
        for i in idx:
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
            ok, frame = cap.read()
            if not ok:
                raise InputError(video_path, f"frame {int(i)} cannot be read")
            cv2.imwrite(str(folder / f"img{int(i):0{width}d}.png"), frame)
    finally:
        cap.release()
    return folder
