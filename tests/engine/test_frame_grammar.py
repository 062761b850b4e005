"""The one frame grammar (engine.frames): indices, inclusive ranges, slices and ``all``."""

import pytest

from engine.errors import ConfigError
from engine.frames import parse_frames


@pytest.mark.parametrize(
    ("spec", "frames"),
    [
        (None, tuple(range(30))),
        ("all", tuple(range(30))),
        (" all ", tuple(range(30))),
        ("5", (5,)),
        ("0-3", (0, 1, 2, 3)),
        ("0,5,10-20", (0, 5, *range(10, 21))),
        ("20-20", (20,)),
        ("0:4", (0, 1, 2, 3)),
        ("1:7:2", (1, 3, 5)),
        ("::10", (0, 10, 20)),
        ("-3:", (27, 28, 29)),
        ("5,1,1, 3-4", (1, 3, 4, 5)),
        ("28-29,all", tuple(range(30))),
    ],
)
def test_selections(spec, frames):
    assert parse_frames(spec, 30) == frames


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("x", r"frames 'x': 'x' is not a frame selection \(use all, N, inclusive ranges A-B"),
        ("1,,2", r"'' is not a frame selection"),
        ("-3", r"'-3' is not a frame selection"),
        ("5-2", r"range 5-2 runs backwards"),
        ("1:2:3:4", r"'1:2:3:4' is not a frame selection"),
        ("::0", r"'::0' is not a frame selection"),
        ("30", r"frames '30': out of range \(the cine has frames 0-29\)"),
        ("25-30", r"frames '25-30': out of range"),
        ("3:3", r"frames '3:3' select no frame"),
        ("40:", r"frames '40:' select no frame"),
    ],
)
def test_bad_selections_name_the_file_and_the_reason(spec, reason):
    with pytest.raises(ConfigError, match=reason) as err:
        parse_frames(spec, 30, "cine.dcm")
    assert err.value.one_line().startswith("cine.dcm: frames ")
    assert "\n" not in err.value.one_line()
