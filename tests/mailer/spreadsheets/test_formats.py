"""Formula neutralising for exports, and its undoing on import."""

import pytest

from mailer.spreadsheets.formats import neutralised_cell, restored_cell

EVIL = '=HYPERLINK("http://evil","x")'


@pytest.mark.parametrize("value", [EVIL, "+7 999", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"])
def test_a_cell_that_would_run_gets_an_apostrophe_and_loses_it_on_import(value):
    assert neutralised_cell(value) == "'" + value
    assert restored_cell(neutralised_cell(value)) == value


@pytest.mark.parametrize("value", ["Анна", "'quoted", "", None, 42, -5, "a=b"])
def test_other_cells_are_left_as_they_are(value):
    assert neutralised_cell(value) == value
    assert restored_cell(value) == value
