"""Recording files for the simulator: real 16-bit PCM WAV bytes of a given length, built with `wave`.

The sound is a 440 Hz tone for half of every second and silence for the other half, so a player
(or a test) can tell a recording is not empty and how long it is.
"""

from __future__ import annotations

import io
import math
import struct
import wave

SAMPLE_RATE = 8000
MAX_SECONDS = 600.0


def _one_second(channels: int, sample_rate: int, frequency: float) -> bytes:
    """One second of interleaved frames: half a second of tone, then half a second of silence."""
    tone = sample_rate // 2
    amplitude = 8000
    samples = [
        int(amplitude * math.sin(2 * math.pi * frequency * n / sample_rate)) if n < tone else 0
        for n in range(sample_rate)
    ]
    frames = [value for value in samples for _ in range(channels)]
    return struct.pack(f"<{len(frames)}h", *frames)


def recording_wav(seconds: float, *, channels: int = 1, sample_rate: int = SAMPLE_RATE,
                  frequency: float = 440.0) -> bytes:
    """WAV bytes lasting ``seconds`` (capped at ten minutes) with ``channels`` 16-bit channels."""
    seconds = min(max(seconds, 0.0), MAX_SECONDS)
    frame_count = int(round(seconds * sample_rate))
    second = _one_second(channels, sample_rate, frequency)
    whole, rest = divmod(frame_count, sample_rate)
    frames = second * whole + second[: rest * channels * 2]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(frames)
    return buffer.getvalue()
