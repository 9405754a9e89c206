"""A real single-node SLURM for the tests: Debian's slurm-wlm and munge, daemons started and stopped here.

Facts this relies on (tooling.md section 2): SLURM 22.05 from Debian runs as root with proctrack/linuxproc,
task/none and no accounting; with accounting off, job states come from squeue, which keeps finished jobs for
MinJobAge seconds (7200 here: the whole CI workflow's jobs must still be listed when it ends, also on a loaded
machine, where 600 s lost the first ones). Everything the daemons write (state, spool, logs, pid files) lives in
one temporary folder, and the config goes to /etc/slurm/slurm.conf, where the Debian clients look for it (the
SLURM executor's job step drops SLURM_* variables such as SLURM_CONF before its nested srun, so the default path
is the one that works inside jobs). It is removed again afterwards; a slurm.conf that was there before is never
touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
CONF = Path("/etc/slurm/slurm.conf")
MARK = "# written by the ebipla tests (tests/local_slurm.py); removed when they finish\n"
DAEMONS = ("munged", "slurmctld", "slurmd")


def unavailable_reason() -> str | None:
    """Why a local SLURM cannot be set up here, or None when it can."""
    if os.geteuid() != 0:
        return "starting munged, slurmctld and slurmd needs root, and this test runs as an ordinary user"
    if CONF.exists() and not CONF.read_text().startswith(MARK):
        return f"{CONF} already exists (a real SLURM installation?); the test will not replace it"
    if all(shutil.which(d) for d in DAEMONS):
        return None
    if shutil.which("apt-get") is None:
        return "the SLURM daemons are not installed and apt-get is missing to install slurm-wlm and munge"
    return None


def install() -> None:
    """apt-get install slurm-wlm munge, unless the daemons are already there."""
    if all(shutil.which(d) for d in DAEMONS):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES], check=True, env=env, capture_output=True)


def _memory_mb() -> int:
    with open("/proc/meminfo") as f:
        kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    return kb // 1024 - 1024  # leave some for the system


def write_config(root: Path) -> Path:
    host = socket.gethostname().split(".")[0]
    for sub in ("state", "spool", "log", "run"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    CONF.parent.mkdir(parents=True, exist_ok=True)
    CONF.write_text(MARK + f"""ClusterName=ebipla-test
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={root / "state"}
SlurmdSpoolDir={root / "spool"}
SlurmctldPidFile={root / "run" / "slurmctld.pid"}
SlurmdPidFile={root / "run" / "slurmd.pid"}
SlurmctldLogFile={root / "log" / "slurmctld.log"}
SlurmdLogFile={root / "log" / "slurmd.log"}
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MinJobAge=7200
ReturnToService=2
NodeName={host} CPUs={os.cpu_count()} RealMemory={_memory_mb()} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
    return CONF


def _start_munge() -> subprocess.Popen | None:
    """munged as user munge (its key comes with the Debian package); None when one already answers."""
    if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
        return None
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(run_dir, "munge", "munge")
    if not Path("/etc/munge/munge.key").exists():
        subprocess.run(["runuser", "-u", "munge", "--", "mungekey", "-c"], check=True)
    proc = subprocess.Popen(["runuser", "-u", "munge", "--", "munged", "--foreground"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(lambda: subprocess.run(["munge", "-n"], capture_output=True).returncode == 0, "munged")
    return proc


def _wait(ready, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


@contextmanager
def local_slurm(root: Path) -> Iterator[dict[str, str]]:
    """Start munged (if needed), slurmctld and slurmd; yield the environment for SLURM clients; stop them."""
    env = dict(os.environ)
    procs: list[subprocess.Popen] = []
    try:
        conf = write_config(root)
        munge = _start_munge()
        if munge is not None:
            procs.append(munge)
        for cmd in (["slurmctld", "-D", "-i", "-f", str(conf)], ["slurmd", "-D", "-f", str(conf)]):
            with open(root / "log" / f"{cmd[0]}.out", "wb") as out:
                procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT))

        def idle() -> bool:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
            return out.returncode == 0 and out.stdout.strip() in ("idle", "mixed")

        _wait(idle, "the SLURM node")
        yield env
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if CONF.exists() and CONF.read_text().startswith(MARK):
            CONF.unlink()
