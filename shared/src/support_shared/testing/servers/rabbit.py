"""A throwaway RabbitMQ node: own name, ports, data dir and cookie; stop, crash, freeze."""
from __future__ import annotations

import itertools
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from ...messaging.connection import broker_reachable
from .common import ServerError, find_binary, free_port, port_open, tail

logger = logging.getLogger(__name__)

_counter = itertools.count(1)


class ThrowawayRabbit:
    """A RabbitMQ node of its own (name, ports, data dir, cookie); optional management plugin.

    The node runs as a child process group, so ``kill()`` is a real crash (SIGKILL to the VM),
    ``freeze()``/``thaw()`` a hung broker whose sockets stay open (only heartbeats notice), and
    ``stop_app()``/``start_app()`` a broker that closes every connection and refuses new ones.
    """

    def __init__(self, *, management: bool = False, timeout_s: float = 60.0,
                 cookie: str | None = None, conf: tuple[str, ...] = ()) -> None:
        """``cookie`` (the Erlang cookie) is shared by the nodes of a cluster; ``conf`` adds
        ``rabbitmq.conf`` lines."""
        lib = "/usr/lib/rabbitmq/bin"
        self.server = find_binary([f"{lib}/rabbitmq-server"], "rabbitmq-server")
        self.ctl = find_binary([f"{lib}/rabbitmqctl"], "rabbitmqctl")
        self.timeout_s = timeout_s
        self.node = f"rabbit_fault_{os.getpid()}_{next(_counter)}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.management_port = free_port() if management else None
        self.cookie = cookie or uuid.uuid4().hex.upper()
        self.extra_conf = conf
        self.base: Path | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    @property
    def management_url(self) -> str | None:
        if self.management_port is None:
            return None
        return f"http://guest:guest@127.0.0.1:{self.management_port}"

    @property
    def log_file(self) -> Path:
        assert self.base is not None, "not created"
        return self.base / "server.log"

    def create(self) -> None:
        base = self.base = Path(tempfile.mkdtemp(prefix="faults-rabbit-"))
        for sub in ("home", "mnesia", "log"):
            (base / sub).mkdir()
        cookie = base / "home" / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)
        plugins = "[rabbitmq_management]." if self.management_port else "[]."
        (base / "enabled_plugins").write_text(plugins + "\n")
        conf = [f"listeners.tcp.default = 127.0.0.1:{self.port}", "loopback_users = none",
                "disk_free_limit.absolute = 50MB", *self.extra_conf]
        if self.management_port:
            conf += [f"management.tcp.port = {self.management_port}",
                     "management.tcp.ip = 127.0.0.1"]
        (base / "rabbitmq.conf").write_text("\n".join(conf) + "\n")
        (base / "rabbitmq-env.conf").write_text("")

    def _env(self) -> dict[str, str]:
        assert self.base is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self.base / "home"),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.base / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.base / "log"),
            RABBITMQ_CONFIG_FILE=str(self.base / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.base / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(self.base / "rabbitmq-env.conf"),
            RABBITMQ_PID_FILE=str(self.base / "rabbit.pid"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def start(self) -> None:
        """Start the node (same data dir as before, so durable queues and messages survive)."""
        if self.base is None:
            self.create()
        if self.proc is not None and self.proc.poll() is None:
            return
        assert self.base is not None
        out = open(self.log_file, "ab")
        self.proc = subprocess.Popen([self.server], env=self._env(), stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.base, start_new_session=True)
        out.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise ServerError(f"RabbitMQ node {self.node} exited ({self.proc.returncode})"
                                  f"\n{tail(self.log_file)}")
            if port_open(self.port) and broker_reachable(self.url, timeout_s=2.0):
                if self.management_port is None or port_open(self.management_port):
                    return
            time.sleep(0.2)
        raise ServerError(f"RabbitMQ node {self.node} not ready after {self.timeout_s}s"
                          f"\n{tail(self.log_file)}")

    def ctl_command(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl -n <node> args...`` against this node only."""
        done = subprocess.run([self.ctl, "-n", self.node, *args], env=self._env(),
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise ServerError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr[-1500:]}")
        return done.stdout

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Graceful node stop (clients get connection.close), bounded; killed if it hangs."""
        if not self.running:
            return
        try:
            self.ctl_command("stop", timeout=self.timeout_s)
        except (ServerError, subprocess.TimeoutExpired) as exc:
            logger.warning("graceful stop of %s failed (%s); killing it", self.node, exc)
        self._wait_exit(self.timeout_s)

    def kill(self) -> None:
        """SIGKILL the whole node (a crash: clients see the sockets reset).

        On RabbitMQ 3.10 (Ra 2.2) a quorum queue declared a second or two before the crash
        can come back empty: its registration is not yet on disk (rabbitmq/ra#443, fixed in
        Ra 2.13 / RabbitMQ 3.13). Crash a node only after its queues have settled.
        """
        if self.proc is None:
            return
        self._signal(signal.SIGKILL)
        self._wait_exit(10)

    def freeze(self) -> None:
        """SIGSTOP the node: sockets stay open and nothing answers (a hung broker/partition)."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def stop_app(self) -> None:
        """Stop RabbitMQ inside a running VM: connections closed, port refused."""
        self.ctl_command("stop_app")

    def start_app(self) -> None:
        self.ctl_command("start_app")
        self._wait_ready()

    def restart(self) -> None:
        self.stop()
        self.start()

    def ensure_running(self) -> None:
        """Bring the node back whatever a test left it in (frozen, app stopped, killed)."""
        if self.running:
            self.thaw()
            if port_open(self.port):
                return
            try:
                self.ctl_command("start_app", timeout=self.timeout_s)
                self._wait_ready()
                return
            except (ServerError, subprocess.TimeoutExpired) as exc:
                logger.warning("node %s did not come back (%s); restarting it", self.node, exc)
                self.kill()
        self.start()

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _wait_exit(self, timeout: float) -> None:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        # The VM's helpers (erl_child_setup, inet_gethost) share the group: kill leftovers.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def destroy(self) -> None:
        try:
            if self.running:
                self.thaw()
                self.kill()
        finally:
            if self.base is not None:
                shutil.rmtree(self.base, ignore_errors=True)
                self.base = None

    def __enter__(self) -> "ThrowawayRabbit":
        try:
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()
