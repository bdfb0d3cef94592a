"""Video recordings of sessions and their file facts."""

import datajoint as dj

from pipeline import provenance
from pipeline.io.checksum import file_checksum
from pipeline.paths import resolve
from pipeline.video import probe_video

from . import session  # noqa: F401  (named by the table definition "-> session.Session")
from .config import data_roots

schema = dj.Schema()


@schema
class VideoRecording(dj.Manual):
    """One row: one camera's recording of a session.

    ``video_path`` is relative to a configured data root (never absolute);
    it is empty for pose-only data, whose ``fps`` must then be given.
    """

    definition = """
    -> session.Session
    camera : varchar(32)
    ---
    video_path = '' : varchar(512)        # relative to a data root; '' = no video
    declared_fps = null : float64         # frame rate when there is no video file
    mm_per_px = null : float64            # spatial scale; null = unknown
    scale_source = 'none' : enum('given', 'arena', 'none')
    """


@schema
class RecordingInfo(dj.Imported):
    """One row: the facts read from one recording's video file."""

    definition = """
    -> VideoRecording
    ---
    fps : float64
    n_frames = null : int32
    width = null : int32
    height = null : int32
    duration_s = null : float64
    video_sha256 = '' : char(64)
    provenance : json
    """

    def make_fetch(self, key):
        return ((VideoRecording & key).fetch1(),)

    def make_compute(self, key, rec):
        row = dict(key)
        inputs = {}
        if rec["video_path"]:  # probing and hashing a long video takes a while: outside the transaction
            path = resolve(rec["video_path"], data_roots())
            info = probe_video(path)
            inputs[rec["video_path"]] = file_checksum(path)
            row.update(fps=info.fps, n_frames=info.n_frames, width=info.width, height=info.height,
                       duration_s=info.duration_s, video_sha256=inputs[rec["video_path"]])
        else:
            row.update(fps=rec["declared_fps"])
        row["provenance"] = provenance.record(inputs=inputs, params={})
        return (row,)

    def make_insert(self, key, row):
        self.insert1(row)
