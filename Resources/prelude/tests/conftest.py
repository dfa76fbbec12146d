"""pytest compatibility only; `pyrun test` does not read this file.

`pyrun test` runs each test file in a kernel with the prelude loaded and a
fresh workspace (a copy of fixtures/) as the current directory.  This gives
the same under `python3 -m pytest`, so the test files stay plain Python.
"""

import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # pyrun_prelude.py


@pytest.fixture(autouse=True, scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("workspace")
    shutil.copytree(os.path.join(HERE, "fixtures"), str(root), dirs_exist_ok=True)
    previous = os.getcwd()
    os.chdir(str(root))
    yield root
    os.chdir(previous)
