"""Shared fixtures. Lab tests need root (namespaces); they are marked `lab`."""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches in ./.hypothesis from import time on; every generator test in the
# suite uses this temporary home instead, so a run leaves the tree clean.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="labkit-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)


@pytest.fixture(scope="session", autouse=True)
def _hypothesis_home():
    yield
    set_hypothesis_home_dir(None)
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)



def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="lab tests need root for network namespaces")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)
