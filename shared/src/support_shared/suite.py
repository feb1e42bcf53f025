"""Start, watch and stop every process of the suite on one machine (``make run|up|down``, e2e tests).

``run`` keeps the processes in the foreground with prefixed output (Ctrl-C stops them all);
``up`` detaches them, logs to ``var/log/<name>.log``, records them in ``var/run/suite.json`` and
returns once the gateway reports every part healthy; ``down`` stops exactly what ``up`` recorded.
"""
from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .internal import TOKEN_ENV
from .manifest import SUITE

INTEGRATION_KEY_ENV = "INTEGRATION_SERVICE_CREDENTIALS_KEY"

logger = logging.getLogger(__name__)


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def gateway_url(env: dict[str, str] | None = None) -> str:
    env = env if env is not None else dict(os.environ)
    return f"http://127.0.0.1:{env.get('GATEWAY_PORT', '5000')}"


def migrate_all(env: dict[str, str]) -> None:
    for service in SUITE.with_schema:
        subprocess.run([_bin(service.name), "migrate"], env=env, check=True, timeout=120)


@dataclass
class Suite:
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    log_dir: Path | None = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self) -> None:
        for process in SUITE.processes:
            self.start_process(process.name)

    def start_process(self, name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start process ``name`` of the suite manifest (again, after ``kill``) in its own
        process group, with ``env`` instead of the suite's environment if given."""
        process = SUITE.process(name)
        service, command = process.service, process.command
        current = self.procs.get(name)
        if current is not None and current.poll() is None:
            raise RuntimeError(f"{name} is still running (pid {current.pid})")
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_dir / f"{name}.log", "ab") as out:
                proc = subprocess.Popen([_bin(service), command], env=env or self.env, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        else:
            proc = subprocess.Popen([_bin(service), command], env=env or self.env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            threading.Thread(target=_prefix, args=(name, proc), daemon=True).start()
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL, timeout: float = 10.0) -> None:
        """Send ``sig`` (default SIGKILL: no clean-up at all) to process ``name``'s group and
        wait until the process is gone."""
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=timeout)

    def restart(self, name: str, sig: int = signal.SIGKILL,
                env: dict[str, str] | None = None) -> subprocess.Popen:
        """Kill process ``name`` with ``sig`` and start it again (with ``env`` if given)."""
        self.kill(name, sig)
        return self.start_process(name, env)

    def dead(self) -> list[str]:
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def wait_healthy(self, timeout: float = 90.0) -> float:
        """Seconds until GET /api/health answers 200; raises if a process dies or time runs out."""
        started = time.monotonic()
        url = gateway_url(self.env) + "/api/health"
        last = "no answer"
        while time.monotonic() - started < timeout:
            if dead := self.dead():
                raise RuntimeError(f"processes exited during start-up: {', '.join(dead)}")
            try:
                resp = requests.get(url, timeout=3)
                if resp.status_code == 200:
                    return time.monotonic() - started
                last = resp.text[:500]
            except requests.RequestException as exc:
                last = str(exc)
            time.sleep(0.2)
        raise RuntimeError(f"suite not healthy after {timeout:.0f}s: {last}")

    def stop(self, grace: float = 20.0) -> None:
        stop_groups([p.pid for p in self.procs.values() if p.poll() is None], grace)
        for p in self.procs.values():
            p.wait(timeout=grace)


def _prefix(name: str, proc: subprocess.Popen) -> None:
    assert proc.stdout is not None
    for line in iter(proc.stdout.readline, b""):
        sys.stdout.write(f"{name:<19}| {line.decode(errors='replace')}")
        sys.stdout.flush()


def stop_groups(pids: list[int], grace: float = 20.0) -> None:
    """SIGTERM each process group, then SIGKILL whatever is left after ``grace`` seconds
    (longer than gunicorn's graceful timeout, which lets kept-alive connections finish), and
    return once every group is gone."""
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + grace
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _group_alive(pid)]
        time.sleep(0.1)
    for pid in alive:
        logger.warning("process group %s did not stop in %.0fs; killing it", pid, grace)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5.0
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _group_alive(pid)]
        time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    try:  # reap our own child so it does not linger as a zombie
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    return True


def _started_at(pid: int) -> str:
    """The process's start time in clock ticks since boot: with the pid, it names one process
    (a recycled pid has another), whatever the process exec'd since (gunicorn does)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def with_internal_token(env: dict[str, str], var: Path) -> dict[str, str]:
    """``env`` with ``INTERNAL_API_TOKEN``: its own if set, else the one in var/internal-token,
    written (owner-only) with a fresh random token on first start."""
    if env.get(TOKEN_ENV):
        return env
    path = var / "internal-token"
    token = path.read_text().strip() if path.exists() else ""
    if not token:
        token = secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
        logger.info("wrote a new internal credential to %s", path)
    return {**env, TOKEN_ENV: token}


def ensure_dev_key(env: dict[str, str], var: Path) -> None:
    """Tenant "default" and an admin key in var/dev-api-key (kept while it still works)."""
    subprocess.run([_bin("ticketctl"), "keys", "ensure-dev", "--file", str(var / "dev-api-key")],
                   env=env, check=True, timeout=60)


def ensure_operator_token(var: Path) -> str:
    """The suite operator's credential: ``var/operator-token`` (0600), made once."""
    path = var / "operator-token"
    if not path.exists() or not path.read_text().strip():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def ensure_integration_key(var: Path) -> str:
    """A local Fernet key for integration-service's secrets: ``var/integration-key`` (0600)."""
    path = var / "integration-key"
    if not path.exists() or not path.read_text().strip():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n")
    return path.read_text().strip()


def operator_env(var: Path) -> dict[str, str]:
    """This environment, with the operator credential (and integration-service's key) from
    ``var`` unless set."""
    env = dict(os.environ)
    if not env.get("GATEWAY_OPERATOR_TOKEN"):
        env["GATEWAY_OPERATOR_TOKEN"] = ensure_operator_token(var)
    if not env.get(INTEGRATION_KEY_ENV):
        env[INTEGRATION_KEY_ENV] = ensure_integration_key(var)
    return env


def _print_urls(env: dict[str, str]) -> None:
    base = gateway_url(env)
    print(f"\nTicket Triage Suite is up:\n  API gateway      {base}/api\n"
          f"  OpenAPI / docs   {base}/openapi.json  {base}/docs\n"
          f"  Health           {base}/api/health\n"
          f"  Dashboard        {base}/dashboard\n"
          f"  API key          var/dev-api-key (Authorization: Bearer $(cat var/dev-api-key))\n"
          f"  Operator         var/operator-token (X-Operator-Token: DLQs, queue depths)\n"
          f"  RabbitMQ console http://127.0.0.1:15672 (guest/guest)\n", flush=True)


def cmd_run(var: Path) -> int:
    suite = Suite(env=with_internal_token(operator_env(var), var))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    suite.start()
    try:
        took = suite.wait_healthy()
        ensure_dev_key(suite.env, var)
        _print_urls(suite.env)
        print(f"healthy after {took:.1f}s; Ctrl-C stops every process", flush=True)
        while not stop.wait(0.5):
            if dead := suite.dead():
                print(f"process exited: {', '.join(dead)}; stopping the suite", flush=True)
                return 1
        return 0
    finally:
        suite.stop()


def cmd_up(var: Path) -> int:
    state = var / "run" / "suite.json"
    if state.exists() and any(_started_at(p["pid"]) == p["started_at"]
                              for p in json.loads(state.read_text())):
        print("the suite is already up (make down first)")
        return 1
    suite = Suite(env=with_internal_token(operator_env(var), var), log_dir=var / "log")
    suite.start()
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps([{"name": n, "pid": p.pid, "started_at": _started_at(p.pid)}
                                 for n, p in suite.procs.items()], indent=1))
    try:
        took = suite.wait_healthy()
    except RuntimeError as exc:
        print(f"{exc}\nlogs: {var / 'log'}", file=sys.stderr)
        cmd_down(var)
        return 1
    ensure_dev_key(suite.env, var)
    _print_urls(suite.env)
    print(f"healthy after {took:.1f}s; logs in {var / 'log'}; `make down` stops it")
    return 0


def cmd_down(var: Path) -> int:
    state = var / "run" / "suite.json"
    if not state.exists():
        print("nothing to stop (no var/run/suite.json)")
        return 0
    ours = [p["pid"] for p in json.loads(state.read_text())
            if p.get("started_at") and _started_at(p["pid"]) == p["started_at"]]
    stop_groups(ours)
    state.unlink()
    print(f"stopped {len(ours)} processes")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="suite", description=__doc__)
    parser.add_argument("command", choices=["run", "up", "down", "migrate"])
    parser.add_argument("--var", type=Path, default=Path("var"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "migrate":
        migrate_all(dict(os.environ))
        sys.exit(0)
    commands = {"run": lambda: cmd_run(args.var), "up": lambda: cmd_up(args.var), "down": lambda: cmd_down(args.var)}
    sys.exit(commands[args.command]())


if __name__ == "__main__":
    main()
