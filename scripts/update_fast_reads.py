#!/usr/bin/env python3
"""Regenerate what `i2v job` and `i2v jobs` read with: the store's SQL and the settings' kinds.

python scripts/update_fast_reads.py          # rewrite src/i2v/store/readsql.py and
                                             # src/i2v/config/settingkinds.py
python scripts/update_fast_reads.py --check  # exit 1 if either is out of date

Run it after changing a statement the store reads jobs with, the schema's version, or
a setting (see i2v.store.readsql_build and i2v.config.settingkinds_build).
"""

from __future__ import annotations

import sys

from i2v.config import settingkinds_build
from i2v.store import readsql_build


def main() -> int:
    """Rewrite the generated modules, or with --check only say whether they are current."""
    stale = []
    for builder in (readsql_build, settingkinds_build):
        wanted = builder.render()
        if builder.MODULE.read_text(encoding="utf-8") == wanted:
            continue
        stale.append(builder.MODULE.name)
        if "--check" not in sys.argv[1:]:
            builder.MODULE.write_text(wanted, encoding="utf-8")
    if stale and "--check" in sys.argv[1:]:
        print(
            f"{', '.join(stale)} out of date; run python scripts/update_fast_reads.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
