"""Generate the committed JSON Schemas: `python -m telesales_contracts.schemas [--check]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .topics import ALL_TOPICS, Topic

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def schema_for(topic: Topic) -> dict:
    schema = topic.event_model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:telesales:schema:{topic.name}"
    schema["title"] = topic.name
    schema["description"] = topic.description
    # The CloudEvents `type` of a topic is fixed: say so in the schema so validators catch mix-ups. Readers are
    # more tolerant than this (Topic.accepts_type): the description says how.
    schema["properties"]["type"] = {
        "const": topic.event_type, "type": "string",
        "description": f"Send {topic.event_type}. Also accepted: another spelling of it (its words in another case "
                       f"or with other separators, without the telesales prefix or the version, e.g. {topic.name}); "
                       "the spelling used is kept."}
    return schema


def render(topic: Topic) -> str:
    return json.dumps(schema_for(topic), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for topic in ALL_TOPICS:
        path = SCHEMA_DIR / f"{topic.name}.json"
        text = render(topic)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale schemas (run `make schemas`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
