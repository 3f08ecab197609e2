"""One catalogue for what people read: Chinese by default, English on request, kept in step with the code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import BadInputError, SigningKeyError, StoreError, VolumeError, explain
from pipeline.messages import say, use_language

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def chinese():
    use_language("zh_CN")
    yield
    use_language("zh_CN")


def test_the_catalogues_hold_every_message_the_code_says_and_their_compiled_files_are_current():
    from pipeline.messages.__main__ import problems

    assert problems() == []


def test_an_error_is_explained_chinese_first_with_what_to_do_and_the_detail_after(chinese):
    line = explain(BadInputError("009.jpg: page 1 cannot be decoded (truncated)", "009.jpg"))
    assert line.startswith("输入无法使用：请更正") and line.endswith("（BadInputError: 009.jpg: page 1 cannot be decoded "
                                                                  "(truncated)）")


@pytest.mark.parametrize("error, words", [
    (StoreError("the store at 127.0.0.1:1 did not answer"), "对象存储不可用"),
    (SigningKeyError("PKCS#12 file /k.p12 not found"), "签名密钥不可用"),
    (VolumeError("volume 1 failed", causes=(OSError(28, "No space left on device"),)), "磁盘已满"),
])
def test_a_fault_of_the_machine_is_explained_by_the_part_that_failed(chinese, error, words):
    assert explain(error).startswith(words)


def test_english_is_given_when_asked_for():
    use_language("en")
    try:
        assert say("waiting: object store unavailable") == "waiting: object store unavailable"
        assert explain(StoreError("down")).startswith("The object store is unavailable")
    finally:
        use_language("zh_CN")
    assert say("waiting: object store unavailable") == "等待：对象存储不可用"


def test_a_command_line_error_is_one_chinese_line_without_a_traceback_and_v_shows_the_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env.update({"PYTHONPATH": str(ROOT), "DOSSIER_HOME": str(tmp_path / "state"), "DOSSIER_WORKERS": "zero"})
    done = subprocess.run([sys.executable, "-m", "flows.cli", "store", "status"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 8 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("错误：配置无效") and "DOSSIER_WORKERS" in done.stderr
    verbose = subprocess.run([sys.executable, "-m", "flows.cli", "-v", "store", "status"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert verbose.returncode == 8 and "Traceback" in verbose.stderr


def test_the_version_is_printed(tmp_path):
    done = subprocess.run([sys.executable, "-m", "flows.cli", "--version"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and done.stdout.startswith("dossier (scan-to-dossier) ")


def test_no_third_party_warning_reaches_a_command(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "default"}
    done = subprocess.run([sys.executable, "-c", "import flows.cli, pyhanko.sign.signers"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert "DSA is deprecated" not in done.stderr
