from __future__ import annotations

import sys
from pathlib import Path

import _pytest.pathlib

from sandboxes.hostfs import remove_tree

sys.path.insert(0, str(Path(__file__).parent))

_pytest_rm_rf = _pytest.pathlib.rm_rf


def _rm_rf_any_depth(path: Path) -> None:
    """pytest's removal of its old temp folders (at exit), for trees nested deeper than
    shutil.rmtree recurses: attack tests nest thousands of levels; one left behind
    printed a RecursionError after every later run until it was gone."""
    try:
        _pytest_rm_rf(path)
    except RecursionError:
        try:
            remove_tree(Path(path))
        except OSError:
            pass  # like pytest's own: what cannot be removed is left


_pytest.pathlib.rm_rf = _rm_rf_any_depth
