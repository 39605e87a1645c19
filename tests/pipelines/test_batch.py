"""`reenact batch`: 6 jobs (one broken) with tiny random models, here and on a local Ray of 2
workers, the same outputs; resume; the job file checked up front; the model loaded once."""

import json
import logging

import av
import numpy as np
import pytest
from speech_fixtures import synthetic_frames, tiny_audio_checkpoint, write_speech

from reenact.api import create_model
from reenact.checkpoint import save_checkpoint
from reenact.checkpoint.audio_format import save_audio_checkpoint
from reenact.cli import main
from reenact.cli.batch_jobs import JobFileError, read_jobs
from reenact.io import VideoWriter, write_image
from reenact.provenance.manifest import read_manifest

OUTPUTS = ["a1.mp4", "a2.mp4", "t1.mp4", "sub/t2.mp4", "d1.mp4", "broken.mp4"]


@pytest.fixture(scope="module")
def job_dir(tmp_path_factory):
    """Tiny models and inputs, and a JSONL and CSV job file of the same 6 jobs (the last one's
    audio is not audio)."""
    root = tmp_path_factory.mktemp("batch")
    motion = create_model("tiny-64", seed=0)
    save_checkpoint(motion, root / "motion")
    save_audio_checkpoint(tiny_audio_checkpoint(motion), root / "audio")
    write_image(root / "photo.png", synthetic_frames(1, (96, 96))[0])
    with VideoWriter(root / "driving.mp4", 25, 96, 96) as writer:
        for frame in synthetic_frames(4, (96, 96), seed=1):
            writer.write(frame)
    with VideoWriter(root / "video.mp4", 25, 128, 96) as writer:
        for frame in synthetic_frames(4, no_face=set(range(4)), seed=2):
            writer.write(frame)
    write_speech(root / "speech.wav", 0.16)
    (root / "noise.wav").write_bytes(b"not audio at all" * 10)
    model = {"checkpoint": "motion", "crop": "none"}
    speech = {"audio-checkpoint": "audio", "audio": "speech.wav", "max-frames": 3}
    rows = [
        {"job": "animate", "source": "photo.png", "driving": "driving.mp4", "output": "a1.mp4",
         "max-frames": 3, **model},
        {"job": "animate", "source": "photo.png", "driving": "driving.mp4", "output": "a2.mp4",
         "mode": "absolute", "max_frames": 2, **model},
        {"job": "talk", "source": "photo.png", "output": "t1.mp4", "no-idle": True, **speech, **model},
        {"job": "talk", "source": "photo.png", "output": "sub/t2.mp4", "seed": 3, **speech, **model},
        {"job": "dub", "video": "video.mp4", "audio": "speech.wav", "output": "d1.mp4",
         "checkpoint": "motion", "audio-checkpoint": "audio", "max-frames": 3},
        {"job": "talk", "source": "photo.png", "output": "broken.mp4", **speech, **model,
         "audio": "noise.wav"},
    ]
    # options are passed as given (only the inputs are read from the job file's folder)
    for row in rows:
        for key in ("checkpoint", "audio-checkpoint"):
            if key in row:
                row[key] = str(root / row[key])
    (root / "jobs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    columns = sorted({key for row in rows for key in row})
    lines = [",".join(columns)] + [",".join(str(row.get(key, "")).replace("True", "true")
                                            for key in columns) for row in rows]
    (root / "jobs.csv").write_text("\n".join(lines) + "\n")
    return root


def batch(*args):
    return main(["batch", "-q", *map(str, args)])


def report(outdir):
    return json.loads((outdir / "batch-report.json").read_text())


def frames_of(path):
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def check_six_jobs(outdir, caplog, broken_line):
    data = report(outdir)
    assert [job["status"] for job in data["jobs"]] == ["done"] * 5 + ["failed"]
    assert data["counts"] == {"done": 5, "skipped": 0, "failed": 1}
    broken = data["jobs"][5]
    assert broken["line"] == broken_line and "noise.wav" in broken["error"]
    assert "\n" not in broken["error"] and f"job on line {broken_line} failed" in caplog.text
    for name in OUTPUTS[:5]:
        assert (outdir / name).is_file() and read_manifest(outdir / name)["synthetic"] is True
    assert not (outdir / "broken.mp4").exists()
    assert not list(outdir.rglob(".*partial*"))


def test_six_jobs_here_and_on_ray_give_the_same_outputs(tmp_path, job_dir, caplog, capsys):
    caplog.set_level(logging.INFO)
    local = tmp_path / "local"
    assert batch(job_dir / "jobs.jsonl", "-o", local) == 1  # one job failed
    check_six_jobs(local, caplog, broken_line=6)
    table = capsys.readouterr().out
    assert "5 done, 0 skipped, 1 failed" in table and "sub/t2.mp4" not in table  # names only
    assert "t2.mp4" in table

    pytest.importorskip("ray", reason="--ray needs ray (pip install 'reenact[batch]')")
    caplog.clear()
    on_ray = tmp_path / "ray"
    assert batch(job_dir / "jobs.csv", "-o", on_ray, "--ray", "--workers", "2") == 1
    check_six_jobs(on_ray, caplog, broken_line=7)  # CSV: line 1 is the header
    assert report(on_ray)["runner"] == "ray (local)"
    for name in OUTPUTS[:5]:
        ours, theirs = read_manifest(local / name), read_manifest(on_ray / name)
        assert ours["inputs"] == theirs["inputs"] and ours["options"] == theirs["options"]
        assert ours["run_id"] != theirs["run_id"]
        a, b = frames_of(local / name), frames_of(on_ray / name)
        assert a.shape == b.shape
        # the same render, only the watermark (its run id) differs: ~40 dB PSNR measured; two
        # different renders (a1 vs a2) are ~20 dB apart
        mse = ((a.astype(float) - b.astype(float)) ** 2).mean()
        assert 10 * np.log10(255 ** 2 / mse) > 35, name


def test_resume_skips_complete_outputs_and_refuses_foreign_ones(tmp_path, job_dir, caplog):
    outdir = tmp_path / "out"
    assert batch(job_dir / "jobs.jsonl", "-o", outdir) == 1
    first = {name: (outdir / name).stat().st_mtime_ns for name in OUTPUTS[:5]}
    (outdir / "a2.mp4").unlink()  # as if interrupted before this one
    (outdir / "broken.mp4").write_bytes(b"someone else's file")
    assert batch(job_dir / "jobs.jsonl", "-o", outdir) == 1
    statuses = {job["output"].split("/")[-1]: job for job in report(outdir)["jobs"]}
    assert [statuses[n]["status"] for n in ("a1.mp4", "a2.mp4", "t1.mp4", "t2.mp4", "d1.mp4")] == \
        ["skipped", "done", "skipped", "skipped", "skipped"]
    assert "not a complete reenact output" in statuses["broken.mp4"]["error"]
    assert (outdir / "broken.mp4").read_bytes() == b"someone else's file"
    assert (outdir / "a1.mp4").stat().st_mtime_ns == first["a1.mp4"]


def test_the_model_is_loaded_once_per_checkpoint(tmp_path, job_dir, monkeypatch):
    from reenact.cli import backend

    loads = []
    original = backend._load_backend
    monkeypatch.setattr(backend, "_load_backend", lambda args: loads.append(1) or original(args))
    assert batch(job_dir / "jobs.jsonl", "-o", tmp_path / "out") == 1
    assert len(loads) == 1


def test_bad_rows_fail_the_batch_up_front_one_line_each(tmp_path, job_dir, caplog):
    jobs = job_dir / "bad.jsonl"
    jobs.write_text("\n".join([
        json.dumps({"job": "animate", "source": "photo.png", "driving": "driving.mp4",
                    "output": "ok.mp4"}),
        json.dumps({"job": "sing", "output": "x.mp4"}),
        json.dumps({"job": "talk", "source": "photo.png", "output": "y.mp4"}),
        "{not json",
    ]) + "\n")
    assert batch(jobs, "-o", tmp_path / "out") == 2
    assert "bad.jsonl:4: not JSON" in caplog.text
    caplog.clear()
    jobs.write_text("\n".join(json.dumps(row) for row in [
        {"job": "animate", "source": "photo.png", "driving": "driving.mp4", "output": "ok.mp4"},
        {"job": "sing", "output": "x.mp4"},
        {"job": "talk", "source": "photo.png", "output": "y.mp4"},
        {"job": "dub", "video": "v.mp4", "audio": "a.wav", "output": "../z.mp4"},
        {"job": "animate", "source": "p.png", "driving": "d.mp4", "output": "ok.mp4"},
        {"job": "animate", "source": "p.png", "driving": "d.mp4", "output": "c.mp4",
         "crop": "sideways"},
        {"job": "animate", "source": "p.png", "driving": "d.mp4", "output": "e.mp4",
         "colour": "red"},
        {"job": "dub", "video": "v.mp4", "audio": "a.wav", "output": "f.mov"},
    ]) + "\n")
    with pytest.raises(JobFileError) as error:
        read_jobs(jobs, tmp_path / "out")
    lines = str(error.value).splitlines()
    assert [line.split(":")[1] for line in lines] == ["2", "3", "4", "5", "6", "7", "8"]
    assert "job: expected one of animate, talk, dub, got 'sing'" in lines[0]
    assert "talk: missing audio" in lines[1]
    assert "expected a name inside OUTDIR" in lines[2]
    assert "output ok.mp4 is also line 1's" in lines[3]
    assert "argument --crop: invalid choice: 'sideways'" in lines[4]
    assert "colour: not an option of this command" in lines[5]
    assert "use a .mp4 name" in lines[6]
    assert batch(jobs, "-o", tmp_path / "out") == 2
    assert not (tmp_path / "out").exists()


def test_ray_missing_says_what_to_install(tmp_path, job_dir, caplog, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    assert batch(job_dir / "jobs.jsonl", "-o", tmp_path / "out", "--ray") == 2
    assert "--ray needs Ray: pip install 'reenact[batch]'" in caplog.text


def test_fast_conv_false_turns_the_default_off(tmp_path):
    """fast-conv is on by default: false in a job gives --no-fast-conv, not nothing."""
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(json.dumps({"job": "animate", "source": "p.png", "driving": "d.mp4",
                                          "output": f"{name}.mp4", "fast-conv": value})
                              for name, value in (("off", False), ("on", True))) + "\n")
    off, on = read_jobs(jobs, tmp_path / "out")
    assert "--no-fast-conv" in off.argv and "--fast-conv" not in off.argv
    assert "--fast-conv" in on.argv


def test_a_jobs_transcript_is_read_from_the_job_files_folder(tmp_path):
    jobs = tmp_path / "jobs" / "jobs.csv"
    jobs.parent.mkdir()
    jobs.write_text("job,video,audio,output,transcript\ndub,v.mp4,a.wav,o.mp4,scripts/o.txt\n")
    (job,) = read_jobs(jobs, tmp_path / "out")
    at = job.argv.index("--transcript")
    assert job.argv[at + 1] == str(tmp_path / "jobs" / "scripts" / "o.txt")
