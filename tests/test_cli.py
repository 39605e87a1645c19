import json
import logging
import subprocess
import sys

from conftest import FOMM
from reenact.cli import main


def test_init_info_presets(tmp_path, capsys):
    assert main(["-q", "init", "--preset", "tiny-64", "-o", str(tmp_path / "t")]) == 0
    assert main(["info", str(tmp_path / "t")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["metadata"]["preset"] == "tiny-64" and info["numel"]["generator"] > 0
    assert main(["presets"]) == 0
    assert "vox-256" in capsys.readouterr().out


def test_convert_refuses_existing_output(tmp_path, caplog):
    (tmp_path / "out").mkdir()
    code = main(["convert", str(FOMM / "tiny-a.pth.tar"), "--config", str(FOMM / "tiny-a.yaml"),
                 "-o", str(tmp_path / "out")])
    assert code == 2
    assert "already exists (use --overwrite to replace it)" in caplog.text


def test_convert_missing_input(tmp_path, caplog):
    caplog.set_level(logging.ERROR)
    code = main(["convert", str(tmp_path / "nope.pth.tar"), "--config", str(FOMM / "tiny-a.yaml"),
                 "-o", str(tmp_path / "out")])
    assert code == 2
    assert "nope.pth.tar: checkpoint file not found" in caplog.text
    assert not (tmp_path / "out").exists()


def test_console_script_reports_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "reenact.cli", "convert", str(tmp_path / "x.pth.tar"),
                             "--config", str(tmp_path / "x.yaml"), "-o", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"ERROR reenact: {tmp_path / 'x.yaml'}: config file not found"]
