"""The kernelspecs: shipped with pip install, and `linkis-jupyter install` for other places."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

VARIANTS = {
    "linkis-spark-sql": ("Linkis Spark SQL", "spark", "sql", "sql"),
    "linkis-pyspark": ("Linkis PySpark", "spark", "py", "python"),
    "linkis-spark-scala": ("Linkis Spark Scala", "spark", "scala", "scala"),
    "linkis-hive": ("Linkis Hive", "hive", "hql", "sql"),
    "linkis-python": ("Linkis Python", "python", "python", "python"),
    "linkis-shell": ("Linkis Shell", "shell", "shell", "bash"),
}


def test_pip_install_ships_every_kernelspec() -> None:
    specs = KernelSpecManager().get_all_specs()
    for name, (display, engine, run_type, language) in VARIANTS.items():
        spec = specs[name]["spec"]
        assert spec["display_name"] == display
        assert spec["language"] == language
        assert f"--LinkisKernel.engine={engine}" in spec["argv"]
        assert f"--LinkisKernel.run_type={run_type}" in spec["argv"]
        assert Path(specs[name]["resource_dir"], "logo-64x64.png").is_file()


def test_install_command_writes_an_absolute_interpreter(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "linkis_jupyter", "install", "--prefix", str(tmp_path)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert out.count("installed ") == len(VARIANTS)
    kernels = tmp_path / "share" / "jupyter" / "kernels"
    assert sorted(p.name for p in kernels.iterdir()) == sorted(VARIANTS)
    for name in VARIANTS:
        argv = json.loads((kernels / name / "kernel.json").read_text())["argv"]
        assert argv[0] == sys.executable and os.path.isabs(argv[0])
        assert (kernels / name / "logo-32x32.png").is_file()


def test_install_refuses_two_places(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "linkis_jupyter", "install", "--user", "--prefix", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr
    assert "Traceback" not in result.stderr
