"""Calibration boards, camera rigs and multi-camera calibrations (Anipose format).

A calibration is made from board images or videos (aniposelib) or imported
from an Anipose ``calibration.toml``; either way it is checked before it is
stored: two cameras with identical intrinsics or extrinsics (one a copy of the
other), or a reprojection error above the source's limit, are refused.
"""

from __future__ import annotations

import datajoint as dj

from pipeline import provenance
from pipeline.calibration import Board, Camera, calibrate, check_cameras, read_board_toml, read_calibration_toml
from pipeline.errors import InputError
from pipeline.io.checksum import file_checksum
from pipeline.paths import resolve, to_relative

from . import session
from .config import data_roots

schema = dj.Schema()


@schema
class CalibrationBoard(dj.Manual):
    """One row: one calibration board (the fields of Anipose's board config)."""

    definition = """
    board : varchar(32)
    ---
    board_type : enum('charuco', 'checkerboard')
    squares_x : int32
    squares_y : int32
    square_mm : float64
    marker_mm = null : float64
    marker_bits = null : int32
    dict_size = null : int32
    """

    @classmethod
    def add(cls, name: str, board: Board | str) -> dict:
        """Insert a board (a :class:`Board` or the path of an Anipose board.toml)."""
        if not isinstance(board, Board):
            board = read_board_toml(board)
        d = board.to_dict()
        row = {"board": name, "board_type": d["kind"], "squares_x": d["squares_x"], "squares_y": d["squares_y"],
               "square_mm": d["square_mm"], "marker_mm": d.get("marker_mm"), "marker_bits": d.get("marker_bits"),
               "dict_size": d.get("dict_size")}
        existing = (cls & {"board": name}).to_dicts()
        if existing and any(existing[0][k] != v for k, v in row.items()):
            raise InputError(f"board {name!r}", "already exists with other dimensions; choose another name")
        cls.insert1(row, skip_duplicates=True)
        return {"board": name}

    @classmethod
    def board_of(cls, key) -> Board:
        r = (cls & key).fetch1()
        return Board(kind=r["board_type"], squares_x=r["squares_x"], squares_y=r["squares_y"],
                     square_mm=r["square_mm"], marker_mm=r["marker_mm"], marker_bits=r["marker_bits"],
                     dict_size=r["dict_size"])


@schema
class CameraRig(dj.Manual):
    """One row: one set of cameras mounted together (a recording setup)."""

    definition = """
    rig : varchar(32)
    ---
    description = '' : varchar(255)
    """


@schema
class SessionRig(dj.Manual):
    """One row: the camera rig one session was recorded with (from the manifest's ``rig``)."""

    definition = """
    -> session.Session
    ---
    -> CameraRig
    """


@schema
class CalibrationSource(dj.Manual):
    """One row: the files one calibration of a rig is made or imported from.

    A calibration applies to one session (``session`` set) or to the rig's
    sessions between ``valid_from`` and ``valid_to``. ``files`` maps each
    camera to its board images or videos (paths relative to a data root);
    kind ``toml`` imports ``toml_path`` instead.
    """

    definition = """
    calibration : varchar(64)
    ---
    -> CameraRig
    valid_from = null : date
    valid_to = null : date
    -> [nullable] session.Session
    source_kind : enum('images', 'videos', 'toml')
    -> [nullable] CalibrationBoard
    cameras : json                      # camera names, in order
    files = null : json                 # camera -> [relative paths]  (images, videos)
    toml_path = '' : varchar(512)       # relative path (toml)
    max_error_px = 1.0 : float64        # refuse a calibration worse than this
    """


@schema
class CameraCalibration(dj.Computed):
    """One row: one checked multi-camera calibration (intrinsics and extrinsics per camera).

    ``median_error_px`` is the median board-corner reprojection error over
    all cameras (null for an imported calibration, whose board is not known).
    """

    definition = """
    -> CalibrationSource
    ---
    n_cameras : int32
    median_error_px = null : float64
    mean_error_px = null : float64
    method : varchar(32)                # 'aniposelib' | 'imported'
    provenance : json
    """

    class Camera(dj.Part):
        """One row: one camera of the calibration (OpenCV model; rotation is Rodrigues, world→camera; mm)."""

        definition = """
        -> master
        camera : varchar(32)
        ---
        camera_index : int16
        width : int32
        height : int32
        matrix : json
        distortion : json
        rotation : json
        translation : json
        median_error_px = null : float64
        mean_error_px = null : float64
        n_detections = null : int32
        """

    def make_fetch(self, key):
        src = (CalibrationSource & key).fetch1()
        board = CalibrationBoard.board_of(src).to_dict() if src["board"] else None
        return src["source_kind"], list(src["cameras"]), src["files"], src["toml_path"], board, src["max_error_px"]

    def make_compute(self, key, kind, cameras, files, toml_path, board, max_error_px):
        roots = data_roots()
        if kind == "toml":
            path = resolve(toml_path, roots)
            cams = read_calibration_toml(path, cameras=cameras)
            check_cameras(cams, source=path)
            prov = provenance.record(inputs={toml_path: file_checksum(path)}, params={"cameras": cameras})
            return [_camera_row(c, i) for i, c in enumerate(cams)], {}, prov, "imported"
        paths = {cam: [resolve(p, roots) for p in files[cam]] for cam in cameras}
        result = calibrate(paths, Board.from_dict(board), names=cameras)
        source = f"calibration {key['calibration']}"
        check_cameras(result.cameras, source=source, errors_px=result.errors_px, max_error_px=max_error_px)
        rows = [dict(_camera_row(c, i), median_error_px=result.errors_px.get(c.name),
                     mean_error_px=result.mean_errors_px.get(c.name), n_detections=result.n_frames.get(c.name))
                for i, c in enumerate(result.cameras)]
        overall = {"median_error_px": float(result.median_error_px),
                   "mean_error_px": float(sum(result.mean_errors_px.values()) / len(result.mean_errors_px))}
        prov = provenance.record(inputs={p: file_checksum(resolve(p, roots)) for cam in cameras for p in files[cam]},
                                 params={"board": board, "cameras": cameras, "max_error_px": max_error_px})
        return rows, overall, prov, "aniposelib"

    def make_insert(self, key, rows, overall, prov, method):
        self.insert1(dict(key, n_cameras=len(rows), method=method, provenance=prov,
                          median_error_px=overall.get("median_error_px"), mean_error_px=overall.get("mean_error_px")))
        self.Camera.insert(dict(key, **r) for r in rows)


def _camera_row(camera: Camera, index: int) -> dict:
    d = camera.to_dict()
    return {"camera": camera.name, "camera_index": index, "width": int(d["size"][0]), "height": int(d["size"][1]),
            "matrix": d["matrix"], "distortion": d["distortion"], "rotation": d["rotation"],
            "translation": d["translation"]}


def cameras_of(key, names=None) -> list[Camera]:
    """The calibrated cameras of one calibration, in calibration order (or in ``names``' order)."""
    return cameras_from_rows(camera_rows(key), names, source=f"calibration {key['calibration']}")


def camera_rows(key) -> list[dict]:
    """The :class:`CameraCalibration.Camera` rows of one calibration (plain values), in calibration order."""
    return (CameraCalibration.Camera & key).to_dicts(order_by="camera_index")


def cameras_from_rows(rows: list[dict], names=None, *, source: str = "calibration") -> list[Camera]:
    """:class:`Camera` objects from :func:`camera_rows` (no database), in the rows' order or in ``names``' order."""
    by_name = {r["camera"]: r for r in rows}
    names = list(names) if names else list(by_name)
    missing = [n for n in names if n not in by_name]
    if missing:
        raise InputError(source, f"has no camera(s) {missing} (it has {list(by_name)})")
    return [Camera.from_dict({"name": n, "size": [by_name[n]["width"], by_name[n]["height"]],
                              "matrix": by_name[n]["matrix"], "distortion": by_name[n]["distortion"],
                              "rotation": by_name[n]["rotation"], "translation": by_name[n]["translation"]})
            for n in names]


def add_calibration(calibration: str, *, rig: str, kind: str, cameras=None, files=None, toml_path=None,
                    board: str | None = None, session_key: dict | None = None, valid_from=None, valid_to=None,
                    max_error_px: float = 1.0) -> dict:
    """Validate, then register one calibration source (nothing is written on bad input).

    ``files`` maps camera → list of image or video paths; ``toml_path`` is an
    Anipose calibration file (kind ``toml``), imported with only ``cameras``
    if given. Paths may be absolute but must lie under a data root; they are
    stored relative to it. An imported calibration is checked here already,
    so a defective file is refused before anything is written.

    Examples
    --------
    >>> add_calibration("rig1_2026-03", rig="rig1", kind="toml",
    ...                 toml_path="session/calibration.toml", cameras=["back", "mid", "top"])  # doctest: +SKIP
    """
    roots = data_roots()
    if kind not in ("images", "videos", "toml"):
        raise InputError(f"calibration {calibration}", f"kind must be images, videos or toml, not {kind!r}")
    row = {"calibration": calibration, "rig": rig, "source_kind": kind, "valid_from": valid_from,
           "valid_to": valid_to, "board": board, "max_error_px": float(max_error_px)}
    if session_key:
        row["session"] = session_key["session"]
    if kind == "toml":
        if not toml_path:
            raise InputError(f"calibration {calibration}", "kind toml needs toml_path")
        rel = to_relative(resolve(toml_path, roots) if not _is_abs(toml_path) else toml_path, roots)
        path = resolve(rel, roots)
        cams = read_calibration_toml(path, cameras=cameras)
        check_cameras(cams, source=path)  # refuse copies before anything is written
        row.update(toml_path=rel, cameras=[c.name for c in cams], files=None)
    else:
        if not files or not board:
            raise InputError(f"calibration {calibration}", f"kind {kind} needs files (camera -> paths) and a board")
        if not CalibrationBoard & {"board": board}:
            raise InputError(f"calibration {calibration}", f"unknown board {board!r}; add it with CalibrationBoard.add")
        names = list(cameras or files)
        rel = {}
        for cam in names:
            if not files.get(cam):
                raise InputError(f"calibration {calibration}", f"no files for camera {cam!r}")
            rel[cam] = [to_relative(p, roots) if _is_abs(p) else to_relative(resolve(p, roots), roots)
                        for p in files[cam]]
            for p in rel[cam]:
                resolve(p, roots)
        row.update(cameras=names, files=rel, toml_path="")
    with CameraRig.connection.transaction:
        CameraRig.insert1({"rig": rig}, skip_duplicates=True)
        CalibrationSource.insert1(row)
    return {"calibration": calibration}


def _is_abs(path) -> bool:
    from pathlib import Path

    return Path(path).is_absolute()


def calibration_for(session_key: dict, rig: str | None = None) -> dict:
    """The calibration of ``rig`` that applies to a session: its own, else the one whose dates cover it.

    ``rig`` defaults to the session's :class:`SessionRig`.
    """
    if rig is None:
        rows = (SessionRig & {"session": session_key["session"]}).to_dicts()
        if not rows:
            raise InputError(f"session {session_key['session']}",
                             "no camera rig recorded: give rig=, or `rig:` in the session's manifest entry")
        rig = rows[0]["rig"]
    own = CalibrationSource & {"session": session_key["session"], "rig": rig}
    keys = (CameraCalibration & own.proj()).to_dicts()
    if keys:
        return {"calibration": keys[0]["calibration"]}
    day = (session.Session & session_key).fetch1("session_datetime").date()
    candidates = []
    for r in (CalibrationSource * CameraCalibration.proj() & {"rig": rig}).to_dicts():
        if r["session"] is None and (r["valid_from"] is None or r["valid_from"] <= day) \
                and (r["valid_to"] is None or day <= r["valid_to"]):
            candidates.append(r)
    if not candidates:
        raise InputError(f"session {session_key['session']}", f"no calibration of rig {rig!r} covers {day}")
    latest = max(candidates, key=lambda r: (r["valid_from"] is not None, r["valid_from"] or day))
    return {"calibration": latest["calibration"]}
