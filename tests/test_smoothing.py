import pytest
import torch

from reenact.containers import Keypoints
from reenact.smoothing import KeypointSmoother, smoothed_batches, smoothing_sigma


def sequence(length=40, seed=0):
    generator = torch.Generator().manual_seed(seed)
    clean = torch.linspace(-0.5, 0.5, length).view(length, 1, 1).expand(length, 3, 2)
    noisy = clean + 0.02 * torch.randn(length, 3, 2, generator=generator)
    jacobian = torch.eye(2).expand(length, 3, 2, 2) + 0.05 * torch.randn(length, 3, 2, 2, generator=generator)
    return clean, Keypoints(noisy, jacobian)


def jitter(values):
    return (values[2:] - 2 * values[1:-1] + values[:-2]).abs().mean()


def test_reduces_jitter_and_streams_in_batches():
    clean, noisy = sequence()
    whole = KeypointSmoother(0.5)(noisy)
    assert whole.batch_size == 40
    streamed = KeypointSmoother(0.5)
    parts = [streamed.push(noisy[i:i + 7]) for i in range(0, 40, 7)] + [streamed.flush()]
    parts = Keypoints.cat([part for part in parts if part is not None])
    assert torch.allclose(whole.value, parts.value) and torch.allclose(whole.jacobian, parts.jacobian)
    assert jitter(whole.value) < 0.5 * jitter(noisy.value)
    assert jitter(whole.jacobian) < 0.5 * jitter(noisy.jacobian)


def test_a_steady_motion_is_not_delayed_and_the_ends_stay():
    # the causal filter this replaces put a moving point s / (1 - s) frames behind (a third of a
    # frame at 0.25); a centred kernel leaves a ramp where it is, up to its ends (point reflection)
    clean, noisy = sequence()
    smoothed = KeypointSmoother(0.25)(Keypoints(clean.clone()))
    assert KeypointSmoother(0.25).radius == 2 and smoothed.jacobian is None
    assert torch.allclose(smoothed.value, clean, atol=1e-6)
    # relative motion is measured from the first frame: it comes out as it went in, as the last
    out = KeypointSmoother(0.5)(noisy)
    assert torch.allclose(out.value[[0, -1]], noisy.value[[0, -1]], atol=1e-6)
    assert torch.allclose(out.jacobian[[0, -1]], noisy.jacobian[[0, -1]], atol=1e-6)
    assert not torch.allclose(out.value[1], noisy.value[1])


def test_sequences_shorter_than_the_kernel() -> None:
    _, noisy = sequence(3)
    for length in (1, 2, 3):  # radius 3: the reflections reuse the frames there are
        out = KeypointSmoother(0.5)(noisy[:length])
        assert out.batch_size == length and torch.isfinite(out.value).all()
    assert torch.allclose(KeypointSmoother(0.5)(noisy[:1]).value, noisy.value[:1])
    smoother = KeypointSmoother(0.5)
    assert smoother(noisy).batch_size == 3 and smoother(noisy[:2]).batch_size == 2  # reusable


def test_frames_come_back_radius_frames_late_and_all_at_the_end():
    _, noisy = sequence(10)
    smoother = KeypointSmoother(0.25)  # radius 2
    assert smoother.push(noisy[:1]) is None and smoother.push(noisy[1:2]) is None
    assert smoother.push(noisy[2:3]).batch_size == 1  # frame 0, once frame 2 is known
    assert smoother.push(noisy[3:10]).batch_size == 7
    assert smoother.flush().batch_size == 2 and smoother.flush() is None


def test_batches_are_cut_again_to_the_size_asked():
    _, noisy = sequence(23)
    batches = (noisy[i:i + 5] for i in range(0, 23, 5))
    out = list(smoothed_batches(batches, 0.25, 8))
    assert [b.batch_size for b in out] == [8, 8, 7]
    whole = KeypointSmoother(0.25)(noisy)
    assert torch.allclose(Keypoints.cat(out).value, whole.value)
    assert list(smoothed_batches(iter(()), 0.25, 8)) == []


def test_zero_strength_is_identity():
    _, noisy = sequence()
    out = KeypointSmoother(0)(noisy)
    assert torch.equal(out.value, noisy.value) and torch.equal(out.jacobian, noisy.jacobian)
    assert [b.batch_size for b in smoothed_batches([noisy[:5], noisy[5:9]], 0, 4)] == [4, 4, 1]


def test_it_removes_as_much_jitter_as_the_causal_filter_did():
    # white noise keeps (1 - s) / (1 + s) of its variance through out = s * out + (1 - s) * in
    assert smoothing_sigma(0) == 0 and KeypointSmoother(0).kernel == [1.0]
    for strength in (0.1, 0.25, 0.5, 0.9):
        kernel = torch.tensor(KeypointSmoother(strength).kernel)
        assert float((kernel ** 2).sum()) == pytest.approx((1 - strength) / (1 + strength), rel=1e-4)
    assert smoothing_sigma(0.25) == pytest.approx(0.524, abs=1e-3)
    noise = Keypoints(torch.randn(4000, 1, 2, generator=torch.Generator().manual_seed(1)))
    kept = KeypointSmoother(0.25)(noise).value[10:-10].var() / noise.value.var()
    assert float(kept) == pytest.approx(0.6, abs=0.05)


def test_bad_strength():
    with pytest.raises(ValueError, match=r"strength: expected a number in \[0, 1\), got 1"):
        KeypointSmoother(1)
