"""Audio files made on the spot with FFmpeg's encoders (PyAV): a tone of some seconds in a container and codec, as
a phone, a browser or a sound editor would save it."""

from __future__ import annotations

import io
import math
import struct

import av


def tone(container: str, codec: str, *, seconds: float = 3.0, rate: int = 48_000, layout: str = "mono") -> bytes:
    """A 440 Hz tone, `seconds` long, encoded with `codec` in `container` (FFmpeg's names: "webm", "libopus")."""
    channels = 1 if layout == "mono" else 2
    out = io.BytesIO()
    with av.open(out, "w", format=container) as file:
        stream = file.add_stream(codec, rate=rate, layout=layout)
        size = stream.codec_context.frame_size or 1024
        for start in range(0, int(rate * seconds), size):
            frame = av.AudioFrame(format="s16", layout=layout, samples=size)
            frame.planes[0].update(b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * (start + i) / rate))) * channels
                for i in range(size)))
            frame.sample_rate, frame.pts = rate, start
            file.mux(stream.encode(frame))
        file.mux(stream.encode(None))
    return out.getvalue()


def sound_of(data: bytes) -> tuple[str, str, int, int, float]:
    """(container, codec, channels, rate, seconds) of an audio file, as FFmpeg reads it."""
    with av.open(io.BytesIO(data)) as file:
        sound = file.streams.audio[0]
        return (file.format.name, sound.codec_context.name, sound.codec_context.layout.nb_channels, sound.rate,
                file.duration / av.time_base)
