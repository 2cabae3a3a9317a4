"""Several hosts sharing one PostgreSQL, on a network of namespaces made by the test itself.

A "database host" runs a private PostgreSQL cluster; two "GPU hosts" (gpu-a, gpu-b)
run ``i2v worker`` with the Ken Burns engine, slowed down like a diffusion model;
a "front-end host" runs ``i2v bot`` (against the fake Bot API) and ``i2v api``.
Each host has a host name of its own (a UTS namespace) and reaches the others
over a bridge, through 169.254.x.x link-local addresses that exist only there.

The story: jobs from both front ends spread across both GPU hosts; the cable of
the host running a bot job is pulled mid-job, its lease expires and the other host
finishes that job once; the cable goes back in, the cut-off host finds its lease
lost, throws its video away and keeps serving; ``i2v workers`` lists both hosts; no video reaches a chat twice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot_engines import slow_down
from bot_harness import ALICE, BORIS
from fake_bot_api import TOKEN, FakeBotApi
from i2v.jobs import Job, JobStatus
from i2v.store import JobStore, open_store_url
from netns import Network, netns_unavailable
from private_postgres import PrivatePostgres
from worker_harness import wait_for

_WHY_NOT = netns_unavailable()
if _WHY_NOT is not None and os.environ.get("I2V_REQUIRE_NETNS"):
    raise RuntimeError(f"I2V_REQUIRE_NETNS is set but the multi-host test cannot run: {_WHY_NOT}")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_WHY_NOT is not None, reason=_WHY_NOT or ""),
]

TESTS = Path(__file__).resolve().parent
API_TOKEN = "multihost-test-token-0123456789abcdef"
#: Each step of a job takes this long. Ken Burns reports one step per 8 frames, and a job
#: is 4 s at 8 fps: 4 steps, so a job runs long enough to be seen running and cut off.
STEP_SECONDS = 0.5
#: Short clocks, so a lost host is noticed within seconds.
LEASE_SECONDS = 3.0
HEARTBEAT_SECONDS = 0.5


class NamespacedPostgres(PrivatePostgres):
    """A private cluster whose server runs inside a network namespace."""

    def __init__(self, folder: Path, netns: str, host: str) -> None:
        super().__init__(folder, host=host, port=5432)
        self.netns = netns

    def init(self) -> None:
        """Make the cluster, and let every host of the test network in (trust, as in CI)."""
        super().init()
        subnet = self.host.rsplit(".", 1)[0] + ".0/24"
        with (self.data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
            hba.write(f"host all all {subnet} trust\n")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *command],
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
        )


class Hosts:
    """The processes of the story, each started in its host's namespace, all stopped at the end."""

    def __init__(self, net: Network, tmp: Path, database_url: str) -> None:
        self.net = net
        self.tmp = tmp
        self.database_url = database_url
        self.procs: list[subprocess.Popen[bytes]] = []

    def env(self, name: str, **extra: str) -> dict[str, str]:
        """The environment of an i2v process on host ``name``."""
        data_dir = self.tmp / name / "data"
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("I2V_")},
            "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path]),
            "I2V_DATA_DIR": str(data_dir),
            "I2V_DATABASE_URL": self.database_url,
            "I2V_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
            "I2V_WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "I2V_WAKEUP_SAFETY_POLL_SECONDS": "1",
            "I2V_RESOLUTION": "480p",
            "I2V_DURATION_SECONDS": "4",
            "I2V_FPS": "8",
            "I2V_LOG_LEVEL": "INFO",
            **extra,
        }

    def start(self, name: str, *command: str, **env: str) -> subprocess.Popen[bytes]:
        """Run ``i2v COMMAND`` on host ``name`` under the host name ``name``; log to NAME.log."""
        host = self.net.hosts[name]
        log = open(self.tmp / f"{name}-{command[0]}.log", "ab")  # noqa: SIM115 (closed with the process)
        python = f"{sys.executable} -m i2v {' '.join(command)}"
        proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                host.netns,
                "unshare",
                "--uts",
                "sh",
                "-c",
                f"hostname {name} && exec {python}",
            ],
            env=self.env(name, **env),
            cwd=self.tmp,
            stdout=log,
            stderr=log,
        )
        self.procs.append(proc)
        return proc

    def run(self, name: str, *command: str) -> str:
        """Run a short i2v command on host ``name``; return what it printed."""
        host = self.net.hosts[name]
        done = subprocess.run(
            ["ip", "netns", "exec", host.netns, sys.executable, "-m", "i2v", *command],
            env=self.env(name),
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def log(self, name: str, command: str) -> str:
        """What a process wrote to its log so far."""
        path = self.tmp / f"{name}-{command}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after a grace)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def net() -> Iterator[Network]:
    with Network() as network:
        for name in ("db", "gpu-a", "gpu-b", "front"):
            network.add_host(name)
        yield network


@pytest.fixture
def database(net: Network) -> Iterator[str]:
    db = net.hosts["db"]
    # A folder of its own in /tmp: the server runs as the postgres user, who cannot enter
    # pytest's root-only folders.
    folder = Path(tempfile.mkdtemp(prefix="i2v-pg-"))
    cluster = NamespacedPostgres(folder, db.netns, db.address)
    try:
        cluster.init()
        cluster.start()
        yield cluster.url
    finally:
        cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


def host_of(job: Job) -> str:
    """The host whose worker ran the job (worker ids start with the host name)."""
    assert job.worker_id is not None
    return job.worker_id.rsplit("-", 2)[0]


def test_jobs_spread_over_two_gpu_hosts_and_a_cut_off_host_loses_its_job_to_the_other_once(
    net: Network, database: str, tmp_path: Path, photo_bytes: bytes
) -> None:
    store: JobStore = open_store_url(database)  # migrates the schema once for every host
    hosts = Hosts(net, tmp_path, database)
    front = net.hosts["front"]
    api_url = f"http://{front.address}:8000"
    try:
        with FakeBotApi(host=net.address) as telegram:
            for gpu in ("gpu-a", "gpu-b"):
                slow_down(tmp_path / gpu / "data", STEP_SECONDS)
                hosts.start(
                    gpu,
                    "worker",
                    I2V_ENGINE="kenburns",
                    I2V_ENGINE_FACTORY="bot_engines:slow_kenburns",
                    I2V_STALL_TIMEOUT_SECONDS=str(6 * STEP_SECONDS),
                )
            hosts.start("front", "bot", I2V_TELEGRAM_TOKEN=TOKEN, I2V_TELEGRAM_API_URL=telegram.url)
            hosts.start(
                "front", "api", "--host", front.address, "--port", "8000", I2V_API_TOKEN=API_TOKEN
            )
            api = httpx.Client(
                base_url=api_url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30
            )

            def submit_by_api() -> str:
                response = api.post(
                    "/v1/jobs", files={"photo": ("coffee.png", photo_bytes, "image/png")}
                )
                assert response.status_code == 202, response.text
                return str(response.json()["id"])

            def bot_jobs() -> list[Job]:
                return store.list_jobs(source="telegram", limit=100, oldest_first=True)

            def all_done(count: int) -> list[Job] | None:
                jobs = store.list_jobs(limit=100, oldest_first=True)
                done = [j for j in jobs if j.status is JobStatus.SUCCEEDED]
                return done if len(jobs) == count and len(done) == count else None

            wait_for(
                lambda: sum(w.state.value == "idle" for w in store.list_workers()) == 2,
                timeout=90,
                what="both GPU hosts' workers to load the engine",
            )
            wait_for(lambda: _answers(api_url), timeout=60, what="the API on the front end")

            # 1. Jobs from both front ends spread across both GPU hosts.
            telegram.send_photo(ALICE, photo_bytes)
            telegram.send_photo(BORIS, photo_bytes)
            api_ids = [submit_by_api(), submit_by_api()]
            first = wait_for(lambda: all_done(4), timeout=90, what="the first four jobs")
            assert {j.spec.source for j in first} == {"telegram", "api"}
            assert {host_of(j) for j in first} == {"gpu-a", "gpu-b"}
            assert all(j.id in {f.id for f in first} for j in store.list_jobs(limit=100))
            assert set(api_ids) <= {j.id for j in first}
            wait_for(lambda: len(telegram.uploads()) == 2, timeout=60, what="two bot videos")

            # 2. The cable of the host running a bot job is pulled mid-job; the other host
            # finishes that job, once. (Which host claims it is the workers' race to win.)
            telegram.send_photo(ALICE, photo_bytes)
            telegram.send_photo(BORIS, photo_bytes)

            def running_bot_job() -> Job | None:
                for job in bot_jobs()[2:]:
                    if job.status is JobStatus.RUNNING and job.progress > 0.1:
                        return job
                return None

            cut = wait_for(running_bot_job, timeout=60, what="a bot job running on a GPU host")
            victim = host_of(cut)
            [other] = {"gpu-a", "gpu-b"} - {victim}
            net.cut(victim)
            rescued = wait_for(
                lambda: (j := store.get(cut.id)).status is JobStatus.SUCCEEDED and j,
                timeout=60,
                what=f"{other} to finish the job {victim} was cut off from",
            )
            assert host_of(rescued) == other
            assert rescued.attempts == 2
            wait_for(lambda: len(telegram.uploads()) == 4, timeout=60, what="four bot videos")

            # 3. The cable goes back in: the cut-off host finds its lease lost, drops its
            # video, and rejoins.
            net.restore(victim)
            wait_for(
                lambda: f"job {cut.id}: lease lost" in hosts.log(victim, "worker"),
                timeout=90,
                what=f"{victim} to notice it lost the job",
            )
            # Which host claims a job is a race; a rejoined host wins some of a few rounds.
            later: list[str] = []
            for _ in range(3):
                later += [submit_by_api() for _ in range(4)]
                expected = 6 + len(later)
                done = wait_for(
                    lambda n=expected: all_done(n), timeout=120, what="the jobs after the cut"
                )
                if victim in {host_of(j) for j in done if j.id in later}:
                    break
            assert victim in {host_of(j) for j in done if j.id in later}
            assert store.get(cut.id).worker_id == rescued.worker_id  # not overwritten by the victim

            # 4. `i2v workers` on the front end lists both GPU hosts, alive.
            listed = json.loads(hosts.run("front", "workers", "--json"))
            alive_hosts = {w["host"] for w in listed if w["alive"]}
            assert alive_hosts == {"gpu-a", "gpu-b"}, listed

            # 5. Every bot job reached its chat exactly once, the rescued one included.
            sent = [u for u in telegram.uploads()]
            assert len(sent) == len(bot_jobs()) == 4
            for job in bot_jobs():
                assert store.get(job.id).delivered
            per_chat = {ALICE.id: 0, BORIS.id: 0}
            for upload in sent:
                per_chat[upload.chat_id] += 1
            assert per_chat == {ALICE.id: 2, BORIS.id: 2}
            api.close()
    finally:
        hosts.stop()
        store.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code < 500
    except httpx.HTTPError:
        return False
