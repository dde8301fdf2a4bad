"""``chainrule demo`` run for real, in a subprocess: files written, seeds repeat, Ctrl-C saves what was trained."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import chainrule as cr

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "MPLBACKEND": "Agg"}


def demo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-W", "error", "-m", "chainrule", "demo", *args], capture_output=True,
                          text=True, timeout=timeout, env=ENV)


def test_demo_writes_the_model_and_both_pictures(tmp_path: Path) -> None:
    result = demo("--model", "mlp", "--epochs", "3", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "epoch  3/3" in result.stdout and "test accuracy" in result.stdout
    for name in ("model.safetensors", "training.png", "predictions.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    weights = cr.load(tmp_path / "model.safetensors")
    assert list(weights) == ["1.bias", "1.weight", "3.bias", "3.weight"]  # Sequential's names, sorted in the file
    assert weights["1.weight"].shape == (128, 64)


def test_same_seed_same_numbers_compiled_or_not(tmp_path: Path) -> None:
    runs = [demo("--model", "cnn", "--epochs", "1", "--seed", "3", "--quiet", "--out", str(tmp_path / name),
                 *(["--compile"] if name == "b" else []))
            for name in ("a", "b")]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout.split("(cnn)")[0] == runs[1].stdout.split("(cnn)")[0]
    a, b = (cr.load(tmp_path / name / "model.safetensors") for name in ("a", "b"))
    for key in a:
        np.testing.assert_array_equal(a[key].data, b[key].data)


def test_quiet_prints_only_the_result(tmp_path: Path) -> None:
    result = demo("--model", "mlp", "--epochs", "1", "--quiet", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().count("\n") == 0 and result.stdout.startswith("test accuracy")


def test_bad_options_exit_with_status_2() -> None:
    for args in (["--model", "resnet"], ["--epochs", "0"], ["--batch-size", "x"]):
        result = demo(*args)
        assert result.returncode == 2, args
        assert "error" in result.stderr


def test_ctrl_c_stops_cleanly_after_saving(tmp_path: Path) -> None:
    # a child inherits an ignored SIGINT (as under `cmd &` or some CI runners), and Python then installs no
    # KeyboardInterrupt handler: give the child SIGINT's default back, as a terminal's Ctrl-C would find it
    process = subprocess.Popen([sys.executable, "-m", "chainrule", "demo", "--model", "mlp", "--epochs", "500",
                                "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=ENV, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    for line in process.stdout:  # wait until an epoch has finished
        if line.startswith("epoch") or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "interrupted" in out and "test accuracy" in out
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "training.png").exists()


def test_progress_bars_only_on_a_terminal(tmp_path: Path) -> None:
    """Into a pipe or a log: no carriage-return bar updates, one summary line per epoch."""
    result = demo("--model", "mlp", "--epochs", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout and "\r" not in result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line[:10] for line in lines if line.startswith("epoch")] == ["epoch  1/2", "epoch  2/2"]
    assert len(lines) == 4  # the heading, two epochs, the result


def test_progress_bars_show_on_a_terminal(tmp_path: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios
    import threading

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # tqdm draws nothing 0 wide
    seen = bytearray()

    def drain() -> None:  # a full terminal buffer would block the demo
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        result = subprocess.run([sys.executable, "-W", "error", "-m", "chainrule", "demo", "--model", "mlp",
                                 "--epochs", "1", "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=terminal,
                                text=True, timeout=300, env=ENV)
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    assert result.returncode == 0
    assert b"\r" in seen and b"epoch  1/1" in seen and b"batch" in seen  # tqdm's bar, on the terminal only
    assert "\r" not in result.stdout


def test_an_output_folder_that_cannot_be_made_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    result = demo("--model", "mlp", "--epochs", "1", "--out", str(taken))
    assert result.returncode == 1
    assert result.stderr.startswith(f"chainrule demo: error: cannot write the results into {taken}: ")
    assert "Traceback" not in result.stderr
