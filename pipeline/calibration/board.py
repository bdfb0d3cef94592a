"""Calibration boards (ChArUco or checkerboard), as Anipose describes them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.calibration._toml import read_toml
from pipeline.errors import InputError

KINDS = ("charuco", "checkerboard")
MARKER_BITS = (4, 5, 6, 7)
DICT_SIZES = (50, 100, 250, 1000)


@dataclass(frozen=True)
class Board:
    """A planar calibration target.

    Parameters
    ----------
    kind : {'charuco', 'checkerboard'}
    squares_x, squares_y : int
        Number of squares along x and y (Anipose ``board_x``, ``board_y``).
    square_mm : float
        Side of one square, mm.
    marker_mm : float, optional
        Side of one ArUco marker, mm (ChArUco only).
    marker_bits : int, optional
        ArUco marker size in bits, 4-7 (ChArUco only).
    dict_size : int, optional
        ArUco dictionary size, 50/100/250/1000 (ChArUco only).

    Examples
    --------
    >>> b = Board("charuco", 8, 11, 24.0, 18.75, 4, 1000)
    >>> Board.from_dict(b.to_dict()) == b
    True
    >>> Board("checkerboard", 8, 11, 24.0).n_corners
    70
    """

    kind: str
    squares_x: int
    squares_y: int
    square_mm: float
    marker_mm: float | None = None
    marker_bits: int | None = None
    dict_size: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"board kind must be one of {KINDS}, got {self.kind!r}")
        for field in ("squares_x", "squares_y"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(f"{field} must be an integer >= 2, got {value!r}")
        if not _positive(self.square_mm):
            raise ValueError(f"square_mm must be a positive number, got {self.square_mm!r}")
        charuco = (self.marker_mm, self.marker_bits, self.dict_size)
        if self.kind == "checkerboard":
            if any(v is not None for v in charuco):
                raise ValueError("a checkerboard has no marker_mm, marker_bits or dict_size")
            return
        if not _positive(self.marker_mm) or self.marker_mm >= self.square_mm:
            raise ValueError(f"marker_mm must be positive and smaller than square_mm, got {self.marker_mm!r}")
        if self.marker_bits not in MARKER_BITS:
            raise ValueError(f"marker_bits must be one of {MARKER_BITS}, got {self.marker_bits!r}")
        if self.dict_size not in DICT_SIZES:
            raise ValueError(f"dict_size must be one of {DICT_SIZES}, got {self.dict_size!r}")

    @property
    def n_corners(self) -> int:
        """Number of inner corners the board offers for calibration."""
        return (self.squares_x - 1) * (self.squares_y - 1)

    def to_dict(self) -> dict:
        """Plain dict of the fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Board:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: d[k] for k in d if k in cls.__dataclass_fields__})


def _positive(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def read_board_toml(path: str | Path) -> Board:
    """Read an Anipose board config (``board.toml`` or the ``[calibration]`` table).

    Keys: ``board_type`` (optional), ``board_x``, ``board_y``,
    ``square_length``, and for ChArUco ``marker_length``, ``marker_bits``,
    ``dict_size``. A board is ChArUco when ``marker_length`` is present or
    ``board_type`` says so, otherwise a checkerboard.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Board

    Raises
    ------
    InputError
        The file is unreadable, or a key is missing or invalid.
    """
    path = Path(path)
    data = read_toml(path, what="board file")
    if "board_x" not in data and isinstance(data.get("calibration"), dict):
        data = data["calibration"]  # an Anipose config.toml
    board_type = str(data.get("board_type", "")).lower()
    if board_type and board_type not in KINDS:
        raise InputError(path, f"board_type must be one of {KINDS}, got {board_type!r}")
    kind = board_type or ("charuco" if "marker_length" in data else "checkerboard")
    needed = ["board_x", "board_y", "square_length"]
    if kind == "charuco":
        needed += ["marker_length", "marker_bits", "dict_size"]
    missing = [k for k in needed if k not in data]
    if missing:
        raise InputError(path, f"{kind} board lacks {', '.join(missing)}")
    try:
        if kind == "charuco":
            return Board(kind, data["board_x"], data["board_y"], float(data["square_length"]),
                         float(data["marker_length"]), data["marker_bits"], data["dict_size"])
        return Board(kind, data["board_x"], data["board_y"], float(data["square_length"]))
    except (TypeError, ValueError) as exc:
        raise InputError(path, f"invalid board: {exc}") from None


def to_aniposelib(board: Board):
    """The equivalent ``aniposelib.boards.CharucoBoard`` or ``Checkerboard``.

    Examples
    --------
    >>> type(to_aniposelib(Board("checkerboard", 8, 11, 24.0))).__name__
    'Checkerboard'
    """
    from aniposelib.boards import CharucoBoard, Checkerboard

    if board.kind == "charuco":
        return CharucoBoard(board.squares_x, board.squares_y, square_length=board.square_mm,
                            marker_length=board.marker_mm, marker_bits=board.marker_bits,
                            dict_size=board.dict_size)
    # aniposelib's Checkerboard takes the number of inner corners
    return Checkerboard(board.squares_x - 1, board.squares_y - 1, square_length=board.square_mm)
