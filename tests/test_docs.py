"""The README and docs/ as a user meets them.

Every shell command shown in a ```bash or ```sh block of README.md or docs/*.md is either run here
(RUN: it must exit 0) or listed in SKIPPED with the reason it is not; a command in neither fails,
and so does an entry that no page shows any more. The skipped `reenact` commands still go through
the real argument parser, so a renamed option fails here too. Also checked: every fence says its
language (a command cannot hide in an unlabelled one), relative links and their #anchors resolve,
`.ci/run` runs the README's test command, and the README's command table names every subcommand.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))
SHELL_LANGUAGES = ("bash", "sh")
FENCE = re.compile(r"^```(?P<language>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")
MAX_PICTURE_BYTES = 300_000


@dataclass(frozen=True)
class Run:
    """How a command of the docs runs here.

    where: "repo" (commands that only read, run in the checkout) or "work" (a temporary folder
        holding the inputs the `work` fixture makes).
    instead: a shell command run in its place, where the one shown cannot run as it is (the
        reason is `why`); {work} is the temporary folder.
    """

    where: str
    instead: str | None = None
    why: str = ""
    needs: str | None = None  # a module without which it cannot run (the test then skips)


README_FIRST_VIDEO = ('python3 -m pip install torch==2.13.0 -e ".[onnx,demo]" && python3 '
                      'samples/make_samples.py && reenact animate --source samples/astronaut.png '
                      '--driving samples/interview.mp4 -o astronaut.mp4')
README_TESTS = ('bash tools/install_chromium.sh && python3 -m pip install -q torch==2.13.0 -e '
                '".[test,onnx,batch,ui,demo,words]" && python3 -m pytest -q')

RUN: dict[str, Run] = {
    README_FIRST_VIDEO: Run(
        "repo", needs="skimage",
        instead=("python3 samples/make_samples.py {work}/samples && reenact animate --source "
                 "{work}/samples/astronaut.png --driving samples/interview.mp4 "
                 "-o {work}/astronaut.mp4 --max-frames 8"),
        why="the pip install needs the network and the package under test is already importable; "
            "the samples go to a temporary folder, not the checkout; 8 of the 85 frames"),
    "reenact --help": Run("work"),
    "reenact animate --help": Run("work"),
    "reenact info checkpoints/default": Run("repo"),
    "reenact presets": Run("repo"),
    "reenact verify out.mp4 other.mp4 photo.png": Run("work"),
    "reenact verify docs/first-video.png": Run("repo"),
}

NEEDS_VOX = "needs the released vox-256 weights (vox-cpk.pth.tar and its yaml), not shipped here"
NEEDS_VIDEOS = ("needs a folder of talking-head videos and minutes to hours of CPU; "
                "tests/training/ runs prepare-data, train and train-audio on generated clips")
SKIPPED: dict[str, str] = {
    README_TESTS: "the whole test suite, this test included; .ci/run runs it (checked below)",
    "reenact animate --source photo.jpg --driving video.mp4 -o out.mp4":
        "the README's first command is this one on the sample files, and it runs (shortened)",
    "reenact talk --source photo.jpg --audio speech.wav -o talking.mp4":
        "about 9 s even for 4 frames (torch, dlib and both models start up); "
        "tests/pipelines/test_talk.py renders talk with tiny models",
    "reenact dub --video clip.mp4 --audio new_speech.mp3 -o dubbed.mp4":
        "about 16 s even for 4 frames (it reads the whole video for its rest face); "
        "tests/pipelines/test_dub.py renders dub with tiny models",
    "reenact batch jobs.jsonl -o renders/":
        "needs a job file and its inputs; tests/pipelines/test_batch.py runs 6 jobs",
    "reenact batch jobs.csv -o renders/ --ray":
        "starts a Ray runtime; tests/pipelines/test_batch.py runs 6 jobs on a local Ray",
    "reenact batch jobs.csv -o renders/ --ray auto": "needs a running Ray cluster",
    "reenact batch jobs.csv -o renders/ --ray ray://head:10001 --workers 32":
        "needs a Ray cluster's head node",
    "reenact convert vox-cpk.pth.tar --config vox-256.yaml -o checkpoints/vox-256": NEEDS_VOX,
    "reenact export-onnx checkpoints/vox-256 -o exports/vox-256": NEEDS_VOX,
    "reenact animate --backend onnx --checkpoint exports/vox-256 --source photo.jpg "
    "--driving video.mp4 -o out.mp4": NEEDS_VOX,
    "python benchmarks/inference_speed.py --presets vox-256 fast-256 fast-128 --threads 2 "
    "--json speed.json": "a benchmark, minutes of CPU; tests/engine/ tests the backends it times",
    "git clone https://github.com/AliaksandrSiarohin/first-order-model /tmp/fomm-ref":
        "needs the network",
    "python benchmarks/reference_exactness.py --reference /tmp/fomm-ref --frames 8 --threads 2":
        "needs the reference checkout (the network); tests/engine/test_reference_exactness.py",
    "python benchmarks/reference_animate.py --reference /tmp/fomm-ref --frames 24 --rounds 3":
        "needs the reference checkout (the network) and ~25 minutes of CPU; "
        "tests/engine/test_reference_animate.py",
    "python benchmarks/animate_speed.py --portrait-side 256 --frames 40 --variants default "
    "no-fast-conv --model-only": "a benchmark, minutes of CPU in whole `reenact animate` runs",
    "reenact prepare-data VIDEOS_DIR -o data --preset face-128 [--exclude eval] "
    "[--detect-every 2]": NEEDS_VIDEOS,
    "reenact train --data data -o runs/mine --preset face-128 --steps 5000 "
    "[--init CHECKPOINT]": NEEDS_VIDEOS,
    "reenact evaluate runs/mine/checkpoint --data HELD_OUT_VIDEOS_DIR [--sheet sheet.png] "
    "[--json scores.json]": "needs a trained run and held-out videos (../shared/media/eval here)",
    "reenact train-audio --data DIR_OF_TALKING_VIDEOS --checkpoint MOTION_CHECKPOINT "
    "-o runs/audio": NEEDS_VIDEOS,
    "reenact talk --source photo.jpg --audio speech.wav -o out.mp4 --checkpoint "
    "MOTION_CHECKPOINT --audio-checkpoint runs/audio/audio-checkpoint":
        "needs a trained motion and audio model (train-audio above)",
    'python3 -m pip install -e ".[ui]" && reenact ui':
        "the pip install needs the network, and the server runs until stopped; "
        "tests/ui/test_browser.py drives `reenact ui` in headless Chromium",
}


def fences(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block of Markdown text."""
    return [(match["language"].strip(), match["body"]) for match in FENCE.finditer(text)]


def shell_commands(body: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments and blanks dropped,
    whitespace runs made single."""
    commands = []
    for line in body.replace("\\\n", " ").splitlines():
        line = re.sub(r"\s+#(\s.*)?$", "", line).strip()  # a trailing "  # comment"
        if line and not line.startswith("#"):
            commands.append(" ".join(line.split()))
    return commands


def documented_commands() -> dict[str, str]:
    """Each shell command of the docs -> the first page showing it."""
    found: dict[str, str] = {}
    for page in PAGES:
        for language, body in fences(page.read_text()):
            if language in SHELL_LANGUAGES:
                for command in shell_commands(body):
                    found.setdefault(command, page.relative_to(REPO).as_posix())
    return found


DOCUMENTED = documented_commands()


def test_every_command_shown_is_run_or_skipped_with_a_reason():
    assert set(RUN).isdisjoint(SKIPPED)
    unlisted = sorted(f"{page}: {command}" for command, page in DOCUMENTED.items()
                      if command not in RUN and command not in SKIPPED)
    assert not unlisted, "commands in the docs that this test neither runs nor skips:\n" + \
        "\n".join(unlisted)
    stale = sorted((set(RUN) | set(SKIPPED)) - set(DOCUMENTED))
    assert not stale, "listed here but shown on no page any more:\n" + "\n".join(stale)
    assert all(reason.strip() for reason in SKIPPED.values())


def test_every_fence_says_its_language():
    unlabelled = [page.relative_to(REPO).as_posix() for page in PAGES
                  for language, _ in fences(page.read_text()) if not language]
    assert not unlabelled, f"fenced blocks without a language in {sorted(set(unlabelled))}"


def _reenact_arguments(command: str) -> list[list[str]]:
    """The arguments of each `reenact ...` part of a command chained with &&, with the optional
    parts shown in [brackets] written out."""
    parts = []
    for part in command.split("&&"):
        words = shlex.split(part)
        if words and words[0] == "reenact":
            parts.append([word.strip("[]") for word in words[1:]])
    return parts


def test_skipped_reenact_commands_parse():
    from reenact.cli.parser import build_parser

    refused = []
    for command in SKIPPED:
        for arguments in _reenact_arguments(command):
            errors = io.StringIO()
            try:
                with contextlib.redirect_stderr(errors):
                    build_parser().parse_args(arguments)
            except SystemExit:
                refused.append(f"{command}\n    {errors.getvalue().strip().splitlines()[-1]}")
    assert not refused, "the parser refuses commands the docs show:\n" + "\n".join(refused)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the inputs the docs' placeholder names stand for: a marked video with its
    manifest (out.mp4), a copy of it (other.mp4) and a marked image (photo.png)."""
    from reenact.provenance.manifest import write_manifest
    from reenact.provenance.record import Provenance
    from reenact.provenance.writers import MarkedVideoWriter, write_marked_image

    folder = tmp_path_factory.mktemp("docs")
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (60, 80, 3)).repeat(4, axis=0).repeat(4, axis=1)  # (240, 320, 3)
    frames = np.stack([np.roll(texture, 2 * t, axis=1) for t in range(30)]).astype(np.uint8)
    provenance = Provenance.new(model={"name": "test"})
    with MarkedVideoWriter(folder / "out.mp4", Fraction(25), 320, 240,
                           provenance=provenance) as writer:
        writer.write_batch(frames)
    write_manifest(folder / "out.mp4", provenance)
    shutil.copy2(folder / "out.mp4", folder / "other.mp4")
    write_marked_image(folder / "photo.png", frames[0])
    return folder


def _shims(folder: Path) -> dict[str, str]:
    """The environment the docs' commands run in: `reenact`, `python` and `python3` mean this
    interpreter and this checkout's package, whatever is installed."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, target in (("reenact", f'"{sys.executable}" -m reenact.cli'),
                         ("python3", f'"{sys.executable}"'), ("python", f'"{sys.executable}"')):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {target} "$@"\n')
        shim.chmod(0o755)
    source = str(REPO / "src")
    path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": path}


@pytest.mark.parametrize("command", sorted(RUN), ids=lambda command: command[:60])
def test_documented_command_runs(command: str, work: Path):
    run = RUN[command]
    if run.needs is not None and importlib.util.find_spec(run.needs) is None:
        pytest.skip(f"{run.needs} is not installed, which `{command[:40]}...` needs")
    script = (run.instead or command).format(work=work)
    result = subprocess.run(["bash", "-c", script], cwd=REPO if run.where == "repo" else work,
                            env=_shims(work), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, (f"{script}\nexited {result.returncode}:\n"
                                    f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")


def _block_after(page: Path, heading: str) -> list[str]:
    """The commands of the first shell block under `heading`."""
    section = page.read_text().split(f"\n{heading}\n", 1)[1]
    language, body = fences(section)[0]
    assert language in SHELL_LANGUAGES
    return shell_commands(body)


def test_readme_shows_the_two_commands_and_ci_runs_the_test_command():
    readme = REPO / "README.md"
    assert _block_after(readme, "## Install and run") == [README_FIRST_VIDEO]
    assert _block_after(readme, "## Test") == [README_TESTS]
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert README_TESTS in ci, ".ci/run must run exactly the README's test command"


def test_readme_command_table_names_every_subcommand():
    import argparse

    from reenact.cli.parser import build_parser

    subcommands = next(action for action in build_parser()._actions
                       if isinstance(action, argparse._SubParsersAction)).choices
    table = re.findall(r"^\| `reenact ([a-z-]+)` \|", (REPO / "README.md").read_text(), re.MULTILINE)
    assert sorted(table) == sorted(subcommands)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_slug(match) for match in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def test_relative_links_and_anchors_resolve():
    broken = []
    for page in PAGES:
        for match in LINK.finditer(FENCE.sub("", page.read_text())):
            target = match["target"]
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not followed offline
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_readme_picture_is_small():
    """(That it is marked: `reenact verify docs/first-video.png` runs above.)"""
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (REPO / "README.md").read_text())
    assert pictures, "the README shows a picture"
    for picture in pictures:
        assert (REPO / picture).stat().st_size < MAX_PICTURE_BYTES, picture
