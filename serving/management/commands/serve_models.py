"""Runs one engine process per published model (in-process transformers on the run's
files) and tells the gateway where each answers; keeps them running until stopped.

    python manage.py serve_models                   # every published model, from port 8100
    python manage.py serve_models --engine echo     # a trivial engine (demo, benchmarks)
"""

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from serving.models import ServedModel
from serving.services import engines

RESTART_AFTER_SECONDS = 5.0  # an engine that died is started again, at most this often


@dataclass
class Engine:
    model_id: int
    process: subprocess.Popen
    url: str
    started_at: float
    ready: bool = False


class Command(BaseCommand):
    help = "Starts and supervises an engine process for every published model."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--port", type=int, default=settings.SERVING_ENGINE_PORT, help="First port (0: any)."
        )
        parser.add_argument("--engine", choices=["transformers", "echo"], default="transformers")
        parser.add_argument("--poll", type=float, default=2.0, help="Seconds between checks.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.options = options
        self.running: dict[int, Engine] = {}
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            while not self.stopping:
                self._reconcile()
                time.sleep(options["poll"])
        finally:
            for engine in list(self.running.values()):
                self._end(engine)

    def _stop(self, *args: Any) -> None:
        self.stopping = True

    def _reconcile(self) -> None:
        wanted = {model.id: model for model in engines.managed_models()}
        for model_id, engine in list(self.running.items()):
            if model_id not in wanted or engine.process.poll() is not None:
                self._end(engine)
        for model_id, model in wanted.items():
            engine = self.running.get(model_id)
            if engine is None:
                self._start(model)
            elif not engine.ready and _answers(engine.url):
                engine.ready = True
                engines.set_engine_url(served_model_id=model_id, url=engine.url)
                self.stdout.write(f"{model.name}: engine ready at {engine.url}")

    def _start(self, model: ServedModel) -> None:
        last = getattr(self, "last_start", {}).get(model.id, 0.0)
        if time.monotonic() - last < RESTART_AFTER_SECONDS:
            return
        self.last_start = getattr(self, "last_start", {}) | {model.id: time.monotonic()}
        port = self._free_port()
        command = [
            sys.executable, "-m", "serving.engines.server",
            "--engine", self.options["engine"],
            "--kind", "reward" if model.kind == ServedModel.Kind.REWARD else "policy",
            "--model-dir", model.run.artifact_path,
            "--name", model.name,
            "--host", self.options["host"],
            "--port", str(port),
        ]  # fmt: skip
        process = subprocess.Popen(command, start_new_session=True)
        url = f"http://{self.options['host']}:{port}"
        self.running[model.id] = Engine(model.id, process, url, time.monotonic())
        self.stdout.write(f"{model.name}: starting an engine on {url}")

    def _end(self, engine: Engine) -> None:
        engines.clear_managed_engine_urls(urls=[engine.url])
        if engine.process.poll() is None:
            engine.process.terminate()
            try:
                engine.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                engine.process.kill()
                engine.process.wait(timeout=5)
        del self.running[engine.model_id]

    def _free_port(self) -> int:
        taken = {int(e.url.rsplit(":", 1)[1]) for e in self.running.values()}
        port = self.options["port"]
        if port == 0:  # any free port the system picks
            with socket.socket() as sock:
                sock.bind((self.options["host"], 0))
                return sock.getsockname()[1]
        for candidate in range(port, port + 1000):
            if candidate in taken:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind((self.options["host"], candidate))
                except OSError:
                    continue
                return candidate
        raise RuntimeError(f"no free port from {port}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
