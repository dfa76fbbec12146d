"""Shared by the pyrun_testing tests: import the module under test, and write
test files into a fresh directory that is cleaned up afterwards."""

import os
import shutil
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import pyrun_testing  # noqa: E402  (after the path is set)


class SampleTest(unittest.TestCase):
    """Each test gets a directory for its sample files; sys.path and
    sys.modules entries that collecting them adds are removed afterwards."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pyrun-testing-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        saved_path, saved_modules = list(sys.path), set(sys.modules)

        def restore():
            sys.path[:] = saved_path
            for name in set(sys.modules) - saved_modules:
                del sys.modules[name]

        self.addCleanup(restore)

    def write(self, name, source):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(source).lstrip("\n"))
        return path

    def collect(self, source, name=None, keyword=None):
        """Collect a sample file (a new name each time unless given: a kernel
        collects a path once)."""
        if name is None:
            self.samples = getattr(self, "samples", 0) + 1
            name = "test_sample%d.py" % self.samples
        return pyrun_testing.collect(self.write(name, source), keyword)

    def run_all(self, source, name=None):
        """Collect and run every test of a sample file: {test name: record}."""
        report = self.collect(source, name)
        self.assertIsNone(report["error"], report["error"])
        return {t["name"]: pyrun_testing.run(t["id"]) for t in report["tests"]}

    def run_one(self, source):
        """The record of the only test in a sample file."""
        (record,) = self.run_all(source).values()
        return record
