"""Counts read as English: "1 trial", "5 trials", sizes in the unit that suits them."""

from __future__ import annotations

from simframe.wording import counted, size

from .conftest import TOY_SCENARIO, invoke


def test_counts_and_sizes():
    assert counted(1, "trial") == "1 trial"
    assert counted(0, "trial") == "0 trials"
    assert counted(12000, "simulation") == "12,000 simulations"
    assert counted("20 to 100", "trial") == "20 to 100 trials"
    assert counted(1, "UE", "UEs") == "1 UE"
    assert [size(b) for b in (0, 500, 1536, 150 * 2**20, 3 * 2**30)] == [
        "0 B", "500 B", "1.5 KiB", "150 MiB", "3 GiB",
    ]  # fmt: skip


def test_validate_counts_in_english(tmp_path):
    text = TOY_SCENARIO.replace("trials = 6", "trials = 1")
    text = text[: text.index("[variants.one_watt]")]
    path = tmp_path / "one.toml"
    path.write_text(text)
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output
    assert "1 variant (default); 1 trial = 3 simulations in blocks of 1 trial" in result.output
    assert "MiB" not in result.output  # the toy system estimates no memory: none is claimed
