"""Audio as WhatsApp's voice notes: Ogg/Opus, the one format its apps show as a voice note (a waveform to play,
"recorded" rather than "attached"), as Evolution API's sendWhatsAppAudio and Whaticket's recorder send them.

A browser records WebM/Opus (Chrome's MediaRecorder knows no other), which WhatsApp does not take at all: its Opus
packets are copied into an Ogg file as they are, with no loss and in milliseconds. Any other audio (MP3, M4A,
WAV...) is decoded and encoded to Opus, mono, at 48 kHz: about a second of CPU for a three-minute song. FFmpeg's
libraries do both, through PyAV's wheel: nothing to install on the machine.
"""

from __future__ import annotations

import io
from pathlib import PurePath

import av

from wharf.media import ALLOWED_TYPES, MAX_BYTES, MediaRejected, check_media

VOICE_NOTE_TYPE = "audio/ogg"
VOICE_RATE = 48_000  # Opus's own rate
VOICE_BIT_RATE = 32_000  # WhatsApp's own voice notes are about this
LONGEST_SECONDS = 60 * 60  # 16 MB of low-rate audio could hold hours; nobody records an hour-long note
_WAV = lambda data: data.startswith(b"RIFF") and data[8:12] == b"WAVE"  # noqa: E731
# Recordings WhatsApp does not take as they are, each with what its first bytes look like: sent as voice notes
RECORDING_TYPES = {
    "audio/webm": lambda data: data.startswith(b"\x1a\x45\xdf\xa3"),  # Matroska's EBML header
    "audio/wav": _WAV, "audio/x-wav": _WAV, "audio/wave": _WAV,  # as browsers and Python's mimetypes name it
}
VOICE_SOURCE_TYPES = ALLOWED_TYPES | RECORDING_TYPES  # the types a file to send may come as
# FFmpeg's demuxer for each audio type: named, never guessed from the bytes, so that no file is read as a format
# that opens other files or URLs (a playlist)
DEMUXERS = {"audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/mp4": "mov", "audio/aac": "aac", "audio/amr": "amr",
            "audio/webm": "matroska", "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav"}


def is_voice_note(mimetype: str | None) -> bool:
    """Whether WhatsApp shows audio of this type as a voice note (PTT) rather than as a file to play."""
    return mimetype == VOICE_NOTE_TYPE


def sendable_audio(data: bytes, mimetype: str, filename: str, as_voice_note: bool) -> tuple[bytes, str, str]:
    """The file, its type and its name as they go to WhatsApp: a voice note ("name.ogg") when one is asked for, or
    for a recording that WhatsApp does not take as it is; anything else as it is. `MediaRejected` for what cannot
    be a voice note."""
    if as_voice_note or mimetype in RECORDING_TYPES:
        return voice_note(data, mimetype), VOICE_NOTE_TYPE, f"{PurePath(filename).stem or 'voice-note'}.ogg"
    return data, mimetype, filename


def voice_note(data: bytes, mimetype: str) -> bytes:
    """The audio file as an Ogg/Opus voice note. `MediaRejected` for what is not audio of its type, cannot be read,
    or is longer than `LONGEST_SECONDS`."""
    if mimetype not in DEMUXERS:
        raise MediaRejected(f"a voice note is made of audio, not {mimetype}")
    check_media(data, mimetype, VOICE_SOURCE_TYPES)
    try:
        with av.open(io.BytesIO(data), "r", format=DEMUXERS[mimetype]) as source:
            sound = next((stream for stream in source.streams if stream.type == "audio"), None)
            if sound is None:
                raise MediaRejected("the file holds no sound")
            if source.duration is not None and source.duration / av.time_base > LONGEST_SECONDS:
                raise MediaRejected(f"a voice note lasts {LONGEST_SECONDS // 60} minutes at most")
            target = io.BytesIO()
            with av.open(target, "w", format="ogg") as ogg:
                if sound.codec_context.name == "opus":
                    copy_packets(source, sound, ogg)
                else:
                    encode(source, sound, ogg)
    except av.FFmpegError:
        raise MediaRejected(f"the sound cannot be read as {mimetype}") from None
    note = target.getvalue()
    if len(note) > MAX_BYTES:
        raise MediaRejected(f"the voice note would have {len(note)} bytes; the limit is {MAX_BYTES}")
    return note


def copy_packets(source: av.container.InputContainer, sound: av.audio.stream.AudioStream,
                 ogg: av.container.OutputContainer) -> None:
    stream = ogg.add_stream_from_template(sound)
    for packet in source.demux(sound):
        if packet.dts is None:  # the demuxer's last, empty packet
            continue
        packet.stream = stream
        ogg.mux(packet)


def encode(source: av.container.InputContainer, sound: av.audio.stream.AudioStream,
           ogg: av.container.OutputContainer) -> None:
    stream = ogg.add_stream("libopus", rate=VOICE_RATE, layout="mono")
    stream.bit_rate = VOICE_BIT_RATE
    resampler = av.AudioResampler(format=stream.codec_context.format, layout="mono", rate=VOICE_RATE,
                                  frame_size=stream.codec_context.frame_size)
    for frame in source.decode(sound):
        for resampled in resampler.resample(frame):
            ogg.mux(stream.encode(resampled))
    for resampled in resampler.resample(None):
        ogg.mux(stream.encode(resampled))
    ogg.mux(stream.encode(None))
