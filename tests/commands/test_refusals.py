"""Every command's bad input, from one table (neural_style/benchmarks/refusals.py, which also times them): exit
status 2, one line that says what is wrong, no traceback, and nothing written, before any work."""

import tempfile

import pytest

from neural_style.benchmarks.refusals import refusal_cases
from tests.helpers import refused

with tempfile.TemporaryDirectory() as _folder:
    NAMES = [case.name for case in refusal_cases(_folder)]


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_refused_in_one_line_before_any_work(name, tmp_path, capsys):
    case = next(case for case in refusal_cases(str(tmp_path)) if case.name == name)
    refused(capsys, case.argv, case.says, folder=case.output)
