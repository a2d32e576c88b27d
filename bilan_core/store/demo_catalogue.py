"""What the demo data is made of: the synthetic models, users, prompts, answers and comments.

The numbers (each model's share, quality, speed, tokens and error rate; the incident week) shape the
figures the Analytics page shows on demo data; ``demo_data`` draws rows from them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoModel:
    """How one synthetic model behaves."""

    name: str
    provider: str
    share: float
    quality: float
    ttft_ms: float
    ms_per_token: float
    prompt_tokens: float
    completion_tokens: float
    error_rate: float


DEMO_MODELS = (
    DemoModel("gpt-4o-mini", "api.openai.com", 0.34, 0.74, 380, 9, 420, 260, 0.015),
    DemoModel("gpt-4o", "api.openai.com", 0.22, 0.86, 520, 16, 450, 330, 0.010),
    DemoModel("gpt-4.1-mini", "api.openai.com", 0.20, 0.80, 410, 10, 430, 300, 0.012),
    DemoModel("gpt-4.1", "api.openai.com", 0.09, 0.88, 600, 18, 470, 360, 0.008),
    DemoModel("llama-3.1-8b", "localhost:11434", 0.15, 0.58, 240, 22, 400, 240, 0.045),
)
DEMO_USERS = ("alice", "bob", "chloe", "dmitri", "emma", "farid", "grace", "hugo", "ines", "jamal")
USER_WEIGHTS = (0.22, 0.16, 0.13, 0.11, 0.09, 0.08, 0.07, 0.06, 0.05, 0.03)
TEAM_SESSIONS = ("design-review", "support-eval", "sprint-42")
TEAM_SESSION_SHARE = 0.25
PROMPT_VERSIONS = ("v1", "v2", "v3")
VERSION_QUALITY = {"v1": -0.06, "v2": 0.0, "v3": 0.04}
SYSTEM_PROMPTS = {
    "v1": "You are a helpful assistant.",
    "v2": "You are a helpful assistant. Answer concisely and cite the relevant API.",
    "v3": "You are a senior engineer. Answer concisely, show code when useful, say when unsure.",
}
CANCEL_RATE = 0.02
# One model has a bad week (an "incident"), so the daily trust chart has something to show.
INCIDENT_MODEL = "gpt-4o-mini"
INCIDENT_DAYS_AGO = (27, 20)
INCIDENT_QUALITY_DROP = 0.25

TOPICS = (
    ("How do I reverse a list in Python?", "Use `items[::-1]` for a copy or `items.reverse()` in place."),
    ("Summarise the refund policy for a customer.", "Refunds are accepted within 30 days with a receipt."),
    (
        "Write a SQL query counting orders per day.",
        "SELECT date(created_at), count(*) FROM orders GROUP BY 1;",
    ),
    ("What does HTTP 429 mean?", "Too Many Requests: the client is rate limited; retry after a delay."),
    ("Translate 'good morning' into French.", "Bonjour."),
    ("Explain a p95 latency to a manager.", "95% of requests are faster than this; 5% are slower."),
    ("Draft a polite reply declining a meeting.", "Thank you for the invitation; I can't attend this time."),
    ("How do I read a CSV with pandas?", "Call `pandas.read_csv('file.csv')`; it returns a DataFrame."),
    ("What is the capital of Australia?", "Canberra."),
    ("Give three names for a coffee shop.", "Bean There, Grind House, The Daily Cup."),
    ("How do I undo the last git commit?", "`git reset --soft HEAD~1` keeps the changes staged."),
    (
        "Why is my React component rendering twice?",
        "StrictMode renders twice in development to find side effects.",
    ),
    ("Convert 72°F to Celsius.", "72°F is about 22.2°C."),
    (
        "What's the difference between TCP and UDP?",
        "TCP is reliable and ordered; UDP is connectionless and faster.",
    ),
    ("Write a regex for an email address.", r"A simple one: `^[^@\s]+@[^@\s]+\.[^@\s]+$`."),
    (
        "Explain what a Wilson interval is.",
        "A confidence interval for a proportion that behaves well at small n.",
    ),
)
WEAK_ANSWER_PREFIXES = (
    "I'm not sure, but possibly: ",
    "There are many ways to think about this. In general, ",
    "As an AI model I cannot be certain. ",
)
POSITIVE_COMMENTS = (
    "Clear and correct, thanks!",
    "Exactly what I needed.",
    "Good summary, saved me time.",
    "Helpful code example.",
    "Short and to the point.",
    "Nice, it even explained the edge case.",
)
NEGATIVE_COMMENTS = (
    "Wrong: that API was renamed in v2.",
    "Too long and it didn't answer the question.",
    "Hallucinated a function that doesn't exist.",
    "Missed the edge case with empty input.",
    "Outdated information.",
    "Tone is off for a customer reply.",
    "The <code> block was broken & unreadable.",
)
ERROR_TYPES = ("timeout", "rate_limit", "service_unavailable", "context_limit")
ERROR_MESSAGES = {
    "timeout": "The model did not answer in time.",
    "rate_limit": "API rate limit exceeded",
    "service_unavailable": "The provider is temporarily unavailable.",
    "context_limit": "The request is longer than the model's context.",
}
