"""Which of an endpoint's models can answer a chat: ``/v1/models`` also lists embedding, image, audio,
speech, transcription, moderation, realtime and legacy completion models, which a chat call refuses."""

from __future__ import annotations

import re

# A part of the id (between - _ . / : or at an end) that names a model for something else than chat.
_NOT_CHAT = re.compile(
    r"(?:^|[-_./:])(?:embed\w*|image|dall-e|tts|whisper|transcribe|audio|"
    r"moderation|realtime|sora|davinci|babbage|search-api)(?:$|[-_./:])",
    re.IGNORECASE,
)


def is_chat_model(model_id: str) -> bool:
    """True unless the id names an embedding, image, audio, speech, moderation, realtime or legacy model."""
    return _NOT_CHAT.search(model_id) is None


def chat_models(model_ids: list[str]) -> list[str]:
    """The ids of ``model_ids`` that can answer a chat, in order."""
    return [model_id for model_id in model_ids if is_chat_model(model_id)]
