"""EF.COM (tag 60): LDS version, Unicode version and the list of DG tags."""

from __future__ import annotations

from dataclasses import dataclass

from edge.icao import tlv
from edge.icao.errors import LdsError, TlvError
from edge.icao.lds.tags import TAG_COM, TAG_TO_DG


@dataclass(frozen=True)
class Com:
    lds_version: str
    unicode_version: str
    tags: bytes
    data_groups: list[int]  # DG numbers from the tag list (unknown tags skipped)


def parse_com(data: bytes) -> Com:
    """Parse EF.COM; raises LdsError when malformed."""
    try:
        outer, _ = tlv.decode(data)
        if outer.tag != TAG_COM:
            raise TlvError(f"EF.COM tag is {outer.tag:X}, not 60")
        objs = outer.children()
        lds = tlv.find(objs, 0x5F01)
        uni = tlv.find(objs, 0x5F36)
        tags = tlv.find(objs, 0x5C)
        if tags is None:
            raise TlvError("EF.COM has no tag list (5C)")
        return Com(
            lds.value.decode("ascii", "replace") if lds else "",
            uni.value.decode("ascii", "replace") if uni else "",
            tags.value,
            [TAG_TO_DG[t] for t in tags.value if t in TAG_TO_DG],
        )
    except TlvError as e:
        raise LdsError(f"malformed EF.COM: {e}") from e
