"""What an integrity check found wrong: one plain record per problem, same shape everywhere."""
from __future__ import annotations

from dataclasses import asdict, dataclass

# Public kinds (the `--json` output of `archiver verify` uses them).
KINDS = ("missing_file", "digest_mismatch", "truncated", "manifest_mismatch", "chain_broken",
         "unreadable_record", "record_mismatch", "unlisted_file")


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str
    file: str | None = None
    offset: int | None = None
    capture_id: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """One readable line, for terminals and logs."""
        where = [p for p in (self.file, None if self.offset is None else f"@{self.offset}",
                             None if self.capture_id is None else f"capture {self.capture_id}") if p]
        return f"{self.kind}: {' '.join(where) + ': ' if where else ''}{self.detail}"
