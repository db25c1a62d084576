"""Label every response in a JSONL file with the refusal classifier and the prompt's category."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from auditcore.detection.category import CategoryClassifier
from auditcore.selectors.detection import response_classifier
from auditcore.selectors.policy import current_category_specs


def _prompt_and_context(record: dict, prompt_field: str) -> tuple[str | None, list[str]]:
    """The prompt, plus earlier user turns when the record carries chat messages."""
    prompt = record.get(prompt_field)
    messages = record.get("messages")
    turns = []
    if isinstance(messages, list):
        turns = [
            m["content"]
            for m in messages
            if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str)
        ]
    if isinstance(prompt, str):
        return prompt, turns[:-1] if turns and turns[-1] == prompt else turns
    if turns:
        return turns[-1], turns[:-1]
    return None, []


class Command(BaseCommand):
    help = "Copy each JSONL line to OUTPUT with refusal_label, refusal_score, category, …"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", type=Path)
        parser.add_argument("output", type=Path)
        parser.add_argument("--prompt-field", default="prompt")
        parser.add_argument("--response-field", default="response")

    def handle(self, *args, input: Path, output: Path, **options) -> None:
        prompt_field, response_field = options["prompt_field"], options["response_field"]
        categories = CategoryClassifier(current_category_specs())
        classify = response_classifier().classify
        done = errors = 0
        with (
            input.open(encoding="utf-8", errors="replace") as src,
            output.open("w", encoding="utf-8") as dst,
        ):
            for number, line in enumerate(src, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise ValueError("line is not a JSON object")
                    response = record.get(response_field)
                    if not isinstance(response, str):
                        raise ValueError(f"field {response_field!r} is missing or not a string")
                except ValueError as error:
                    errors += 1
                    self.stderr.write(f"line {number}: {error}")
                    dst.write(json.dumps({"line": number, "error": str(error)}) + "\n")
                    continue
                prompt, context = _prompt_and_context(record, prompt_field)
                verdict = classify(response, prompt)
                category = categories.classify(prompt or "", context)
                record.update(
                    refusal_label=verdict.label,
                    refusal_score=verdict.score,
                    category=category.slug,
                    category_score=category.score,
                    detector_version=verdict.detector_version,
                )
                dst.write(json.dumps(record, ensure_ascii=False) + "\n")
                done += 1
        self.stdout.write(f"classified {done} responses, {errors} malformed lines")
